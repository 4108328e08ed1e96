//! The HMAC chain, the constant-time comparison and the clock.

use crate::canonical::{canonical_request_hash, string_to_sign, PathEncoding};
use crate::time::format_amz_date;
use crate::{PayloadHash, SigError, Signed, MAX_SKEW_SECONDS};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The derived signing key of one credential scope:
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
/// It stands for the secret within that scope, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the key for `date` (`yyyymmdd`), `region` and `service`.
    pub fn derive(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
        let mut k_secret = Vec::with_capacity(4 + secret.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.as_bytes());
        let k_date = hmac(&k_secret, date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        SigningKey(hmac(&k_service, b"aws4_request"))
    }

    /// The key for the scope of `signed`.
    pub fn for_signed(secret: &str, signed: &Signed) -> SigningKey {
        SigningKey::derive(secret, &signed.date, &signed.region, &signed.service)
    }

    /// HMAC-SHA256 of `data` under this key, as lowercase hex.
    pub fn sign(&self, data: &[u8]) -> String {
        hex::encode(hmac(&self.0, data))
    }

    /// Whether `signature_hex` is this key's HMAC of `data`, compared in constant time.
    pub(crate) fn check(&self, data: &[u8], signature_hex: &str) -> bool {
        let mut expected = [0u8; 32];
        if hex::decode_to_slice(signature_hex, &mut expected).is_err() {
            return false;
        }
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(data);
        mac.verify_slice(&expected).is_ok()
    }
}

/// A request whose signature verified: what streaming verification and the replay cache need.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key_id: String,
    /// The key of this credential scope, to verify chunk and trailer signatures.
    pub signing_key: SigningKey,
    /// The request's own signature (hex): the first link of the chunk signature chain.
    pub seed_signature: String,
    /// `yyyymmdd/region/service/aws4_request`.
    pub scope: String,
    /// `yyyymmddThhmmssZ`, as in the string to sign.
    pub amz_date: String,
    /// Unix seconds of the request's date.
    pub timestamp: i64,
    /// The last second this signature is acceptable: give it to the replay cache.
    pub valid_until: i64,
    pub payload: PayloadHash,
}

/// Checks the clock: header form within [`MAX_SKEW_SECONDS`] either way; presigned not
/// before its date minus that skew and not after its date plus `X-Amz-Expires`.
fn check_time(signed: &Signed, now: i64) -> Result<(), SigError> {
    let t = signed.timestamp;
    match signed.presigned_expires {
        None => {
            let skew = (now - t).abs();
            if skew > MAX_SKEW_SECONDS {
                return Err(SigError::TimeTooSkewed {
                    request_time: t,
                    now,
                    skew_seconds: skew,
                });
            }
        }
        Some(expires) => {
            if now < t - MAX_SKEW_SECONDS {
                return Err(SigError::NotYetValid {
                    valid_from: t - MAX_SKEW_SECONDS,
                    now,
                });
            }
            if now > t + expires {
                return Err(SigError::Expired {
                    expired_at: t + expires,
                    now,
                });
            }
        }
    }
    Ok(())
}

/// Verifies `signed` against the secret at `now` (unix seconds): the clock first (cheap),
/// then the canonical request rebuilt from this request, the HMAC chain and a constant-time
/// comparison. The path is encoded once for S3 and twice for every other service.
///
/// For [`PayloadHash::Missing`] the caller must first hash the body
/// ([`Signed::set_body_hash`]); for a declared hash it must check the body against it
/// ([`crate::PayloadHasher`]); for streaming payloads decode it with
/// [`crate::ChunkedDecoder`] and the returned [`Verified`].
pub fn verify(
    signed: &Signed,
    secret: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<Verified, SigError> {
    let key = SigningKey::for_signed(secret, signed);
    let encoding = PathEncoding::for_service(&signed.service);
    verify_with_key(signed, &key, method, path, query, headers, now, encoding)
}

/// [`verify`] with a signing key the caller derived (or cached per scope and day) and an
/// explicit path encoding.
#[allow(clippy::too_many_arguments)]
pub fn verify_with_key(
    signed: &Signed,
    key: &SigningKey,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    now: i64,
    encoding: PathEncoding,
) -> Result<Verified, SigError> {
    check_time(signed, now)?;
    let amz_date = format_amz_date(signed.timestamp);
    if amz_date[..8] != signed.date {
        return Err(SigError::ScopeDateMismatch {
            scope_date: signed.date.clone(),
            amz_date,
        });
    }
    let scope = signed.scope();
    let creq_hash = canonical_request_hash(signed, method, path, query, headers, encoding)?;
    let sts = string_to_sign(&amz_date, &scope, &creq_hash);
    if !key.check(sts.as_bytes(), &signed.signature) {
        return Err(SigError::SignatureDoesNotMatch);
    }
    Ok(Verified {
        access_key_id: signed.access_key_id.clone(),
        signing_key: key.clone(),
        seed_signature: signed.signature.clone(),
        scope,
        amz_date,
        timestamp: signed.timestamp,
        valid_until: signed.valid_until(),
        payload: signed.payload.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing key example of AWS's SigV4 documentation (secret
    /// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam).
    #[test]
    fn documented_signing_key() {
        let k = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k.0),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(format!("{k:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn constant_time_check_refuses_bad_hex() {
        let k = SigningKey::derive("s", "20200101", "us-east-1", "s3");
        let good = k.sign(b"x");
        assert!(k.check(b"x", &good));
        assert!(!k.check(b"y", &good));
        assert!(!k.check(b"x", &good[..63]));
        assert!(!k.check(b"x", "zz"));
    }
}
