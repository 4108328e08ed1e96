//! Refusing a signature seen before, while it could still verify.

use crate::SigError;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Signature -> the last second it can verify.
    seen: HashMap<[u8; 32], i64>,
    /// The same entries by expiry, soonest first, so expiring costs O(log n) per entry.
    by_expiry: BinaryHeap<Reverse<(i64, [u8; 32])>>,
}

impl Shard {
    fn expire(&mut self, now: i64) {
        while let Some(Reverse((until, key))) = self.by_expiry.peek().copied() {
            if until >= now {
                break;
            }
            self.by_expiry.pop();
            if self.seen.get(&key) == Some(&until) {
                self.seen.remove(&key);
            }
        }
    }
}

/// Remembers every accepted signature until it could no longer verify (header form: its date
/// plus 15 minutes; presigned: its date plus `X-Amz-Expires`), and refuses it a second time.
///
/// Memory is bounded: entries leave when they expire, and a hard cap refuses new signatures
/// when full (fail closed) instead of forgetting live ones, which would let them be replayed.
/// Thread-safe; 16 mutex-guarded shards keep contention low.
pub struct ReplayCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity())
            .finish()
    }
}

fn key_of(signature: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    if signature.len() == 64 && hex::decode_to_slice(signature, &mut key).is_ok() {
        return key;
    }
    // Not a SigV4 signature: still remembered, by its hash.
    Sha256::digest(signature.as_bytes()).into()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl ReplayCache {
    /// A cache that remembers at most `capacity` live signatures (rounded up to a multiple of
    /// 16). At 5,000 requests a second and 15 minutes each, 4.5 million entries (about
    /// 0.5 GB) hold a full window; size it to the proxy's rate.
    pub fn new(capacity: usize) -> ReplayCache {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        ReplayCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
        }
    }

    /// The most live signatures remembered at once.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// Live signatures remembered now (expired ones may still count until next touched).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.seen.len()))
            .sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `true` the first time `signature` is seen (it is then remembered until `until`,
    /// unix seconds); `false` for a replay, or when the cache is full (fail closed).
    pub fn first_use(&self, signature: &str, until: i64) -> bool {
        self.check(signature, until, unix_now()).is_ok()
    }

    /// Forget `signature`: its request was refused, not carried out, so the same bytes may
    /// be judged again (they are refused again, or run once if an approval now covers
    /// them). Only a carried-out request must never run twice.
    pub fn forget(&self, signature: &str) {
        let key = key_of(signature);
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        shard.seen.remove(&key);
    }

    /// [`ReplayCache::first_use`] at `now`, saying why a signature is refused
    /// ([`SigError::Replayed`] or [`SigError::ReplayCacheFull`]).
    pub fn check(&self, signature: &str, until: i64, now: i64) -> Result<(), SigError> {
        let key = key_of(signature);
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        // A poisoned lock only means another thread panicked mid-insert: the map is intact.
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        shard.expire(now);
        if let Some(&seen_until) = shard.seen.get(&key) {
            if seen_until >= now {
                return Err(SigError::Replayed);
            }
        }
        if shard.seen.len() >= self.per_shard {
            return Err(SigError::ReplayCacheFull {
                capacity: self.capacity(),
            });
        }
        shard.seen.insert(key, until);
        shard.by_expiry.push(Reverse((until, key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sig(i: u32) -> String {
        hex::encode(Sha256::digest(i.to_be_bytes()))
    }

    #[test]
    fn a_forgotten_signature_is_accepted_again() {
        let c = ReplayCache::new(100);
        assert!(c.check(&sig(7), 1000, 100).is_ok());
        assert!(c.check(&sig(7), 1000, 101).is_err());
        c.forget(&sig(7));
        assert!(c.check(&sig(7), 1000, 102).is_ok());
        assert!(c.check(&sig(7), 1000, 103).is_err());
    }

    #[test]
    fn refuses_replay_until_expiry() {
        let c = ReplayCache::new(100);
        assert!(c.check(&sig(1), 1000, 100).is_ok());
        assert_eq!(c.check(&sig(1), 1000, 200), Err(SigError::Replayed));
        assert_eq!(c.check(&sig(1), 1000, 1000), Err(SigError::Replayed));
        assert!(c.check(&sig(2), 1000, 200).is_ok());
        // Past its validity the signature itself no longer verifies; the entry is gone.
        assert!(c.check(&sig(3), 5000, 1001).is_ok());
        assert!(c.check(&sig(1), 2000, 1001).is_ok());
        assert!(c.check("not hex", 10, 0).is_ok());
        assert_eq!(c.check("not hex", 10, 1), Err(SigError::Replayed));
    }

    #[test]
    fn full_cache_fails_closed_and_recovers_by_time() {
        let c = ReplayCache::new(16);
        assert_eq!(c.capacity(), 16);
        let mut accepted = 0;
        let mut full = 0;
        for i in 0..200 {
            match c.check(&sig(i), 100, 0) {
                Ok(()) => accepted += 1,
                Err(SigError::ReplayCacheFull { .. }) => full += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(accepted <= 16 && full >= 184, "{accepted} {full}");
        // Every accepted one is still refused as a replay, none was forgotten.
        let replays = (0..200)
            .filter(|&i| c.check(&sig(i), 100, 50) == Err(SigError::Replayed))
            .count();
        assert_eq!(replays, accepted);
        // After expiry there is room again.
        assert!(c.check(&sig(1000), 300, 101).is_ok());
        assert!(c.len() <= 16);
    }

    #[test]
    fn threads_agree_on_one_first_use() {
        let c = Arc::new(ReplayCache::new(10_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|&i| c.check(&sig(i), 100, 0).is_ok())
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 500);
        assert!(c.first_use(&sig(9999), i64::MAX));
        assert!(!c.first_use(&sig(9999), i64::MAX));
    }
}
