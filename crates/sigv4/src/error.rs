//! Every refusal, typed, each with the AWS error code a client expects.

/// Why a request's signature (or its body) was refused.
///
/// Messages name what is wrong and where, never a secret: the signing key, the secret and
/// the expected signature are not part of any variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    #[error("the request carries no AWS signature (no Authorization header, no X-Amz-Signature query parameter)")]
    MissingAuthentication,
    #[error("only one auth mechanism allowed: the request has an Authorization header and presigned query parameters ({param})")]
    BothForms { param: String },
    #[error("{what} appears more than once")]
    Duplicate { what: String },
    #[error("{what} is missing")]
    Missing { what: &'static str },
    #[error("{what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("unsupported signing algorithm {algorithm:?}: only AWS4-HMAC-SHA256 is accepted")]
    UnsupportedAlgorithm { algorithm: String },
    #[error("SigV4a ({algorithm}) is not supported: sign with SigV4 (AWS4-HMAC-SHA256)")]
    SigV4aNotSupported { algorithm: String },
    #[error("credential scope {scope:?} is malformed: {detail}")]
    BadScope { scope: String, detail: String },
    #[error("'host' must be a signed header (SignedHeaders={signed})")]
    HostNotSigned { signed: String },
    #[error("signed headers must be lowercase, sorted and unique: {detail}")]
    BadSignedHeaders { detail: String },
    #[error("signed header {name:?} is not present in the request")]
    SignedHeaderAbsent { name: String },
    #[error("the {header} header that dates the request must be signed")]
    DateNotSigned { header: &'static str },
    #[error("missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or a lowercase sha256 hex: got {value:?}")]
    BadContentSha256 { value: String },
    #[error("payload mode {mode} is not allowed here: {detail}")]
    PayloadModeNotAllowed {
        mode: &'static str,
        detail: &'static str,
    },
    #[error("the body's sha256 was not supplied: the caller must hash the body of a {service} request before verifying")]
    BodyHashRequired { service: String },
    #[error("credential date {scope_date} is not the date of X-Amz-Date {amz_date}")]
    ScopeDateMismatch {
        scope_date: String,
        amz_date: String,
    },
    #[error("X-Amz-Expires must be 1..=604800 seconds (7 days): got {value:?}")]
    BadExpires { value: String },
    #[error("the access key id {access_key_id:?} is not known")]
    UnknownAccessKey { access_key_id: String },
    #[error("the request signature does not match the signature computed for it")]
    SignatureDoesNotMatch,
    #[error("request time {request_time} is {skew_seconds} s from the server time {now}: more than the 900 s allowed")]
    TimeTooSkewed {
        request_time: i64,
        now: i64,
        skew_seconds: i64,
    },
    #[error("the presigned request expired at {expired_at} (now {now})")]
    Expired { expired_at: i64, now: i64 },
    #[error("the presigned request is not valid before {valid_from} (now {now})")]
    NotYetValid { valid_from: i64, now: i64 },
    #[error("this signature was already used: a signed request is accepted once")]
    Replayed,
    #[error("too many recent signatures to remember ({capacity}): refused rather than forgetting one that may still be replayed")]
    ReplayCacheFull { capacity: usize },
    #[error(
        "the body's sha256 ({computed}) is not the declared x-amz-content-sha256 ({declared})"
    )]
    ContentSha256Mismatch { declared: String, computed: String },
    #[error("aws-chunked body, {what} at byte {offset}: {detail}")]
    Chunk {
        what: &'static str,
        offset: u64,
        detail: String,
    },
    #[error("chunk {index} at byte {offset}: the chunk signature does not match")]
    ChunkSignature { index: u64, offset: u64 },
    #[error("the trailer signature does not match")]
    TrailerSignature,
    #[error("decoded body is {actual} bytes, x-amz-decoded-content-length says {declared}")]
    DecodedLength { declared: u64, actual: u64 },
    #[error("trailing checksum {name} does not match the body (declared {declared}, computed {computed})")]
    ChecksumMismatch {
        name: String,
        declared: String,
        computed: String,
    },
}

impl SigError {
    /// The AWS error code clients expect for this refusal.
    pub fn aws_code(&self) -> &'static str {
        use SigError::*;
        match self {
            MissingAuthentication => "MissingAuthenticationToken",
            BothForms { .. } | BadContentSha256 { .. } => "InvalidArgument",
            Duplicate { .. }
            | Missing { .. }
            | Malformed { .. }
            | UnsupportedAlgorithm { .. }
            | SigV4aNotSupported { .. }
            | BadScope { .. }
            | HostNotSigned { .. }
            | BadSignedHeaders { .. }
            | DateNotSigned { .. }
            | BadExpires { .. } => "IncompleteSignature",
            MissingContentSha256 | PayloadModeNotAllowed { .. } => "InvalidRequest",
            BodyHashRequired { .. } => "InternalFailure",
            UnknownAccessKey { .. } => "InvalidClientTokenId",
            SignatureDoesNotMatch
            | SignedHeaderAbsent { .. }
            | ScopeDateMismatch { .. }
            | ChunkSignature { .. }
            | TrailerSignature => "SignatureDoesNotMatch",
            TimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Expired { .. } => "RequestExpired",
            NotYetValid { .. } | Replayed => "AccessDenied",
            ReplayCacheFull { .. } => "SlowDown",
            ContentSha256Mismatch { .. } => "XAmzContentSHA256Mismatch",
            Chunk { .. } => "IncompleteBody",
            DecodedLength { .. } => "IncompleteBody",
            ChecksumMismatch { .. } => "BadDigest",
        }
    }

    /// The HTTP status AWS answers this refusal with.
    pub fn http_status(&self) -> u16 {
        use SigError::*;
        match self {
            BodyHashRequired { .. } => 500,
            ReplayCacheFull { .. } => 503,
            MissingAuthentication
            | UnknownAccessKey { .. }
            | SignatureDoesNotMatch
            | SignedHeaderAbsent { .. }
            | ScopeDateMismatch { .. }
            | TimeTooSkewed { .. }
            | Expired { .. }
            | NotYetValid { .. }
            | Replayed
            | ChunkSignature { .. }
            | TrailerSignature => 403,
            _ => 400,
        }
    }
}

/// The AWS error code for `err` (see [`SigError::aws_code`]).
pub fn aws_code(err: &SigError) -> &'static str {
    err.aws_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(
            aws_code(&SigError::SignatureDoesNotMatch),
            "SignatureDoesNotMatch"
        );
        assert_eq!(SigError::SignatureDoesNotMatch.http_status(), 403);
        let e = SigError::Expired {
            expired_at: 1,
            now: 2,
        };
        assert_eq!(e.aws_code(), "RequestExpired");
        let e = SigError::TimeTooSkewed {
            request_time: 0,
            now: 1000,
            skew_seconds: 1000,
        };
        assert_eq!(e.aws_code(), "RequestTimeTooSkewed");
        assert!(e.to_string().contains("1000 s"));
        assert_eq!(
            SigError::MissingAuthentication.aws_code(),
            "MissingAuthenticationToken"
        );
        let e = SigError::UnknownAccessKey {
            access_key_id: "PKIAX".into(),
        };
        assert_eq!(e.aws_code(), "InvalidClientTokenId");
        let e = SigError::ContentSha256Mismatch {
            declared: "a".into(),
            computed: "b".into(),
        };
        assert_eq!(e.aws_code(), "XAmzContentSHA256Mismatch");
        assert_eq!(e.http_status(), 400);
    }
}
