//! Request bodies as the signature requires them: read whole and checked (for
//! parameters, or for services whose signature covers the body's hash), or, for S3
//! uploads, streamed with their checks on the way (declared sha256, aws-chunked chunk
//! signatures and trailing checksums), bounded and with idle timeouts.

use crate::body::{
    boxed, read_all, BodyError, Check, Checked, ChunkCheck, FailureSlot, HashCheck, Idle,
};
use crate::forward::{OutBody, StreamSign};
use crate::handle::Shared;
use crate::reply::Refusal;
use bytes::Bytes;
use http::HeaderMap;
use hyper::body::Incoming;
use parapet_sigv4::{ChunkedDecoder, PathEncoding, PayloadHash, SigError, Verified};

pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn body_refusal(e: BodyError) -> Refusal {
    match e {
        BodyError::TooLarge { .. } => {
            Refusal::new(413, "RequestEntityTooLarge", e.to_string(), "limits")
        }
        BodyError::Idle(_) => Refusal::new(408, "RequestTimeout", e.to_string(), "body"),
        BodyError::Client(_) => Refusal::new(400, "IncompleteBody", e.to_string(), "body"),
        BodyError::Sig(e) => Refusal::sig(&e),
    }
}

/// The payload check a verified body needs (`None`: unsigned, or already hashed).
fn payload_check(
    v: &Verified,
    headers: &HeaderMap,
    passthrough: bool,
) -> Result<Option<Box<dyn Check>>, Refusal> {
    Ok(match &v.payload {
        PayloadHash::Hex(h) => Some(Box::new(HashCheck::new(h))),
        p if p.is_streaming() => {
            let d = ChunkedDecoder::new(v, headers).map_err(|e| Refusal::sig(&e))?;
            if passthrough {
                Some(Box::new(Framing(ChunkCheck::new(d))))
            } else {
                Some(Box::new(ChunkCheck::new(d)))
            }
        }
        _ => None,
    })
}

/// aws-chunked passed through as it came: decoded only to check it.
struct Framing(ChunkCheck);

impl Check for Framing {
    fn feed(&mut self, data: Bytes) -> Result<Bytes, SigError> {
        self.0.feed(data.clone())?;
        Ok(data)
    }

    fn finish(&mut self) -> Result<(), SigError> {
        self.0.finish()
    }
}

/// Read a body whole (bounded), its payload checked and decoded.
pub async fn read_checked(
    s: &Shared,
    incoming: Incoming,
    v: &Verified,
    headers: &HeaderMap,
) -> Result<Bytes, Refusal> {
    let limit = s.config.limits.max_body_bytes;
    if content_length(headers).is_some_and(|n| n > limit.saturating_mul(2)) {
        return Err(body_refusal(BodyError::TooLarge { limit }));
    }
    let check = payload_check(v, headers, false)?;
    read_all(incoming, limit, s.config.timeouts.idle_body, check)
        .await
        .map_err(body_refusal)
}

/// The body to forward for a streaming operation: S3 bodies over the threshold stream
/// (checked on the way); everything else is read and checked first.
pub async fn stream_body(
    s: &Shared,
    incoming: Incoming,
    v: &Verified,
    headers: &HeaderMap,
    slot: &FailureSlot,
) -> Result<OutBody, Refusal> {
    let length = content_length(headers);
    let s3 = PathEncoding::for_service(scope_service(v)) == PathEncoding::S3;
    let small = length.is_some_and(|n| n <= s.config.limits.stream_threshold);
    if !s3 || small || matches!(v.payload, PayloadHash::Missing) {
        let b = read_checked(s, incoming, v, headers).await?;
        let sha = parapet_sigv4::sha256_hex(&b);
        return Ok(OutBody::Full(b, sha));
    }
    let idle = s.config.timeouts.idle_body;
    let checked = |incoming, check: Box<dyn Check>, exact: Option<u64>| {
        boxed(Checked::new(incoming, check, idle, exact, slot.clone()))
    };
    Ok(match &v.payload {
        PayloadHash::Hex(h) => OutBody::Stream {
            body: checked(incoming, Box::new(HashCheck::new(h)), length),
            length,
            sign: StreamSign::Sha256(h.clone()),
        },
        PayloadHash::Unsigned => OutBody::Stream {
            body: boxed(Idle::new(incoming, idle)),
            length,
            sign: StreamSign::Unsigned,
        },
        PayloadHash::StreamingUnsignedTrailer => {
            let check = payload_check(v, headers, true)?.expect("a streaming payload has a check");
            OutBody::Stream {
                body: checked(incoming, check, length),
                length,
                sign: StreamSign::UnsignedTrailer,
            }
        }
        _ => {
            // Signed aws-chunked: decoded and verified chunk by chunk, forwarded as the
            // plain payload of its declared decoded length.
            let decoded = headers
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let check = payload_check(v, headers, false)?.expect("a streaming payload has a check");
            OutBody::Stream {
                body: checked(incoming, check, decoded),
                length: decoded,
                sign: StreamSign::Unsigned,
            }
        }
    })
}

/// The service of a verified scope (`yyyymmdd/region/service/aws4_request`).
fn scope_service(v: &Verified) -> &str {
    v.scope.split('/').nth(2).unwrap_or("")
}
