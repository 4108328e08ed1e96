//! Routing: CloudTrail from the ingest stream, split into records, each published to
//! its account's partition with the event id as JetStream's message id, so a record
//! routed twice (a router that died before acknowledging its message) is stored once.

use super::ClusterError;
use crate::run::Sink;
use crate::source::Delivery;
use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::HeaderMap;
use parapet_trail::{Event, Item, Limits};
use sha2::{Digest, Sha256};

/// The partition of an account: FNV-1a, then MurmurHash3's 64-bit finaliser, the same
/// in every process and version. FNV-1a alone leaves its low bits weakly mixed (its
/// lowest is the parity of the bytes' lowest bits), and power-of-two partition counts
/// take only the low bits.
pub fn partition_of(account: &str, partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % u64::from(partitions.max(1))) as u32
}

/// The account a record belongs to: the account that recorded it, else the caller's.
pub fn account_of(e: &Event) -> &str {
    e.account
        .as_deref()
        .or(e.identity.account_id.as_deref())
        .unwrap_or("")
}

/// The message id of a record: its account and event id, or a digest of its text when
/// it has no event id (two different records must never share an id: one would be
/// dropped as a duplicate).
pub fn record_id(e: &Event) -> String {
    if e.id.is_empty() {
        let d = Sha256::digest(e.record.text().as_bytes());
        let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{}:sha256:{hex}", account_of(e))
    } else {
        format!("{}:{}", account_of(e), e.id)
    }
}

/// Route the records of `batch` to partition subjects `{prefix}.<n>`; returns the
/// tokens to acknowledge once every record is stored (this waits for that).
pub async fn route<T>(
    js: &jetstream::Context,
    prefix: &str,
    partitions: u32,
    batch: Vec<Delivery<T>>,
    sink: &mut dyn Sink,
) -> Result<(Vec<T>, u64), ClusterError> {
    let mut acks: Vec<PublishAckFuture> = Vec::new();
    let mut tokens = Vec::new();
    let mut records = Vec::new();
    for d in batch {
        for p in &d.payloads {
            let body = match &p.body {
                Ok(b) => b,
                Err(reason) => {
                    sink.skipped(&p.name, reason);
                    continue;
                }
            };
            parapet_trail::read_bytes(&p.name, body, Limits::default(), &mut |i| match i {
                Item::Event(e) => {
                    let part = partition_of(account_of(&e), partitions);
                    records.push((part, record_id(&e), e.record.text().to_string()));
                }
                Item::Skipped { at, reason } => sink.skipped(&at, &reason),
            });
        }
        tokens.extend(d.token);
    }
    let n = records.len() as u64;
    for (part, id, text) in records {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", id.as_str());
        let ack = js
            .publish_with_headers(format!("{prefix}.{part}"), h, text.into())
            .await
            .map_err(|e| ClusterError::Publish {
                what: format!("routing to partition {part}"),
                source: Box::new(e),
            })?;
        acks.push(ack);
    }
    for a in acks {
        a.await.map_err(|e| ClusterError::Publish {
            what: "routing (stored acknowledgement)".into(),
            source: Box::new(e),
        })?;
    }
    Ok((tokens, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_in_range() {
        assert_eq!(
            partition_of("111122223333", 8),
            partition_of("111122223333", 8)
        );
        for a in ["", "1", "111122223333", "999988887777"] {
            assert!(partition_of(a, 7) < 7);
        }
        assert_eq!(partition_of("x", 0), 0);
    }

    #[test]
    fn accounts_spread_over_power_of_two_partitions() {
        // Twelve-digit account ids, as AWS makes them: every partition of 8 gets about
        // an eighth (FNV-1a alone sent every id with an even count of odd digits to
        // the same half).
        let mut counts = [0u32; 8];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..8000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = format!("{:012}", x % 1_000_000_000_000);
            counts[partition_of(&id, 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        assert_ne!(
            partition_of("111111111111", 2),
            partition_of("222222222222", 2)
        );
    }

    #[test]
    fn records_without_event_ids_get_distinct_ids() {
        let a = Event::from_json(r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2026-11-02T09:00:00Z","recipientAccountId":"1"}"#).unwrap();
        let b = Event::from_json(r#"{"eventSource":"iam.amazonaws.com","eventName":"DeleteUser","eventTime":"2026-11-02T09:00:00Z","recipientAccountId":"1"}"#).unwrap();
        assert_ne!(record_id(&a), record_id(&b));
        let c = Event::from_json(r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2026-11-02T09:00:00Z","eventID":"e1","recipientAccountId":"1"}"#).unwrap();
        assert_eq!(record_id(&c), "1:e1");
    }
}
