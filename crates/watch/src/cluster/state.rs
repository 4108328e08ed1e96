//! A partition's detector state in JetStream key-value, fenced by revision.
//!
//! The state is the detector's checkpoint, gzip-compressed and cut into chunks (a
//! value is bounded by the server's max_payload). A head key names the chunks' unique
//! generation and the last stream sequence the state covers; it is written last and
//! only over the revision its writer last saw, so a worker that lost its partition
//! (a stale lease, a pause) cannot overwrite the new owner's state: its write fails
//! and it drops the partition without acknowledging anything.

use super::ClusterError;
use async_nats::jetstream::kv::{Operation, Store};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use parapet_detect::Detector;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

/// Chunk size: under the default 1 MiB max_payload with room for headers.
const CHUNK: usize = 512 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    /// Unique per write: chunks of a write that lost the race are never read.
    gen: String,
    chunks: usize,
    /// The last partition-stream sequence the state covers (0: none).
    last_seq: u64,
}

/// A partition's state as read: the detector checkpoint bytes and its head revision.
pub struct Loaded {
    pub checkpoint: Option<Vec<u8>>,
    pub last_seq: u64,
    /// The head revision to write over next (0: no head yet).
    pub revision: u64,
}

fn head_key(p: u32) -> String {
    format!("p{p}")
}

fn chunk_key(p: u32, gen: &str, i: usize) -> String {
    format!("p{p}.{gen}.{i}")
}

fn kv_err(what: String) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> ClusterError {
    move |source| ClusterError::Kv { what, source }
}

/// Read partition `p`'s state.
pub async fn load(kv: &Store, p: u32) -> Result<Loaded, ClusterError> {
    let head = kv
        .entry(head_key(p))
        .await
        .map_err(|e| kv_err(format!("reading state of partition {p}"))(e.into()))?;
    let Some(head) = head.filter(|e| e.operation == Operation::Put) else {
        return Ok(Loaded {
            checkpoint: None,
            last_seq: 0,
            revision: 0,
        });
    };
    let h: Head = serde_json::from_slice(&head.value).map_err(|e| ClusterError::State {
        partition: p,
        reason: format!("head is not a state head: {e}"),
    })?;
    let mut gz = Vec::new();
    for i in 0..h.chunks {
        let key = chunk_key(p, &h.gen, i);
        let c = kv
            .get(&key)
            .await
            .map_err(|e| kv_err(format!("reading {key}"))(e.into()))?
            .ok_or_else(|| ClusterError::State {
                partition: p,
                reason: format!("chunk {key} is missing"),
            })?;
        gz.extend_from_slice(&c);
    }
    let mut checkpoint = Vec::new();
    GzDecoder::new(&gz[..])
        .read_to_end(&mut checkpoint)
        .map_err(|e| ClusterError::State {
            partition: p,
            reason: format!("state is not gzip: {e}"),
        })?;
    Ok(Loaded {
        checkpoint: Some(checkpoint),
        last_seq: h.last_seq,
        revision: head.revision,
    })
}

/// What [`save`] found.
pub enum Saved {
    /// Written; the new head revision.
    Ok(u64),
    /// Someone else wrote the head since `revision`: the partition is theirs.
    Lost,
}

/// Write `checkpoint` (a detector checkpoint) covering up to `last_seq` over head
/// revision `revision` (0: the head must not exist yet).
pub async fn save(
    kv: &Store,
    p: u32,
    checkpoint: &[u8],
    last_seq: u64,
    revision: u64,
) -> Result<Saved, ClusterError> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(checkpoint)
        .and_then(|()| enc.flush())
        .map_err(|e| ClusterError::State {
            partition: p,
            reason: format!("compressing: {e}"),
        })?;
    let gz = enc.finish().map_err(|e| ClusterError::State {
        partition: p,
        reason: format!("compressing: {e}"),
    })?;
    let gen = nuid();
    let chunks: Vec<&[u8]> = gz.chunks(CHUNK).collect();
    for (i, c) in chunks.iter().enumerate() {
        let key = chunk_key(p, &gen, i);
        kv.put(&key, bytes::Bytes::copy_from_slice(c))
            .await
            .map_err(|e| kv_err(format!("writing {key}"))(e.into()))?;
    }
    let head = serde_json::to_vec(&Head {
        gen: gen.clone(),
        chunks: chunks.len(),
        last_seq,
    })
    .map_err(|e| ClusterError::State {
        partition: p,
        reason: e.to_string(),
    })?;
    let old = if revision > 0 {
        kv.entry(head_key(p))
            .await
            .ok()
            .flatten()
            .and_then(|e| serde_json::from_slice::<Head>(&e.value).ok())
    } else {
        None
    };
    let written = if revision == 0 {
        kv.create(head_key(p), head.into()).await.map_err(|e| {
            (e.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists)
                .then_some(())
                .ok_or_else(|| kv_err(format!("writing state of partition {p}"))(e.into()))
        })
    } else {
        kv.update(head_key(p), head.into(), revision)
            .await
            .map_err(|e| {
                (e.kind() == async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision)
                    .then_some(())
                    .ok_or_else(|| kv_err(format!("writing state of partition {p}"))(e.into()))
            })
    };
    match written {
        Ok(rev) => {
            // The previous generation is unreachable now: remove it (best effort; a
            // leftover only takes space until the next save of the partition).
            if let Some(old) = old.filter(|o| o.gen != gen) {
                for i in 0..old.chunks {
                    let _ = kv.purge(chunk_key(p, &old.gen, i)).await;
                }
            }
            Ok(Saved::Ok(rev))
        }
        Err(Ok(())) => {
            for i in 0..chunks.len() {
                let _ = kv.purge(chunk_key(p, &gen, i)).await;
            }
            Ok(Saved::Lost)
        }
        Err(Err(e)) => Err(e),
    }
}

/// A detector's checkpoint as bytes (through a file: the detector saves to paths).
pub fn checkpoint_bytes(det: &Detector, dir: &Path, p: u32) -> Result<Vec<u8>, ClusterError> {
    let path = dir.join(format!("p{p}.json"));
    det.save(&path)?;
    std::fs::read(&path).map_err(|source| ClusterError::Io {
        what: path.display().to_string(),
        source,
    })
}

/// Restore `det` from checkpoint bytes.
pub fn restore(det: &mut Detector, dir: &Path, p: u32, bytes: &[u8]) -> Result<(), ClusterError> {
    let path = dir.join(format!("p{p}.restore.json"));
    std::fs::write(&path, bytes).map_err(|source| ClusterError::Io {
        what: path.display().to_string(),
        source,
    })?;
    det.restore(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// A unique token for keys: time and randomness, key-safe.
pub fn nuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(now);
    h.write_u32(std::process::id());
    format!("{:x}{:016x}", now & 0xffff_ffff, h.finish())
}
