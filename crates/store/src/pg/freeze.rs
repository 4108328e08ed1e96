//! PostgreSQL: the per-actor kill switch. Writes take the audit head lock first, so
//! a freeze and a vote on another replica cannot interleave.

use super::{append, serialize};
use crate::freeze::{check_clear, check_new, freeze_payload, new_id, rejection_payload};
use crate::{Freeze, Frozen, NewFreeze, StoreError};
use postgres::{GenericClient, Row, Transaction};

const COLUMNS: &str =
    "id, actor, reason, incident, frozen_by, frozen_at, expires_at, cleared_by, cleared_at";

pub(super) fn freeze(tx: &mut Transaction, n: &NewFreeze) -> Result<Frozen, StoreError> {
    let now = crate::now();
    check_new(n, now)?;
    // Every request still waiting on people (pending, or approved and cooling off);
    // their row locks are taken first, as a vote takes its request's row before the
    // audit head, so the two wait for each other instead of deadlocking.
    let open: Vec<(String, String)> = tx
        .query(
            "SELECT id, requester FROM requests WHERE outcome = 'review' AND NOT rejected
               AND ((approved_at IS NULL AND expires_at > $1) OR approved_at + delay_seconds > $1)
             ORDER BY created_at, id FOR UPDATE",
            &[&now],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    serialize(tx)?;
    if let Some(f) = active(tx, &n.actor, now)? {
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
        &format!("INSERT INTO freezes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"),
        &[
            &f.id,
            &f.actor,
            &f.reason,
            &f.incident,
            &f.frozen_by,
            &f.frozen_at,
            &f.expires_at,
        ],
    )?;
    let mut rejected = Vec::new();
    for (id, requester) in open.into_iter().filter(|(_, r)| f.covers(r)) {
        let why = f.reason_for(&requester);
        tx.execute("UPDATE requests SET rejected = TRUE WHERE id = $1", &[&id])?;
        tx.execute(
            "INSERT INTO votes (request_id, approver, approve, reason, at) VALUES ($1, $2, FALSE, $3, $4) ON CONFLICT DO NOTHING",
            &[&id, &f.frozen_by, &why, &now],
        )?;
        append(
            tx,
            "rejection",
            &f.frozen_by,
            &id,
            &rejection_payload(&f, &requester),
        )?;
        rejected.push(id);
    }
    append(
        tx,
        "freeze",
        &f.frozen_by,
        &f.actor,
        &freeze_payload(&f, &rejected),
    )?;
    Ok(Frozen {
        freeze: f,
        rejected,
    })
}

pub(super) fn clear(
    tx: &mut Transaction,
    actor: &str,
    by: &str,
) -> Result<Option<Freeze>, StoreError> {
    let now = crate::now();
    serialize(tx)?;
    let Some(mut f) = active(tx, actor, now)? else {
        return Ok(None);
    };
    check_clear(&f, by)?;
    tx.execute(
        "UPDATE freezes SET cleared_by = $2, cleared_at = $3 WHERE id = $1",
        &[&f.id, &by, &now],
    )?;
    f.cleared_by = Some(by.into());
    f.cleared_at = Some(now);
    let payload = serde_json::json!({"transition": "cleared", "id": f.id}).to_string();
    append(tx, "freeze", by, actor, &payload)?;
    Ok(Some(f))
}

pub(super) fn list(c: &mut impl GenericClient, history: bool) -> Result<Vec<Freeze>, StoreError> {
    let rows = if history {
        c.query(
            &format!("SELECT {COLUMNS} FROM freezes ORDER BY frozen_at DESC, id DESC LIMIT 1000"),
            &[],
        )?
    } else {
        c.query(
            &format!(
                "SELECT {COLUMNS} FROM freezes WHERE cleared_at IS NULL AND (expires_at IS NULL OR expires_at > $1) ORDER BY frozen_at, id"
            ),
            &[&crate::now()],
        )?
    };
    Ok(rows.iter().map(row).collect())
}

/// Is a request's requester frozen right now? Read inside a vote's transaction.
pub(super) fn covering(
    c: &mut impl GenericClient,
    requester: &str,
) -> Result<Option<Freeze>, StoreError> {
    let now = crate::now();
    Ok(list(c, false)?
        .into_iter()
        .find(|f| f.active(now) && f.covers(requester)))
}

/// The freezes that may cover an actor (`$1`) by itself or by its kind (`$2`,
/// `kind:*`) in force at `$3`: one probe of the active-freezes index. Prepared once per
/// lookup connection (`lookup.rs`).
pub(super) const COVERING_SQL: &str = "SELECT id, actor, reason, incident, frozen_by, frozen_at, expires_at, cleared_by, cleared_at FROM freezes WHERE actor IN ($1, $2) AND cleared_at IS NULL AND (expires_at IS NULL OR expires_at > $3) ORDER BY frozen_at, id";

fn active(c: &mut impl GenericClient, actor: &str, now: i64) -> Result<Option<Freeze>, StoreError> {
    Ok(c
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM freezes WHERE actor = $1 AND cleared_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
            ),
            &[&actor, &now],
        )?
        .as_ref()
        .map(row))
}

/// Columns: [`COLUMNS`].
pub(super) fn row(r: &Row) -> Freeze {
    Freeze {
        id: r.get(0),
        actor: r.get(1),
        reason: r.get(2),
        incident: r.get(3),
        frozen_by: r.get(4),
        frozen_at: r.get(5),
        expires_at: r.get(6),
        cleared_by: r.get(7),
        cleared_at: r.get(8),
    }
}
