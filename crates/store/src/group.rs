//! Group commit for SQLite decisions: concurrent `create_request` calls are written by
//! one thread in one transaction (one fsync for the batch), and each caller is answered
//! only after that transaction is durable. Under load this turns N fsyncs into one
//! without acknowledging anything early.

use crate::sqlite::append;
use crate::{NewRequest, Request, StoreError};
use rusqlite::{params, Connection, TransactionBehavior};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

/// Most decisions in one transaction.
const MAX_BATCH: usize = 512;

pub(crate) struct Job {
    pub new: NewRequest,
    pub id: String,
    pub now: i64,
    pub reply: SyncSender<Result<Request, StoreError>>,
}

pub(crate) fn start(conn: Arc<Mutex<Connection>>) -> Sender<Job> {
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
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        match write(&mut c, &batch) {
            Ok(()) => {
                for j in batch {
                    let r = request_of(&j.new, &j.id, j.now);
                    let _ = j.reply.send(Ok(r));
                }
            }
            // The batch rolled back: nobody is acknowledged, everyone fails closed.
            Err(e) => {
                for j in batch {
                    let _ = j.reply.send(Err(StoreError::Db(e.to_string())));
                }
            }
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
                n.report.to_string()
            ])?;
            append(
                &tx,
                "decision",
                &n.requester,
                &j.id,
                &crate::vote::decision_payload(n),
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The stored request, as the rows just written say (no read back needed).
pub(crate) fn request_of(n: &NewRequest, id: &str, now: i64) -> Request {
    Request {
        id: id.to_string(),
        created_at: now,
        requester: n.requester.clone(),
        kind: n.kind.clone(),
        content_hash: n.content_hash.clone(),
        outcome: n.outcome.clone(),
        approvers_required: n.approvers_required,
        delay_seconds: n.delay_seconds,
        expires_at: now + n.ttl_seconds,
        approved_at: None,
        rejected: false,
        votes: Vec::new(),
        report: n.report.clone(),
    }
}
