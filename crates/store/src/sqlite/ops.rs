//! SQLite: incidents, pins and webhook replay protection.

use super::append;
use crate::{Incident, StoreError, StoredPin};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Open an incident. Opening one that is already open changes nothing.
pub(super) fn open_incident(
    c: &mut Connection,
    id: &str,
    source: &str,
    title: &str,
    by: &str,
) -> Result<Incident, StoreError> {
    let now = crate::now();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<i64> = tx
        .query_row(
            "SELECT opened_at FROM incidents WHERE id = ?1 AND resolved_at IS NULL",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if existing.is_none() {
        tx.execute(
            "INSERT INTO incidents (id, source, title, opened_at, opened_by) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, opened_at = excluded.opened_at, opened_by = excluded.opened_by, resolved_at = NULL, resolved_by = NULL",
            params![id, source, title, now, by],
        )?;
        append(
            &tx,
            "incident",
            by,
            id,
            &serde_json::json!({"transition": "opened", "source": source, "title": title})
                .to_string(),
        )?;
    }
    let inc = tx.query_row(
        "SELECT id, source, title, opened_at, opened_by FROM incidents WHERE id = ?1",
        [id],
        incident_row,
    )?;
    tx.commit()?;
    Ok(inc)
}

/// Resolve an open incident; `false` if it was not open.
pub(super) fn resolve_incident(c: &mut Connection, id: &str, by: &str) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE incidents SET resolved_at = ?2, resolved_by = ?3 WHERE id = ?1 AND resolved_at IS NULL",
        params![id, crate::now(), by],
    )?;
    if n > 0 {
        append(
            &tx,
            "incident",
            by,
            id,
            &serde_json::json!({"transition": "resolved"}).to_string(),
        )?;
    }
    tx.commit()?;
    Ok(n > 0)
}

pub(super) fn open_incidents(c: &Connection) -> Result<Vec<Incident>, StoreError> {
    let mut st = c.prepare("SELECT id, source, title, opened_at, opened_by FROM incidents WHERE resolved_at IS NULL ORDER BY opened_at, id")?;
    let rows = st.query_map([], incident_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Record a webhook delivery; `false` if this (source, event id) was seen before:
/// a replay.
pub(super) fn first_delivery(
    c: &Connection,
    source: &str,
    event_id: &str,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "INSERT OR IGNORE INTO webhook_events (source, event_id, received_at) VALUES (?1, ?2, ?3)",
        params![source, event_id, crate::now()],
    )?;
    Ok(n == 1)
}

pub(super) fn add_pin(c: &mut Connection, p: &StoredPin) -> Result<StoredPin, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let taken: Option<String> = tx
        .query_row(
            "SELECT id FROM pins WHERE id = ?1 AND removed_at IS NULL",
            [&p.id],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "pin {} already exists; remove it first",
            p.id
        )));
    }
    tx.execute(
        "INSERT INTO pins (id, resource, attribute, value, mode, reason, incident, expires, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET resource = excluded.resource, attribute = excluded.attribute, value = excluded.value,
           mode = excluded.mode, reason = excluded.reason, incident = excluded.incident, expires = excluded.expires,
           created_by = excluded.created_by, created_at = excluded.created_at, removed_at = NULL",
        params![p.id, p.resource, p.attribute, p.value, p.mode, p.reason, p.incident, p.expires, p.created_by, p.created_at],
    )?;
    append(
        &tx,
        "pin",
        &p.created_by,
        &p.id,
        &serde_json::to_string(p).expect("pin serialises"),
    )?;
    tx.commit()?;
    Ok(p.clone())
}

pub(super) fn remove_pin(c: &mut Connection, id: &str, by: &str) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE pins SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
        params![id, crate::now()],
    )?;
    if n > 0 {
        append(
            &tx,
            "pin",
            by,
            id,
            &serde_json::json!({"transition": "removed"}).to_string(),
        )?;
    }
    tx.commit()?;
    Ok(n > 0)
}

/// Pins not removed (expiry is judged by the analysis, which names expired pins).
pub(super) fn pins(c: &Connection) -> Result<Vec<StoredPin>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, resource, attribute, value, mode, reason, incident, expires, created_by, created_at FROM pins WHERE removed_at IS NULL ORDER BY created_at, id",
    )?;
    let rows = st.query_map([], pin_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Columns: id, source, title, opened_at, opened_by.
fn incident_row(r: &rusqlite::Row) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        source: r.get(1)?,
        title: r.get(2)?,
        opened_at: r.get(3)?,
        opened_by: r.get(4)?,
    })
}

/// Columns: id, resource, attribute, value, mode, reason, incident, expires, created_by, created_at.
fn pin_row(r: &rusqlite::Row) -> rusqlite::Result<StoredPin> {
    Ok(StoredPin {
        id: r.get(0)?,
        resource: r.get(1)?,
        attribute: r.get(2)?,
        value: r.get(3)?,
        mode: r.get(4)?,
        reason: r.get(5)?,
        incident: r.get(6)?,
        expires: r.get(7)?,
        created_by: r.get(8)?,
        created_at: r.get(9)?,
    })
}
