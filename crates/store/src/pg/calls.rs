//! PostgreSQL: approvals bound to content, used once (`parapet proxy aws`). Several
//! proxies and servers share the database: the request's row lock makes one consumer
//! win, the others see it executed.

use super::{append, freeze, load};
use crate::{Request, State, StoreError};
use postgres::{GenericClient, Transaction};

pub(super) fn approved_for(
    c: &mut impl GenericClient,
    requester: &str,
    content_hash: &str,
    now: i64,
) -> Result<Option<Request>, StoreError> {
    let id: Option<String> = c
        .query_opt(
            "SELECT id FROM requests WHERE content_hash = $2 AND outcome = 'review' AND requester = $1
               AND NOT rejected AND executed_at IS NULL AND expires_at > $3
             ORDER BY created_at DESC, n DESC LIMIT 1",
            &[&requester, &content_hash, &now],
        )?
        .map(|r| r.get(0));
    match id {
        Some(id) => load(c, &id, false),
        None => Ok(None),
    }
}

/// Row lock first (as a vote takes it), then the audit head in `append`.
pub(super) fn consume(tx: &mut Transaction, id: &str, by: &str) -> Result<bool, StoreError> {
    let now = crate::now();
    let r = load(tx, id, true)?.ok_or_else(|| StoreError::NotFound(id.into()))?;
    if r.state(now) != State::Approved || now >= r.expires_at {
        return Ok(false);
    }
    if let Some(f) = freeze::covering(tx, &r.requester)? {
        return Err(crate::shared::frozen_execution(&r, &f));
    }
    let n = tx.execute(
        "UPDATE requests SET executed_at = $2, executed_by = $3 WHERE id = $1 AND executed_at IS NULL",
        &[&id, &now, &by],
    )?;
    if n == 1 {
        append(tx, "executed", by, id, &crate::shared::executed_payload(&r))?;
    }
    Ok(n == 1)
}
