//! Group commit for SQLite decisions: concurrent `create_request` calls are written by
//! one thread in one transaction (one fsync for the batch), and each caller is answered
//! only after that transaction is durable. Under load this turns N fsyncs into one
//! without acknowledging anything early.

use super::{append_entry, audit_head, set_audit_head};
use crate::hash::new_secret;
use crate::{NewRequest, StoreError};
use rusqlite::{params, Connection, TransactionBehavior};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// Most decisions in one transaction.
const MAX_BATCH: usize = 512;

/// One decision waiting for the writer. Its text is serialised by the caller, so the
/// writer thread does nothing under the lock but SQL.
pub(super) struct Job {
    id: String,
    now: i64,
    report: String,
    audit_payload: String,
    new: NewRequest,
    reply: crate::Done,
}

impl Job {
    /// `reply` runs on the writer thread once the decision is durable (or failed).
    pub(super) fn new(new: NewRequest, reply: crate::Done) -> Job {
        Job {
            id: format!("dec_{}", &new_secret()[..24]),
            now: crate::now(),
            report: new.report.to_string(),
            audit_payload: crate::shared::decision_payload(&new),
            new,
            reply,
        }
    }

    /// Answer without writing (the writer is gone).
    pub(super) fn fail(self, e: StoreError) {
        (self.reply)(Err(e));
    }
}

pub(super) fn start(conn: Arc<Mutex<Connection>>) -> Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("parapet-sqlite-writer".into())
        .spawn(move || run(conn, rx))
        .expect("spawn the SQLite writer thread");
    tx
}

fn run(conn: Arc<Mutex<Connection>>, rx: Receiver<Job>) {
    // Ends when the store (the only sender) is dropped.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let written = write(&mut conn.lock().unwrap_or_else(|p| p.into_inner()), &batch);
        for j in batch {
            let answer = match &written {
                Ok(()) => Ok(j.new.into_request(j.id, j.now)),
                // The batch rolled back: nobody is acknowledged, everyone fails closed.
                Err(e) => Err(StoreError::Db(e.to_string())),
            };
            (j.reply)(answer);
        }
    }
}

fn write(c: &mut Connection, batch: &[Job]) -> Result<(), StoreError> {
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
                j.report
            ])?;
            head = append_entry(&tx, head, "decision", &n.requester, &j.id, &j.audit_payload)?;
        }
        set_audit_head(&tx, &head)?;
    }
    tx.commit()?;
    Ok(())
}
