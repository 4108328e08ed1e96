//! Group commit for decisions: concurrent `queue_request` calls are written by one
//! thread in one transaction (one fsync, one audit-head lock for the batch), and each
//! caller is answered only after that transaction is durable. Under load this turns N
//! commits into one without acknowledging anything early. The backends give the loop
//! their `write`.

use crate::hash::new_secret;
use crate::{NewRequest, StoreError};
use std::sync::mpsc::{self, Receiver, Sender};

/// Most decisions in one transaction.
const MAX_BATCH: usize = 512;

/// One decision waiting for the writer. Its text is serialised by the caller, so the
/// writer thread does nothing under the lock but SQL.
pub(crate) struct Job {
    pub id: String,
    pub now: i64,
    pub audit_payload: String,
    pub new: NewRequest,
    reply: crate::Done,
}

/// `dec_` + milliseconds since the epoch (12 hex digits) + 64 random bits. Ids in time
/// order append to the primary-key index instead of touching a random page of it per
/// decision, which had most of each batch's WAL volume. Still unguessable.
fn decision_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("dec_{:012x}{}", ms & 0xffff_ffff_ffff, &new_secret()[..16])
}

impl Job {
    /// `reply` runs on the writer thread once the decision is durable (or failed).
    pub fn new(new: NewRequest, reply: crate::Done) -> Job {
        Job {
            id: decision_id(),
            now: crate::now(),
            audit_payload: crate::shared::decision_payload(&new),
            new,
            reply,
        }
    }

    /// Answer without writing (the writer is gone).
    pub fn fail(self, e: StoreError) {
        (self.reply)(Err(e));
    }
}

/// The sending half; `queue` answers `done` itself when the writer is gone.
pub(crate) struct Writer {
    tx: Sender<Job>,
    name: &'static str,
}

impl Writer {
    /// Start the writer thread; `write` commits one batch or fails it whole.
    pub fn start(
        name: &'static str,
        mut write: impl FnMut(&[Job]) -> Result<(), StoreError> + Send + 'static,
    ) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(rx, &mut write))
            .expect("spawn the decision writer thread");
        Writer { tx, name }
    }

    pub fn queue(&self, n: NewRequest, done: crate::Done) {
        if let Err(mpsc::SendError(job)) = self.tx.send(Job::new(n, done)) {
            job.fail(StoreError::Db(format!("the {} thread is gone", self.name)));
        }
    }
}

fn run(rx: Receiver<Job>, write: &mut dyn FnMut(&[Job]) -> Result<(), StoreError>) {
    // Ends when the store (the only sender) is dropped.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let written = write(&batch);
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
