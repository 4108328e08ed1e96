//! Verifying AWS Signature Version 4 on requests that agents send to the proxy.
//!
//! The flow: [`parse`] reads the Authorization header or the presigned query (who signed,
//! the credential scope, the signed headers, how the payload is hashed) and refuses anything
//! malformed; the caller looks the access key id up and derives its secret; [`verify`]
//! rebuilds the canonical request exactly as AWS does, checks the HMAC chain in constant time
//! and the clock (15 minutes either way; presigned: not before the date minus that skew, not
//! after the date plus `X-Amz-Expires`), and returns what streaming verification needs.
//! Bodies: [`PayloadHasher`] for a declared sha256, [`ChunkedDecoder`] for `aws-chunked`
//! uploads. [`ReplayCache`] refuses a signature seen before while it is still valid.
//!
//! Every refusal is a [`SigError`] that names what is wrong; [`SigError::aws_code`] gives the
//! AWS error code a client expects.
//!
//! What a signature binds, and so what the caller must judge and forward alike: the access
//! key id is not in the string to sign (look it up, use its secret); for non-S3 services the
//! path is normalized (`/a/../b` signs as `/b`), for S3 it is bound byte for byte; query names
//! and values are bound decoded (`+` and `%20` are both a space); repeated headers are bound
//! joined with commas; headers not in SignedHeaders are not bound at all
//! ([`Signed::unsigned_amz_headers`] lists the `x-amz-*` ones).

mod canonical;
mod checksum;
mod chunked;
mod error;
mod parse;
mod payload;
mod replay;
mod time;
mod verify;

pub use canonical::{
    canonical_query, canonical_request, canonical_request_with, canonical_uri, PathEncoding,
};
pub use chunked::{ChunkLimits, ChunkedDecoder, Trailer};
pub use error::{aws_code, SigError};
pub use parse::parse;
pub use payload::{body_hash_matches, sha256_hex, PayloadHasher, EMPTY_SHA256};
pub use replay::ReplayCache;
pub use verify::{verify, verify_with_key, SigningKey, Verified};

/// The longest validity a presigned request may ask for (7 days), as AWS allows.
pub const MAX_PRESIGNED_EXPIRES: i64 = 604_800;
/// How far a request's time may be from the server's, either way (AWS: 15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 900;

/// How the request's payload enters the signature (the canonical request's last line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// Lowercase sha256 hex of the whole body: declared in `x-amz-content-sha256`, or
    /// computed by the caller for services that do not send that header.
    Hex(String),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, each chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and signed trailers.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned chunks, trailers.
    StreamingUnsignedTrailer,
    /// No `x-amz-content-sha256` (a non-S3 service): the caller hashes the body and sets
    /// [`Signed::set_body_hash`] before [`verify`].
    Missing,
}

impl PayloadHash {
    /// The literal that goes into the canonical request (`None` for [`PayloadHash::Missing`]).
    pub fn canonical(&self) -> Option<&str> {
        Some(match self {
            PayloadHash::Hex(h) => h,
            PayloadHash::Unsigned => "UNSIGNED-PAYLOAD",
            PayloadHash::StreamingSigned => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            PayloadHash::StreamingSignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            PayloadHash::StreamingUnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            PayloadHash::Missing => return None,
        })
    }

    /// Whether the body is aws-chunked (decode it with [`ChunkedDecoder`]).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned
                | PayloadHash::StreamingSignedTrailer
                | PayloadHash::StreamingUnsignedTrailer
        )
    }

    /// The declared body hash the body must match (check it with [`PayloadHasher`]).
    pub fn declared_hex(&self) -> Option<&str> {
        match self {
            PayloadHash::Hex(h) => Some(h),
            _ => None,
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            PayloadHash::Hex(_) => "sha256",
            PayloadHash::Missing => "missing",
            PayloadHash::Unsigned => "UNSIGNED-PAYLOAD",
            PayloadHash::StreamingSigned => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            PayloadHash::StreamingSignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            PayloadHash::StreamingUnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }
}

/// What a request's signature claims, read by [`parse`]; nothing here is trusted until
/// [`verify`] succeeds.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd`.
    pub date: String,
    pub region: String,
    /// The credential scope's service (signing name), e.g. `s3`, `ec2`, `iam`.
    pub service: String,
    /// Lowercase, sorted, unique; always holds `host`.
    pub signed_headers: Vec<String>,
    /// 64 lowercase hex digits.
    pub signature: String,
    /// Unix seconds, from `X-Amz-Date` (header or query) or the `Date` header.
    pub timestamp: i64,
    /// `X-Amz-Expires` for the presigned (query) form; `None` for the Authorization header.
    pub presigned_expires: Option<i64>,
    pub payload: PayloadHash,
    /// `x-amz-security-token` / `X-Amz-Security-Token`, when the signer used a session.
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope())
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("timestamp", &self.timestamp)
            .field("presigned_expires", &self.presigned_expires)
            .field("payload", &self.payload)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Signed {
    /// `yyyymmdd/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }

    /// Whether the caller must hash the body and call [`Signed::set_body_hash`] first.
    pub fn needs_body_hash(&self) -> bool {
        self.payload == PayloadHash::Missing
    }

    /// Sets the body's sha256 (lowercase hex) computed by the caller, for services that do
    /// not declare it in `x-amz-content-sha256`.
    pub fn set_body_hash(&mut self, sha256_hex: &str) {
        self.payload = PayloadHash::Hex(sha256_hex.to_ascii_lowercase());
    }

    /// The last moment this signature can be accepted: the replay cache must remember it
    /// until then.
    pub fn valid_until(&self) -> i64 {
        match self.presigned_expires {
            Some(expires) => self.timestamp + expires,
            None => self.timestamp + MAX_SKEW_SECONDS,
        }
    }

    /// `x-amz-*` headers present in the request but not signed: a party between the agent
    /// and the proxy could have added them, so nothing should be judged or forwarded from
    /// them (strip them or refuse).
    pub fn unsigned_amz_headers(&self, headers: &http::HeaderMap) -> Vec<String> {
        let mut out: Vec<String> = headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| {
                k.starts_with("x-amz-")
                    && self
                        .signed_headers
                        .binary_search_by(|s| s.as_str().cmp(k))
                        .is_err()
            })
            .map(str::to_owned)
            .collect();
        out.dedup();
        out
    }
}
