//! The audit log: each entry carries the previous entry's hash, so editing, removing or
//! reordering any entry breaks the chain at a place `verify_chain` names.

use crate::hash::hex_sha256;
use serde::Serialize;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    /// `decision`, `approval`, `rejection`, `token`, `incident`, `pin`, `config`.
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry's content and its predecessor's hash. Fields are length-
/// prefixed so no two different entries can serialise the same.
pub fn entry_hash(
    seq: i64,
    at: i64,
    kind: &str,
    actor: &str,
    subject: &str,
    payload: &str,
    prev: &str,
) -> String {
    let mut buf = Vec::with_capacity(payload.len() + 256);
    for f in [
        &seq.to_string(),
        &at.to_string(),
        kind,
        actor,
        subject,
        payload,
        prev,
    ] {
        buf.extend((f.len() as u64).to_be_bytes());
        buf.extend(f.as_bytes());
    }
    hex_sha256(&buf)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    /// The first entry where the chain breaks.
    pub seq: i64,
    pub what: String,
}

/// Check entries in stored order. `None`: intact.
pub fn verify_chain(entries: &[AuditEntry]) -> Option<ChainProblem> {
    let mut prev = GENESIS.to_string();
    for (expected_seq, e) in (1i64..).zip(entries) {
        if e.seq != expected_seq {
            let what = if e.seq > expected_seq {
                format!(
                    "entries {expected_seq}..{} are missing (removed)",
                    e.seq - 1
                )
            } else {
                format!(
                    "entry {} appears out of order (reordered or duplicated)",
                    e.seq
                )
            };
            return Some(ChainProblem { seq: e.seq, what });
        }
        if e.prev_hash != prev {
            return Some(ChainProblem {
                seq: e.seq,
                what: "does not follow the entry before it (an entry was removed, inserted or reordered)".into(),
            });
        }
        let h = entry_hash(
            e.seq,
            e.at,
            &e.kind,
            &e.actor,
            &e.subject,
            &e.payload,
            &e.prev_hash,
        );
        if h != e.hash {
            return Some(ChainProblem {
                seq: e.seq,
                what: "its content does not match its hash (edited)".into(),
            });
        }
        prev = e.hash.clone();
    }
    None
}

/// [`verify_chain`], then check the chain ends where the head record (written with
/// every append) says: removing entries from the end shows only there.
pub fn verify_with_head(
    entries: &[AuditEntry],
    head: Option<(i64, String)>,
) -> Option<ChainProblem> {
    if let Some(p) = verify_chain(entries) {
        return Some(p);
    }
    let last = entries.last().map(|e| (e.seq, e.hash.clone()));
    if head == last {
        return None;
    }
    let seq = head.as_ref().map_or(0, |h| h.0);
    Some(ChainProblem {
        seq,
        what: format!(
            "the log ends at entry {} but the head record says {seq}: entries were removed from the end, or the head was edited",
            last.map_or(0, |l| l.0)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let payload = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(
                    seq,
                    100 + seq,
                    "decision",
                    "agent:a",
                    "req",
                    &payload,
                    &prev,
                );
                let e = AuditEntry {
                    seq,
                    at: 100 + seq,
                    kind: "decision".into(),
                    actor: "agent:a".into(),
                    subject: "req".into(),
                    payload,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn detects_edits_removals_and_reorders() {
        let good = chain(5);
        assert_eq!(verify_chain(&good), None);
        let mut edited = good.clone();
        edited[2].payload = "{\"n\":99}".into();
        assert_eq!(verify_chain(&edited).unwrap().seq, 3);
        assert!(verify_chain(&edited).unwrap().what.contains("edited"));
        let mut removed = good.clone();
        removed.remove(1);
        let p = verify_chain(&removed).unwrap();
        assert_eq!(p.seq, 3);
        assert!(p.what.contains("missing"));
        let mut reordered = good.clone();
        reordered.swap(1, 2);
        assert_eq!(verify_chain(&reordered).unwrap().seq, 3);
        // Removing the last entry cannot be seen from the chain alone; the store keeps
        // a separate head record for that.
        let mut tail = good.clone();
        tail.pop();
        assert_eq!(verify_chain(&tail), None);
        // Re-hashing an edited entry breaks the next link.
        let mut rehashed = good.clone();
        rehashed[1].payload = "{}".into();
        rehashed[1].hash = entry_hash(
            2,
            rehashed[1].at,
            "decision",
            "agent:a",
            "req",
            "{}",
            &rehashed[1].prev_hash,
        );
        assert_eq!(verify_chain(&rehashed).unwrap().seq, 3);
    }
}
