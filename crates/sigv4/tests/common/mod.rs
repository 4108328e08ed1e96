//! Signing requests with the official signer (`aws-sigv4`) the way the SDKs do, and verifying
//! them with ours.
#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_sigv4::{parse, sha256_hex, verify, SigError, Signed, Verified};
use std::time::{Duration, UNIX_EPOCH};

pub const AKID: &str = "PKIAEXAMPLEKEY234567";
pub const SECRET: &str = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFsLWtleQ";

/// How the body enters the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The body's bytes hashed by the signer.
    Bytes,
    Unsigned,
    StreamingUnsignedTrailer,
    StreamingSignedTrailer,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub method: String,
    /// Raw path as on the wire (already encoded).
    pub path: String,
    /// Raw query without `?`, may be empty.
    pub query: String,
    /// Headers other than host, in order (repeats allowed).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub service: String,
    pub region: String,
    pub time: i64,
    pub presign_expires: Option<u64>,
    pub session_token: Option<String>,
    pub body_mode: Body,
}

impl Case {
    pub fn new(method: &str, path: &str, query: &str, service: &str) -> Case {
        Case {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![],
            body: vec![],
            service: service.into(),
            region: "us-east-1".into(),
            time: 1_765_000_000,
            presign_expires: None,
            session_token: None,
            body_mode: Body::Bytes,
        }
    }

    pub fn s3(&self) -> bool {
        self.service == "s3"
    }
}

/// A request as it reaches the proxy, signed by the official signer.
#[derive(Debug, Clone)]
pub struct Wire {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub fn sign_case(case: &Case, secret: &str) -> Wire {
    let host = format!("{}.{}.amazonaws.com", case.service, case.region);
    let mut pairs: Vec<(String, String)> = vec![("host".into(), host.clone())];
    pairs.extend(case.headers.iter().cloned());
    let uri = if case.query.is_empty() {
        format!("https://{host}{}", case.path)
    } else {
        format!("https://{host}{}?{}", case.path, case.query)
    };
    let mut settings = SigningSettings::default();
    if case.s3() {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if let Some(e) = case.presign_expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(e));
    }
    let identity: Identity =
        Credentials::new(AKID, secret, case.session_token.clone(), None, "tests").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.region)
        .name(&case.service)
        .time(UNIX_EPOCH + Duration::from_secs(case.time as u64))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = match case.body_mode {
        Body::Bytes => SignableBody::Bytes(&case.body),
        Body::Unsigned => SignableBody::UnsignedPayload,
        Body::StreamingUnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        Body::StreamingSignedTrailer => SignableBody::StreamingSignedPayloadTrailer,
    };
    let signable = SignableRequest::new(
        &case.method,
        uri.clone(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder()
        .method(case.method.as_str())
        .uri(uri);
    for (k, v) in &pairs {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut req = req.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    Wire {
        method: case.method.clone(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or("").to_owned(),
        headers: req.headers().clone(),
        body: case.body.clone(),
    }
}

/// Parses and verifies as the proxy does: the secret looked up by the access key id (only
/// [`AKID`] is known), non-S3 bodies hashed by the caller.
pub fn check(wire: &Wire, secret: &str, now: i64) -> Result<Verified, SigError> {
    let mut signed = parse(&wire.method, &wire.path, &wire.query, &wire.headers)?;
    if signed.access_key_id != AKID {
        return Err(SigError::UnknownAccessKey {
            access_key_id: signed.access_key_id,
        });
    }
    if signed.needs_body_hash() {
        signed.set_body_hash(&sha256_hex(&wire.body));
    }
    verify(
        &signed,
        secret,
        &wire.method,
        &wire.path,
        &wire.query,
        &wire.headers,
        now,
    )
}

pub fn parsed(wire: &Wire) -> Signed {
    parse(&wire.method, &wire.path, &wire.query, &wire.headers).unwrap()
}

pub fn set_header(h: &mut HeaderMap, name: &str, value: &str) {
    h.insert(
        HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
}

/// A header map from `name: value` lines.
pub fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in lines {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}
