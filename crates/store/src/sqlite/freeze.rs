//! SQLite: the per-actor kill switch.

use super::append;
use crate::freeze::{check_clear, check_new, freeze_payload, new_id, rejection_payload};
use crate::{Freeze, Frozen, NewFreeze, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const COLUMNS: &str =
    "id, actor, reason, incident, frozen_by, frozen_at, expires_at, cleared_by, cleared_at";

/// Freeze an actor and reject its pending and cooling-off requests, in one transaction.
pub(super) fn freeze(c: &mut Connection, n: &NewFreeze) -> Result<Frozen, StoreError> {
    let now = crate::now();
    check_new(n, now)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(f) = active(&tx, &n.actor, now)? {
        return Err(StoreError::Conflict(format!(
            "{} is already frozen by {} since {} ({}); clear it first to change it",
            f.actor,
            f.frozen_by,
            crate::rfc3339(f.frozen_at),
            f.id
        )));
    }
    let f = Freeze {
        id: new_id(),
        actor: n.actor.clone(),
        reason: n.reason.clone(),
        incident: n.incident.clone(),
        frozen_by: n.by.clone(),
        frozen_at: now,
        expires_at: n.expires_at,
        cleared_by: None,
        cleared_at: None,
    };
    tx.execute(
        &format!("INSERT INTO freezes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL)"),
        params![
            f.id,
            f.actor,
            f.reason,
            f.incident,
            f.frozen_by,
            f.frozen_at,
            f.expires_at
        ],
    )?;
    // Every request still waiting on people (pending, or approved and cooling off).
    let open: Vec<(String, String)> = {
        let mut st = tx.prepare(
            "SELECT id, requester FROM requests WHERE outcome = 'review' AND rejected = 0
               AND ((approved_at IS NULL AND expires_at > ?1) OR approved_at + delay_seconds > ?1)
             ORDER BY created_at, id",
        )?;
        let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let mut rejected = Vec::new();
    for (id, requester) in open.into_iter().filter(|(_, r)| f.covers(r)) {
        let why = f.reason_for(&requester);
        tx.execute("UPDATE requests SET rejected = 1 WHERE id = ?1", [&id])?;
        tx.execute(
            "INSERT OR IGNORE INTO votes (request_id, approver, approve, reason, at) VALUES (?1, ?2, 0, ?3, ?4)",
            params![id, f.frozen_by, why, now],
        )?;
        append(
            &tx,
            "rejection",
            &f.frozen_by,
            &id,
            &rejection_payload(&f, &requester),
        )?;
        rejected.push(id);
    }
    append(
        &tx,
        "freeze",
        &f.frozen_by,
        &f.actor,
        &freeze_payload(&f, &rejected),
    )?;
    tx.commit()?;
    Ok(Frozen {
        freeze: f,
        rejected,
    })
}

/// Clear the active freeze of exactly `actor`; `None` if there is none.
pub(super) fn clear(
    c: &mut Connection,
    actor: &str,
    by: &str,
) -> Result<Option<Freeze>, StoreError> {
    let now = crate::now();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(mut f) = active(&tx, actor, now)? else {
        return Ok(None);
    };
    check_clear(&f, by)?;
    tx.execute(
        "UPDATE freezes SET cleared_by = ?2, cleared_at = ?3 WHERE id = ?1",
        params![f.id, by, now],
    )?;
    f.cleared_by = Some(by.into());
    f.cleared_at = Some(now);
    let payload = serde_json::json!({"transition": "cleared", "id": f.id}).to_string();
    append(&tx, "freeze", by, actor, &payload)?;
    tx.commit()?;
    Ok(Some(f))
}

/// Freezes in force now (oldest first), or every freeze ever (newest first).
pub(super) fn list(c: &Connection, history: bool) -> Result<Vec<Freeze>, StoreError> {
    let sql = if history {
        format!("SELECT {COLUMNS} FROM freezes ORDER BY frozen_at DESC, rowid DESC LIMIT 1000")
    } else {
        format!(
            "SELECT {COLUMNS} FROM freezes WHERE cleared_at IS NULL AND (expires_at IS NULL OR expires_at > ?1) ORDER BY frozen_at, rowid"
        )
    };
    let mut st = c.prepare(&sql)?;
    let rows = if history {
        st.query_map([], row)?.collect::<Result<Vec<_>, _>>()?
    } else {
        st.query_map([crate::now()], row)?
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(rows)
}

/// Is a request's requester frozen right now? Read inside a vote's transaction.
pub(super) fn covering(c: &Connection, requester: &str) -> Result<Option<Freeze>, StoreError> {
    let now = crate::now();
    Ok(list(c, false)?
        .into_iter()
        .find(|f| f.active(now) && f.covers(requester)))
}

/// The freeze in force at `now` covering `actor`: its exact freeze or its kind's, one
/// probe of the active-freezes index.
pub(super) fn covering_at(
    c: &Connection,
    actor: &str,
    now: i64,
) -> Result<Option<Freeze>, StoreError> {
    let kind = crate::freeze::kind_pattern(actor);
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM freezes WHERE actor IN (?1, ?2) AND cleared_at IS NULL AND (expires_at IS NULL OR expires_at > ?3) ORDER BY frozen_at, rowid"
    ))?;
    let rows = st.query_map(params![actor, kind, now], row)?;
    for f in rows {
        let f = f?;
        if f.active(now) && f.covers(actor) {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

fn active(c: &Connection, actor: &str, now: i64) -> Result<Option<Freeze>, StoreError> {
    Ok(c
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM freezes WHERE actor = ?1 AND cleared_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)"
            ),
            params![actor, now],
            row,
        )
        .optional()?)
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Freeze> {
    Ok(Freeze {
        id: r.get(0)?,
        actor: r.get(1)?,
        reason: r.get(2)?,
        incident: r.get(3)?,
        frozen_by: r.get(4)?,
        frozen_at: r.get(5)?,
        expires_at: r.get(6)?,
        cleared_by: r.get(7)?,
        cleared_at: r.get(8)?,
    })
}
