//! SigV4 for requests parapet builds itself (SQS JSON calls, S3 GetObject), through the
//! official `aws-sigv4`, with S3's rules where S3 is the service.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("header {0} is not visible ASCII and cannot be signed")]
    Header(String),
    #[error("signing the {service} request failed: {why}")]
    Sign { service: String, why: String },
}

/// Add `authorization`, `x-amz-date` (and `x-amz-security-token`, and for S3
/// `x-amz-content-sha256`) to `request`, whose body is `payload`. The request's URI
/// must be absolute and its headers final except for these.
pub fn sign_request<B>(
    request: &mut http::Request<B>,
    payload: &[u8],
    creds: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), SignError> {
    let failed = |why: String| SignError::Sign {
        service: service.to_string(),
        why,
    };
    let identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3 signs the path as sent (no normalisation, no double encoding) and wants
        // the payload hash in a header.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| failed(e.to_string()))?
        .into();
    let uri = request.uri().to_string();
    let mut pairs = Vec::with_capacity(request.headers().len());
    for (k, v) in request.headers() {
        let v = v
            .to_str()
            .map_err(|_| SignError::Header(k.as_str().to_string()))?;
        pairs.push((k.as_str(), v));
    }
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        pairs.into_iter(),
        SignableBody::Bytes(payload),
    )
    .map_err(|e| failed(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn signed(service: &str, uri: &str, token: Option<&str>) -> http::Request<()> {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(String::from),
            None,
            "test",
        );
        let mut r = http::Request::get(uri)
            .header("host", http::Uri::try_from(uri).unwrap().host().unwrap())
            .body(())
            .unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        sign_request(&mut r, b"", &creds, service, "us-east-1", at).unwrap();
        r
    }

    #[test]
    fn the_aws_documentation_example_signs_alike() {
        // "Examples of the complete Signature Version 4 signing process" (IAM ListUsers),
        // without its content-type header.
        let r = signed(
            "iam",
            "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            None,
        );
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature="),
            "{auth}"
        );
        assert_eq!(r.headers()["x-amz-date"], "20150830T123600Z");
        assert!(!auth.contains("wJalr"));
    }

    #[test]
    fn s3_hashes_the_payload_and_sessions_carry_their_token() {
        let r = signed("s3", "https://b.s3.amazonaws.com/a%20b/c", Some("tok"));
        assert_eq!(
            r.headers()["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(r.headers()["x-amz-security-token"], "tok");
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(auth.contains("x-amz-security-token"), "{auth}");
    }
}
