//! SQLite: approvals bound to content, used once (`parapet proxy aws`).

use super::{append, freeze, load};
use crate::{Request, State, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub(super) fn approved_for(
    c: &Connection,
    requester: &str,
    content_hash: &str,
    now: i64,
) -> Result<Option<Request>, StoreError> {
    let id: Option<String> = c
        .prepare_cached(
            "SELECT id FROM requests WHERE content_hash = ?2 AND outcome = 'review' AND requester = ?1
               AND rejected = 0 AND executed_at IS NULL AND expires_at > ?3
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )?
        .query_row(params![requester, content_hash, now], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => load(c, &id),
        None => Ok(None),
    }
}

/// One transaction: read, check, mark executed, audit. SQLite runs one write
/// transaction at a time, so two consumers cannot both see it unexecuted.
pub(super) fn consume(c: &mut Connection, id: &str, by: &str) -> Result<bool, StoreError> {
    let now = crate::now();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let r = load(&tx, id)?.ok_or_else(|| StoreError::NotFound(id.into()))?;
    if r.state(now) != State::Approved || now >= r.expires_at {
        return Ok(false);
    }
    if let Some(f) = freeze::covering(&tx, &r.requester)? {
        return Err(crate::shared::frozen_execution(&r, &f));
    }
    let n = tx.execute(
        "UPDATE requests SET executed_at = ?2, executed_by = ?3 WHERE id = ?1 AND executed_at IS NULL",
        params![id, now, by],
    )?;
    if n == 1 {
        append(
            &tx,
            "executed",
            by,
            id,
            &crate::shared::executed_payload(&r),
        )?;
    }
    tx.commit()?;
    Ok(n == 1)
}
