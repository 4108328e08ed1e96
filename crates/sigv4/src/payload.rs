//! Checking a streamed body against the sha256 its signature declared.

use crate::SigError;
use sha2::{Digest, Sha256};

/// sha256 of the empty string, the payload hash of a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lowercase hex sha256 of `bytes` (for services that do not declare a body hash, the caller
/// hashes the body with this before verifying).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether a declared body hash equals a computed one (hex, case-insensitive), compared in
/// constant time.
pub fn body_hash_matches(declared: &str, sha256_hex: &str) -> bool {
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    if hex::decode_to_slice(declared, &mut a).is_err()
        || hex::decode_to_slice(sha256_hex, &mut b).is_err()
    {
        return false;
    }
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Hashes a body as it streams and says at the end whether it is the declared one. The proxy
/// forwards all but the last bytes while hashing and releases them only when
/// [`PayloadHasher::finish`] succeeds, so a body that does not match never completes upstream.
#[derive(Clone)]
pub struct PayloadHasher {
    declared: String,
    hasher: Sha256,
    len: u64,
}

impl std::fmt::Debug for PayloadHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadHasher")
            .field("declared", &self.declared)
            .field("len", &self.len)
            .finish()
    }
}

impl PayloadHasher {
    /// A hasher for a body declared to hash to `declared_hex`.
    pub fn new(declared_hex: &str) -> PayloadHasher {
        PayloadHasher {
            declared: declared_hex.to_owned(),
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body's sha256 (hex) if it is the declared one; else `XAmzContentSHA256Mismatch`.
    pub fn finish(self) -> Result<String, SigError> {
        let computed = hex::encode(self.hasher.finalize());
        if body_hash_matches(&self.declared, &computed) {
            Ok(computed)
        } else {
            Err(SigError::ContentSha256Mismatch {
                declared: self.declared,
                computed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_in_pieces() {
        let body = b"Welcome to Amazon S3.";
        let declared = sha256_hex(body);
        assert_eq!(
            declared,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let mut h = PayloadHasher::new(&declared);
        for piece in body.chunks(4) {
            h.update(piece);
        }
        assert_eq!(h.len(), body.len() as u64);
        assert_eq!(h.finish().unwrap(), declared);

        let mut h = PayloadHasher::new(&declared);
        h.update(b"Welcome to Amazon S3!");
        let err = h.finish().unwrap_err();
        assert_eq!(err.aws_code(), "XAmzContentSHA256Mismatch");
        assert!(PayloadHasher::new(EMPTY_SHA256).finish().is_ok());
    }

    #[test]
    fn matching() {
        assert!(body_hash_matches(
            EMPTY_SHA256,
            &EMPTY_SHA256.to_uppercase()
        ));
        assert!(!body_hash_matches(EMPTY_SHA256, &sha256_hex(b"x")));
        assert!(!body_hash_matches("UNSIGNED-PAYLOAD", EMPTY_SHA256));
        assert!(!body_hash_matches(&EMPTY_SHA256[..62], EMPTY_SHA256));
    }
}
