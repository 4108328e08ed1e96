use crate::audit::{entry_hash, AuditEntry, GENESIS};
use crate::group::{Job, Writer};
use crate::{
    AuditSnapshot, Freeze, Frozen, Incident, NewFreeze, NewRequest, Request, Role, Store,
    StoreError, StoredPin, TokenInfo, Vote,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};

mod calls;
mod freeze;
mod ops;
mod schema;
mod tokens;

use schema::MIGRATIONS;

const WAL_AUTOCHECKPOINT_PAGES: i64 = 300;

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// A second connection for the lookups `parapet proxy aws` makes on every request
    /// (access keys, freezes, approvals): in WAL mode it reads while the writer
    /// commits, instead of waiting behind a batch's fsync for the main connection.
    reader: Mutex<Connection>,
    /// Decisions go through the group-commit writer.
    writer: Writer,
}

impl SqliteStore {
    /// Open (creating if needed) and migrate.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        // WAL for concurrent readers; FULL sync so an acknowledged commit survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The commit that crosses this many WAL pages copies them into the database
        // file: smaller, more frequent checkpoints keep that stall short. 300 pages
        // held the decide p99 under 5 ms at the same throughput (BENCHMARKS.md);
        // SQLite's default is 1,000.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let conn = Arc::new(Mutex::new(conn));
        let shared = conn.clone();
        // Opened before the migration so a failure to open fails `open`; it reads only
        // after the migration has committed.
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;
        let store = SqliteStore {
            writer: Writer::start("parapet-sqlite-writer", move |batch| {
                write_batch(&mut shared.lock().unwrap_or_else(|p| p.into_inner()), batch)
            }),
            conn,
            reader: Mutex::new(reader),
        };
        store.migrate()?;
        store.read().pragma_update(None, "query_only", true)?;
        Ok(store)
    }

    fn read(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.lock();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
            [],
        )?;
        let v: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.execute_batch(m)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One group-commit batch: every decision and its audit entry in one transaction.
fn write_batch(c: &mut Connection, batch: &[Job]) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO requests (id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        // The audit head is read once and written once per batch; the entries chain
        // in between.
        let mut head = audit_head(&tx)?;
        for j in batch {
            let n = &j.new;
            insert.execute(params![
                j.id,
                j.now,
                n.requester,
                n.kind,
                n.content_hash,
                n.outcome,
                n.approvers_required,
                n.delay_seconds as i64,
                j.now + n.ttl_seconds,
                n.report.get()
            ])?;
            head = append_entry(&tx, head, "decision", &n.requester, &j.id, &j.audit_payload)?;
        }
        set_audit_head(&tx, &head)?;
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    /// Is the database reachable and writable?
    fn ping(&self) -> Result<(), StoreError> {
        self.lock().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        tokens::create(&mut self.lock(), name, role, actor, expires_at, by)
    }

    fn token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        tokens::by_secret(&self.lock(), secret)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        tokens::list(&self.lock())
    }

    fn revoke_token(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        tokens::revoke(&mut self.lock(), id, by)
    }

    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        tokens::touch(&self.lock(), id, at)
    }

    fn create_aws_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        let t = crate::shared::new_aws_token(name, role, actor, expires_at)?;
        let info = tokens::insert(&mut self.lock(), t, by)?;
        let id = info.aws_access_key_id.clone().unwrap_or_default();
        Ok((info, id))
    }

    fn aws_key(&self, access_key_id: &str) -> Result<Option<TokenInfo>, StoreError> {
        tokens::by_aws_key(&self.read(), access_key_id)
    }

    fn create_session(&self, token: &TokenInfo, ttl_seconds: i64) -> Result<String, StoreError> {
        tokens::create_session(&mut self.lock(), token, ttl_seconds)
    }

    fn session(&self, session_id: &str) -> Result<Option<(TokenInfo, i64)>, StoreError> {
        tokens::session(&self.lock(), session_id)
    }

    fn end_session(&self, session_id: &str) -> Result<bool, StoreError> {
        tokens::end_session(&self.lock(), session_id)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn queue_request(&self, n: NewRequest, done: crate::Done) {
        self.writer.queue(n, done);
    }

    fn request(&self, id: &str) -> Result<Option<Request>, StoreError> {
        let c = self.lock();
        load(&c, id)
    }

    /// Approve or reject. Safe under races: one transaction at a time, one vote per
    /// approver (a second click changes nothing), the requester can never vote, and
    /// the vote is bound to the content the approver saw.
    fn vote(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        content_hash: &str,
        reason: Option<&str>,
    ) -> Result<Request, StoreError> {
        let now = crate::now();
        let mut c = self.lock();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = load(&tx, id)?.ok_or_else(|| StoreError::NotFound(id.into()))?;
        if approve {
            if let Some(f) = freeze::covering(&tx, &r.requester)? {
                return Err(crate::shared::frozen_requester(&r, &f));
            }
        }
        if !crate::shared::check(&r, approver, approve, content_hash, now)? {
            return Ok(r); // Counted once.
        }
        tx.execute(
            "INSERT INTO votes (request_id, approver, approve, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, approver, approve, reason, now],
        )?;
        if approve {
            let approvals: u32 = tx.query_row(
                "SELECT COUNT(*) FROM votes WHERE request_id = ?1 AND approve = 1",
                [id],
                |r| r.get(0),
            )?;
            if approvals >= r.approvers_required {
                tx.execute(
                    "UPDATE requests SET approved_at = ?2 WHERE id = ?1 AND approved_at IS NULL",
                    params![id, now],
                )?;
            }
        } else {
            tx.execute("UPDATE requests SET rejected = 1 WHERE id = ?1", [id])?;
        }
        let payload =
            serde_json::json!({"content_hash": content_hash, "reason": reason}).to_string();
        append(
            &tx,
            if approve { "approval" } else { "rejection" },
            approver,
            id,
            &payload,
        )?;
        let r = load(&tx, id)?.ok_or_else(|| StoreError::NotFound(id.into()))?;
        tx.commit()?;
        Ok(r)
    }

    /// Reviews still waiting for approvals, oldest first: the approvers' queue.
    fn pending(&self) -> Result<Vec<Request>, StoreError> {
        let c = self.lock();
        let ids: Vec<String> = {
            let mut st = c.prepare(
                "SELECT id FROM requests WHERE outcome = 'review' AND rejected = 0 AND approved_at IS NULL AND expires_at > ?1 ORDER BY created_at, id LIMIT 500",
            )?;
            let rows = st.query_map([crate::now()], |r| r.get(0))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        ids.iter()
            .filter_map(|id| load(&c, id).transpose())
            .collect()
    }

    fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        audit_entries(&self.lock())
    }

    /// Entries and head under one lock: one connection, so one consistent view.
    fn audit_snapshot(&self) -> Result<AuditSnapshot, StoreError> {
        let c = self.lock();
        let entries = audit_entries(&c)?;
        let head = c
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok((entries, head))
    }

    /// The latest requests, newest first, without their votes.
    fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        let c = self.lock();
        let mut st = c.prepare(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, rowid DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit as i64], request_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn approved_for(
        &self,
        requester: &str,
        content_hash: &str,
        now: i64,
    ) -> Result<Option<Request>, StoreError> {
        calls::approved_for(&self.read(), requester, content_hash, now)
    }

    fn consume(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        calls::consume(&mut self.lock(), id, by)
    }

    fn audit_event(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.lock();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        append(&tx, kind, actor, subject, payload)?;
        tx.commit()?;
        Ok(())
    }

    fn open_incident(
        &self,
        id: &str,
        source: &str,
        title: &str,
        by: &str,
    ) -> Result<Incident, StoreError> {
        ops::open_incident(&mut self.lock(), id, source, title, by)
    }

    fn resolve_incident(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        ops::resolve_incident(&mut self.lock(), id, by)
    }

    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        ops::open_incidents(&self.lock())
    }

    fn first_delivery(&self, source: &str, event_id: &str) -> Result<bool, StoreError> {
        ops::first_delivery(&self.lock(), source, event_id)
    }

    fn add_pin(&self, p: &StoredPin) -> Result<StoredPin, StoreError> {
        ops::add_pin(&mut self.lock(), p)
    }

    fn remove_pin(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        ops::remove_pin(&mut self.lock(), id, by)
    }

    fn pins(&self) -> Result<Vec<StoredPin>, StoreError> {
        ops::pins(&self.lock())
    }

    fn freeze(&self, n: &NewFreeze) -> Result<Frozen, StoreError> {
        freeze::freeze(&mut self.lock(), n)
    }

    fn clear_freeze(&self, actor: &str, by: &str) -> Result<Option<Freeze>, StoreError> {
        freeze::clear(&mut self.lock(), actor, by)
    }

    fn freezes(&self, history: bool) -> Result<Vec<Freeze>, StoreError> {
        freeze::list(&self.lock(), history)
    }

    fn freeze_covering(&self, actor: &str, now: i64) -> Result<Option<Freeze>, StoreError> {
        freeze::covering_at(&self.read(), actor, now)
    }

    fn try_freeze_covering_now(
        &self,
        actor: &str,
        now: i64,
    ) -> Option<Result<Option<Freeze>, StoreError>> {
        // WAL: a reader never waits for a writer; only another read on this connection
        // (a long listing) could make it wait, and then the caller goes off thread.
        let reader = self.reader.try_lock().ok()?;
        Some(freeze::covering_at(&reader, actor, now))
    }
}

fn audit_entries(c: &Connection) -> Result<Vec<AuditEntry>, StoreError> {
    let mut st = c.prepare(
        "SELECT seq, at, kind, actor, subject, payload, prev_hash, hash FROM audit ORDER BY rowid",
    )?;
    let rows = st.query_map([], |r| {
        Ok(AuditEntry {
            seq: r.get(0)?,
            at: r.get(1)?,
            kind: r.get(2)?,
            actor: r.get(3)?,
            subject: r.get(4)?,
            payload: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Append an audit entry inside the caller's transaction.
pub(super) fn append(
    tx: &rusqlite::Transaction,
    kind: &str,
    actor: &str,
    subject: &str,
    payload: &str,
) -> Result<(), StoreError> {
    let head = audit_head(tx)?;
    let head = append_entry(tx, head, kind, actor, subject, payload)?;
    set_audit_head(tx, &head)
}

/// The chain's last (seq, hash), or the genesis.
pub(super) fn audit_head(tx: &rusqlite::Transaction) -> Result<(i64, String), StoreError> {
    let head: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(head.unwrap_or((0, GENESIS.to_string())))
}

/// Insert one entry after `prev`; returns the new head. The head record is written
/// separately ([`set_audit_head`]), once per transaction.
pub(super) fn append_entry(
    tx: &rusqlite::Transaction,
    prev: (i64, String),
    kind: &str,
    actor: &str,
    subject: &str,
    payload: &str,
) -> Result<(i64, String), StoreError> {
    let (prev_seq, prev_hash) = prev;
    let seq = prev_seq + 1;
    let at = crate::now();
    let hash = entry_hash(seq, at, kind, actor, subject, payload, &prev_hash);
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, kind, actor, subject, payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![seq, at, kind, actor, subject, payload, prev_hash, hash])?;
    Ok((seq, hash))
}

pub(super) fn set_audit_head(
    tx: &rusqlite::Transaction,
    head: &(i64, String),
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![head.0, head.1])?;
    Ok(())
}

const REQUEST_COLUMNS: &str = "id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, approved_at, rejected, report, executed_at, executed_by";

/// Columns: [`REQUEST_COLUMNS`].
fn request_row(r: &rusqlite::Row) -> rusqlite::Result<Request> {
    Ok(Request {
        id: r.get(0)?,
        created_at: r.get(1)?,
        requester: r.get(2)?,
        kind: r.get(3)?,
        content_hash: r.get(4)?,
        outcome: r.get(5)?,
        approvers_required: r.get(6)?,
        delay_seconds: r.get::<_, i64>(7)? as u64,
        expires_at: r.get(8)?,
        approved_at: r.get(9)?,
        rejected: r.get(10)?,
        executed_at: r.get(12)?,
        executed_by: r.get(13)?,
        votes: Vec::new(),
        report: crate::shared::report_json(r.get::<_, String>(11)?),
    })
}

pub(super) fn load(c: &Connection, id: &str) -> Result<Option<Request>, StoreError> {
    let row = c
        .query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
            [id],
            request_row,
        )
        .optional()?;
    let Some(mut req) = row else { return Ok(None) };
    let mut st = c.prepare("SELECT approver, approve, at, reason FROM votes WHERE request_id = ?1 ORDER BY at, approver")?;
    req.votes = st
        .query_map([id], |r| {
            Ok(Vote {
                approver: r.get(0)?,
                approve: r.get(1)?,
                at: r.get(2)?,
                reason: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(req))
}
