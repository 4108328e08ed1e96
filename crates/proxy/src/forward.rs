//! Forwarding: the agent's request re-signed with the proxy's real credentials
//! (`aws-sigv4`) and sent to `--upstream` or the service's real endpoint; the
//! upstream's response comes back unchanged (status, headers, streamed body), less
//! hop-by-hop headers.
//!
//! What is not forwarded: the agent's Authorization, X-Amz-Date, X-Amz-Security-Token
//! and x-amz-content-sha256 (the signer sets its own), presigned query parameters,
//! hop-by-hop headers and those the Connection header names, `Expect`.

use crate::body::{boxed, Idle};
use crate::config::Timeouts;
use crate::creds::{Creds, CredsError};
use crate::reply::ProxyBody;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parapet_wire::Service;
use std::time::{Duration, SystemTime};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(transparent)]
    Credentials(#[from] CredsError),
    #[error("--upstream {url}: {why}")]
    BadUpstream { url: String, why: String },
    #[error("header {name} cannot be forwarded: its value is not visible ASCII")]
    BadHeader { name: String },
    #[error("re-signing the request failed: {0}")]
    Sign(String),
    #[error("cannot reach {host}: {why}")]
    Connect { host: String, why: String },
    #[error("{host} sent no response within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("{host} failed: {why}")]
    Upstream { host: String, why: String },
}

/// The upstream every request goes to, when one is fixed (`--upstream`).
#[derive(Debug, Clone)]
struct Base {
    scheme: String,
    authority: String,
    /// A path prefix without its trailing slash (usually empty).
    prefix: String,
}

impl Base {
    fn parse(url: &str) -> Result<Base, ForwardError> {
        let bad = |why: &str| ForwardError::BadUpstream {
            url: url.to_string(),
            why: why.to_string(),
        };
        let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("give http:// or https://"))?;
        if scheme != "http" && scheme != "https" {
            return Err(bad("give http:// or https://"));
        }
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info is not allowed"));
        }
        Ok(Base {
            scheme: scheme.to_string(),
            authority: authority.to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

/// The token CloudTrail shows in `userAgent` for a call the proxy forwarded for an
/// agent: `parapet-agent/<actor>`. Detection ties the call back to the agent with it
/// (`trail scan|watch --freeze-agents`), trusting it only on the proxy's own identity.
pub const AGENT_MARK: &str = "parapet-agent/";

/// The agent's headers with its actor appended to `User-Agent` (after removing any
/// `parapet-agent/` token the agent sent itself: an agent cannot name another).
pub fn mark_agent(headers: &HeaderMap, actor: &str) -> HeaderMap {
    let mut out = headers.clone();
    let sent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kept: Vec<&str> = sent
        .split(' ')
        .filter(|t| !t.is_empty() && !t.starts_with(AGENT_MARK))
        .collect();
    // Actor names are `kind:name` of visible ASCII without spaces (token rules).
    let actor: String = actor
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    let ua = format!("{} {AGENT_MARK}{actor}", kept.join(" "));
    if let Ok(v) = HeaderValue::from_str(ua.trim()) {
        out.insert(http::header::USER_AGENT, v);
    }
    out
}

/// A request ready to forward.
pub struct Outgoing {
    pub method: Method,
    /// Raw (encoded) path as the agent sent it; S3 virtual-hosted requests have their
    /// bucket moved into it here.
    pub path: String,
    /// Raw query without presigned-signature parameters ("" for none).
    pub query: String,
    /// The agent's headers (filtered here).
    pub headers: HeaderMap,
    pub service: &'static Service,
    /// The credential scope's service and region of the agent's signature.
    pub signing_name: String,
    pub region: String,
    pub host_bucket: Option<String>,
    pub body: OutBody,
}

pub enum OutBody {
    /// Read whole: sent as is, signed with its sha256 (hex).
    Full(Bytes, String),
    /// Streamed, with its length if known.
    Stream {
        body: ProxyBody,
        length: Option<u64>,
        sign: StreamSign,
    },
}

pub enum StreamSign {
    /// `UNSIGNED-PAYLOAD` (an unsigned upload, or decoded aws-chunked the proxy checked).
    Unsigned,
    /// The declared sha256 the proxy checks while streaming.
    Sha256(String),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, passed through chunked as it came.
    UnsignedTrailer,
}

/// Headers never forwarded. The agent's auth is replaced; hop-by-hop headers are the
/// connection's, not the request's.
const DROPPED: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Hop-by-hop headers of a response (hyper writes the framing itself).
const RESPONSE_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Presigned-URL query parameters: the proxy signs with its own header.
const PRESIGN_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// The query without presigned-signature parameters, otherwise byte for byte.
pub fn strip_presign(query: &str) -> String {
    query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !p.is_empty() && !PRESIGN_PARAMS.iter().any(|n| n.eq_ignore_ascii_case(name))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Header names the Connection header lists (hop-by-hop by declaration).
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

pub struct Upstream {
    client: Client<Connector, ProxyBody>,
    creds: Creds,
    fixed: Option<Base>,
    timeouts: Timeouts,
}

impl Upstream {
    pub fn new(
        upstream: Option<&str>,
        creds: Creds,
        timeouts: Timeouts,
    ) -> Result<Upstream, ForwardError> {
        let fixed = upstream.map(Base::parse).transpose()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeouts.connect));
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        // The system's roots (corporate CAs too) when it has any; else Mozilla's.
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(b) => b,
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(provider)
                .map_err(|e| ForwardError::BadUpstream {
                    url: upstream.unwrap_or("AWS").to_string(),
                    why: format!("TLS setup: {e}"),
                })?,
        };
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Ok(Upstream {
            client,
            creds,
            fixed,
            timeouts,
        })
    }

    pub fn creds(&self) -> &Creds {
        &self.creds
    }

    /// Where a service's calls for `region` go and the region they are signed for.
    pub fn target(&self, service: &Service, region: &str) -> (String, String) {
        match &self.fixed {
            Some(b) => (
                format!("{}://{}{}", b.scheme, b.authority, b.prefix),
                region.to_string(),
            ),
            None => {
                let e = parapet_wire::endpoint(service, region);
                (e.url, e.signing_region)
            }
        }
    }

    pub async fn send(&self, out: Outgoing) -> Result<Response<ProxyBody>, ForwardError> {
        let (base, signing_region) = self.target(out.service, &out.region);
        let mut path = out.path;
        if let Some(bucket) = &out.host_bucket {
            // Virtual-hosted at the proxy, path style upstream: every upstream
            // (AWS, moto, MinIO) reads it.
            path = format!("/{bucket}{path}");
        }
        let mut uri = format!("{base}{path}");
        if !out.query.is_empty() {
            uri.push('?');
            uri.push_str(&out.query);
        }
        let parsed: http::Uri = uri.parse().map_err(|_| ForwardError::BadUpstream {
            url: base.clone(),
            why: "the request's path does not make a valid URL with it".into(),
        })?;
        let host = parsed
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let headers = forwarded_headers(&out.headers, &host, &out.body)?;
        let (body, signable) = match out.body {
            OutBody::Full(bytes, sha) => {
                (crate::reply::full(bytes), SignableBody::Precomputed(sha))
            }
            OutBody::Stream { body, sign, .. } => (
                body,
                match sign {
                    StreamSign::Unsigned => SignableBody::UnsignedPayload,
                    StreamSign::Sha256(h) => SignableBody::Precomputed(h),
                    StreamSign::UnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
                },
            ),
        };
        let mut request = Request::builder()
            .method(out.method.clone())
            .uri(parsed)
            .body(body)
            .map_err(|e| ForwardError::Sign(e.to_string()))?;
        *request.headers_mut() = headers;
        self.sign(&mut request, signable, &out.signing_name, &signing_region)
            .await?;
        let sent = tokio::time::timeout(self.timeouts.response, self.client.request(request)).await;
        let response = match sent {
            Err(_) => {
                return Err(ForwardError::Timeout {
                    host,
                    after: self.timeouts.response,
                })
            }
            Ok(Err(e)) => return Err(classify(&e, host)),
            Ok(Ok(r)) => r,
        };
        let (mut parts, incoming) = response.into_parts();
        for name in connection_listed(&parts.headers) {
            parts.headers.remove(name.as_str());
        }
        for name in RESPONSE_DROPPED {
            parts.headers.remove(*name);
        }
        Ok(Response::from_parts(
            parts,
            boxed(Idle::new(incoming, self.timeouts.idle_body)),
        ))
    }

    async fn sign(
        &self,
        request: &mut Request<ProxyBody>,
        body: SignableBody<'_>,
        signing_name: &str,
        region: &str,
    ) -> Result<(), ForwardError> {
        let creds = self.creds.get().await?;
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        if parapet_sigv4::PathEncoding::for_service(signing_name) == parapet_sigv4::PathEncoding::S3
        {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        } else if !matches!(body, SignableBody::Precomputed(_)) {
            // A body not hashed must say so in x-amz-content-sha256.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| ForwardError::Sign(e.to_string()))?
            .into();
        let uri = request.uri().to_string();
        let mut pairs = Vec::with_capacity(request.headers().len());
        for (k, v) in request.headers() {
            let v = v.to_str().map_err(|_| ForwardError::BadHeader {
                name: k.to_string(),
            })?;
            pairs.push((k.as_str(), v));
        }
        let signable =
            SignableRequest::new(request.method().as_str(), uri, pairs.into_iter(), body)
                .map_err(|e| ForwardError::Sign(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| ForwardError::Sign(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

/// The agent's headers as forwarded: dropped ones removed, Host and Content-Length
/// set, aws-chunked markers removed when the proxy decoded the body.
fn forwarded_headers(
    incoming: &HeaderMap,
    host: &str,
    body: &OutBody,
) -> Result<HeaderMap, ForwardError> {
    let listed = connection_listed(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len() + 4);
    for (k, v) in incoming {
        let name = k.as_str();
        if DROPPED.contains(&name) || listed.iter().any(|l| l == name) {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|_| ForwardError::BadUpstream {
            url: s.to_string(),
            why: "not a valid Host".into(),
        })
    };
    out.insert(http::header::HOST, value(host)?);
    let length = match body {
        OutBody::Full(b, _) => {
            // Always the plain payload (aws-chunked was decoded when it was read).
            strip_aws_chunked(&mut out);
            Some(b.len() as u64)
        }
        OutBody::Stream { length, sign, .. } => {
            if !matches!(sign, StreamSign::UnsignedTrailer) {
                // The proxy decoded aws-chunked (or there was none): the upstream gets
                // the plain payload.
                strip_aws_chunked(&mut out);
            }
            *length
        }
    };
    if let Some(n) = length {
        out.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok(out)
}

/// Remove `aws-chunked` from Content-Encoding (keeping other codings) and the headers
/// that describe the chunked form.
fn strip_aws_chunked(headers: &mut HeaderMap) {
    let ce = HeaderName::from_static("content-encoding");
    let kept: Vec<String> = headers
        .get_all(&ce)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .map(String::from)
        .collect();
    let had_chunked = headers.get_all(&ce).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"))
        })
    });
    if !had_chunked {
        return;
    }
    headers.remove(&ce);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join(",")) {
            headers.insert(ce, v);
        }
    }
    // Trailing checksums were checked here and are not forwarded: the algorithm
    // header without them would make S3 refuse the upload.
    if headers.remove("x-amz-trailer").is_some() {
        headers.remove("x-amz-sdk-checksum-algorithm");
    }
    headers.remove("x-amz-decoded-content-length");
}

fn classify(e: &hyper_util::client::legacy::Error, host: String) -> ForwardError {
    let mut why = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        why.push_str(": ");
        why.push_str(&c.to_string());
        cause = c.source();
    }
    if e.is_connect() {
        ForwardError::Connect { host, why }
    } else {
        ForwardError::Upstream { host, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_is_named_in_the_user_agent_and_cannot_name_another() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("aws-cli/2.17 parapet-agent/agent:victim md/x"),
        );
        let out = mark_agent(&h, "agent:kiro");
        assert_eq!(
            out[http::header::USER_AGENT],
            "aws-cli/2.17 md/x parapet-agent/agent:kiro"
        );
        let out = mark_agent(&HeaderMap::new(), "agent:kiro");
        assert_eq!(out[http::header::USER_AGENT], "parapet-agent/agent:kiro");
    }

    #[test]
    fn presigned_parameters_are_stripped_and_the_rest_kept_verbatim() {
        let q = "list-type=2&X-Amz-Algorithm=AWS4-HMAC-SHA256&prefix=a%2Fb&X-Amz-Signature=ff&x-amz-expires=3&uploads";
        assert_eq!(strip_presign(q), "list-type=2&prefix=a%2Fb&uploads");
        assert_eq!(strip_presign(""), "");
    }

    #[test]
    fn upstream_urls_are_checked() {
        let b = Base::parse("http://127.0.0.1:5000/").unwrap();
        assert_eq!(
            (b.scheme.as_str(), b.authority.as_str(), b.prefix.as_str()),
            ("http", "127.0.0.1:5000", "")
        );
        assert_eq!(
            Base::parse("https://gw.example/aws").unwrap().prefix,
            "/aws"
        );
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "http://u:p@x",
            "http://x/?a=b",
            "not a url",
        ] {
            assert!(Base::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_drop_auth_and_hop_by_hop() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "AWS4-HMAC-SHA256 Credential=PKIA..."),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-security-token", "tok"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("content-encoding", "aws-chunked,gzip"),
            ("x-amz-decoded-content-length", "10"),
            ("x-amz-meta-a", "b"),
            ("content-type", "text/plain"),
            ("expect", "100-continue"),
        ] {
            h.append(k, v.parse().unwrap());
        }
        let body = OutBody::Stream {
            body: crate::reply::empty(),
            length: Some(10),
            sign: StreamSign::Unsigned,
        };
        let out = forwarded_headers(&h, "s3.example:443", &body).unwrap();
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        for gone in [
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
            "x-private",
            "transfer-encoding",
            "x-amz-decoded-content-length",
            "expect",
            "connection",
        ] {
            assert!(!names.contains(&gone), "{gone} forwarded: {names:?}");
        }
        assert_eq!(out["content-encoding"], "gzip");
        assert_eq!(out["content-length"], "10");
        assert_eq!(out["host"], "s3.example:443");
        assert_eq!(out["x-amz-meta-a"], "b");
        // Passed through chunked: its markers stay.
        let body = OutBody::Stream {
            body: crate::reply::empty(),
            length: Some(99),
            sign: StreamSign::UnsignedTrailer,
        };
        let out = forwarded_headers(&h, "h", &body).unwrap();
        assert_eq!(out["content-encoding"], "aws-chunked,gzip");
        assert_eq!(out["x-amz-decoded-content-length"], "10");
    }
}
