//! Answers the proxy makes itself: errors in the caller's own protocol (so the AWS CLI
//! prints `An error occurred (Code) when calling the Op operation: Message`), request
//! ids, and the body type every response carries.

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::Response;
use parapet_wire::{Protocol, ServiceModels};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every request forwarded and every response answered.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|e| match e {})
        .boxed_unsync()
}

pub fn empty() -> ProxyBody {
    full(Bytes::new())
}

/// Why a request is answered by the proxy instead of AWS.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    /// The AWS error code (`AccessDenied`, `SignatureDoesNotMatch`...).
    pub code: String,
    pub message: String,
    /// The metric label the refusal counts under.
    pub reason: &'static str,
}

impl Refusal {
    pub fn new(
        status: u16,
        code: &str,
        message: impl Into<String>,
        reason: &'static str,
    ) -> Refusal {
        Refusal {
            status,
            code: code.to_string(),
            message: message.into(),
            reason,
        }
    }

    pub fn sig(e: &parapet_sigv4::SigError) -> Refusal {
        use parapet_sigv4::SigError::*;
        let reason = match e {
            Replayed | ReplayCacheFull { .. } => "replay",
            ContentSha256Mismatch { .. }
            | Chunk { .. }
            | ChunkSignature { .. }
            | TrailerSignature
            | DecodedLength { .. }
            | ChecksumMismatch { .. } => "body",
            _ => "auth",
        };
        if matches!(e, Replayed) {
            // Botocore signs only a few headers and dates to the second, so an SDK that
            // sends the same call twice within a second sends the same signature. A
            // throttling error makes SDKs retry, re-signed; a replay by anyone else is
            // refused all the same.
            return Refusal::new(
                400,
                "Throttling",
                format!("{e}; a retry is signed afresh"),
                reason,
            );
        }
        Refusal::new(e.http_status(), e.aws_code(), e.to_string(), reason)
    }

    pub fn wire(e: &parapet_wire::WireError, protocol: Protocol) -> Refusal {
        let reason = match e {
            parapet_wire::WireError::UnknownService { .. }
            | parapet_wire::WireError::UnknownOperation { .. } => "unknown_operation",
            _ => "bad_request",
        };
        Refusal::new(e.status(), e.aws_code(protocol), e.to_string(), reason)
    }

    /// The answer, written in `protocol`.
    pub fn response(&self, protocol: Protocol, request_id: &str) -> Response<ProxyBody> {
        let json = matches!(
            protocol,
            Protocol::Json | Protocol::RestJson | Protocol::RpcV2Cbor
        );
        let code = match self.code.as_str() {
            // The spelling each protocol's services use (and SDKs retry on).
            "Throttling" if json => "ThrottlingException",
            "AccessDenied" if json => "AccessDeniedException",
            c => c,
        };
        let r = parapet_wire::error_reply(protocol, self.status, code, &self.message, request_id);
        let mut b = Response::builder().status(r.status);
        for (k, v) in &r.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(full(r.body)).unwrap_or_else(|_| {
            // The reply's own headers are well-formed; this only guards the builder.
            let mut resp = Response::new(empty());
            *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            resp
        })
    }
}

/// The protocol to answer in before a request is routed: the one its headers show, or
/// that of the services signing as `signing_name`, or S3's XML (which botocore's query
/// and rest-xml parsers both read).
pub fn guess_protocol(
    models: &ServiceModels,
    signing_name: Option<&str>,
    headers: &http::HeaderMap,
) -> Protocol {
    if headers.contains_key("x-amz-target") {
        return Protocol::Json;
    }
    if let Some(name) = signing_name {
        let group = models.by_signing_name(name);
        let form = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            if let Some(s) = group.iter().find(|s| s.speaks(Protocol::Ec2)) {
                return s.protocol;
            }
            if group.iter().any(|s| s.speaks(Protocol::Query)) {
                return Protocol::Query;
            }
        }
        if let Some(s) = group.first() {
            return s.protocol;
        }
    }
    Protocol::RestXml
}

/// A request id for answers and logs: 32 hex digits, time-ordered, random tail.
pub fn request_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut tail = [0u8; 10];
    // The id only needs to be unique: a failed random read falls back to a counter.
    if getrandom::fill(&mut tail).is_err() {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        tail[..8].copy_from_slice(
            &N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_be_bytes(),
        );
    }
    format!("{:012x}{}", ms & 0xffff_ffff_ffff, hex::encode(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_hex_and_distinct() {
        let a = request_id();
        let b = request_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_protocol_is_guessed_from_headers_then_the_signing_name() {
        let models = ServiceModels::embedded();
        let mut h = http::HeaderMap::new();
        assert_eq!(guess_protocol(models, None, &h), Protocol::RestXml);
        assert_eq!(guess_protocol(models, Some("s3"), &h), Protocol::RestXml);
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert_eq!(guess_protocol(models, Some("ec2"), &h), Protocol::Ec2);
        assert_eq!(guess_protocol(models, Some("iam"), &h), Protocol::Query);
        h.insert(
            "x-amz-target",
            "DynamoDB_20120810.ListTables".parse().unwrap(),
        );
        assert_eq!(guess_protocol(models, Some("dynamodb"), &h), Protocol::Json);
    }
}
