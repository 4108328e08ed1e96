//! Who works on which partition: leases in a JetStream key-value bucket whose entries
//! expire after the lease time unless renewed.
//!
//! `part.<n>` holds the owner's worker id; it is taken with a create (only when free)
//! and renewed with an update over its last revision, so two workers never both renew
//! one lease. `worker.<id>` is each worker's heartbeat: the live workers set each
//! one's fair share (partitions / live workers, rounded up).

use super::ClusterError;
use async_nats::jetstream::kv::{CreateErrorKind, Operation, Store, UpdateErrorKind};
use futures_util::StreamExt;

pub fn part_key(p: u32) -> String {
    format!("part.{p}")
}

fn err(what: String) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> ClusterError {
    move |source| ClusterError::Kv { what, source }
}

/// Take partition `p`'s lease if it is free; its revision when taken.
pub async fn take(kv: &Store, p: u32, worker: &str) -> Result<Option<u64>, ClusterError> {
    match kv
        .create(
            part_key(p),
            bytes::Bytes::copy_from_slice(worker.as_bytes()),
        )
        .await
    {
        Ok(rev) => Ok(Some(rev)),
        Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(err(format!("taking lease of partition {p}"))(e.into())),
    }
}

/// Renew a held lease; None when it was lost (expired and taken, or deleted).
pub async fn renew(
    kv: &Store,
    p: u32,
    worker: &str,
    revision: u64,
) -> Result<Option<u64>, ClusterError> {
    match kv
        .update(
            part_key(p),
            bytes::Bytes::copy_from_slice(worker.as_bytes()),
            revision,
        )
        .await
    {
        Ok(rev) => Ok(Some(rev)),
        Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
        Err(e) => Err(err(format!("renewing lease of partition {p}"))(e.into())),
    }
}

/// Give a lease back so another worker can take it at once.
pub async fn release(kv: &Store, p: u32, revision: u64) {
    // Best effort: an unreleased lease expires by itself.
    let _ = kv.purge_expect_revision(part_key(p), Some(revision)).await;
}

/// Say this worker is alive.
pub async fn heartbeat(kv: &Store, worker: &str) -> Result<(), ClusterError> {
    kv.put(format!("worker.{worker}"), bytes::Bytes::new())
        .await
        .map(|_| ())
        .map_err(|e| err("worker heartbeat".into())(e.into()))
}

/// Forget this worker (it is leaving).
pub async fn leave(kv: &Store, worker: &str) {
    let _ = kv.purge(format!("worker.{worker}")).await;
}

/// How many workers are alive (this one included).
pub async fn live_workers(kv: &Store) -> Result<usize, ClusterError> {
    let mut keys = kv
        .keys()
        .await
        .map_err(|e| err("listing workers".into())(e.into()))?;
    // Distinct: the listing is a watch, and a heartbeat written while it runs shows
    // its key again (counted twice, a worker's fair share halves and it gives work
    // back for nothing).
    let mut live = std::collections::BTreeSet::new();
    while let Some(k) = keys.next().await {
        let k = k.map_err(|e| err("listing workers".into())(e.into()))?;
        if k.starts_with("worker.") {
            live.insert(k);
        }
    }
    Ok(live.len().max(1))
}

/// Partition count agreed by every worker of the cluster: the first sets it; a worker
/// started with another count is refused (its routing would disagree).
pub async fn agree_partitions(kv: &Store, partitions: u32) -> Result<(), ClusterError> {
    let key = "config.partitions";
    let value = partitions.to_string();
    loop {
        if let Some(e) = kv
            .entry(key)
            .await
            .map_err(|e| err("reading partition count".into())(e.into()))?
            .filter(|e| e.operation == Operation::Put)
        {
            let theirs = String::from_utf8_lossy(&e.value).to_string();
            return if theirs == value {
                Ok(())
            } else {
                Err(ClusterError::Partitions {
                    ours: partitions,
                    theirs,
                })
            };
        }
        match kv.create(key, value.clone().into()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err("writing partition count".into())(e.into())),
        }
    }
}
