//! AWS Signature Version 4 for the few requests parapet makes (SQS, S3 GetObject):
//! a small, tested implementation instead of the generated SDK crates.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Credentials from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// optional `AWS_SESSION_TOKEN`). Never printed: `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, secret hidden)", self.access_key_id)
    }
}

impl Credentials {
    pub fn from_env() -> Result<Credentials, String> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Credentials {
            access_key_id: get("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
            secret_access_key: get("AWS_SECRET_ACCESS_KEY")
                .ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
            session_token: get("AWS_SESSION_TOKEN"),
        })
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths when `keep_slash`).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A request to sign.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    /// Already encoded as it will be sent.
    pub path: &'a str,
    /// Decoded (name, value) pairs.
    pub query: &'a [(&'a str, &'a str)],
    /// Extra headers to sign (lowercase names), besides host and x-amz-*.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// The headers to add: `authorization`, `x-amz-date`, `x-amz-content-sha256` and, with
/// a session token, `x-amz-security-token`. `amz_date` is `YYYYMMDDTHHMMSSZ`.
pub fn sign(
    r: &Request,
    region: &str,
    service: &str,
    creds: &Credentials,
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8];
    let payload_hash = sha256_hex(r.payload);
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.push(("host".into(), r.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.to_string()));
    if service == "s3" {
        headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
    }
    if let Some(t) = &creds.session_token {
        headers.push(("x-amz-security-token".into(), t.clone()));
    }
    headers.sort();
    let mut query: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: String = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method, r.path, canonical_query, canonical_headers, signed, payload_hash
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    let mut out = vec![
        (
            "authorization".to_string(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                creds.access_key_id
            ),
        ),
        ("x-amz-date".to_string(), amz_date.to_string()),
    ];
    if service == "s3" {
        out.push(("x-amz-content-sha256".to_string(), payload_hash));
    }
    if let Some(t) = &creds.session_token {
        out.push(("x-amz-security-token".to_string(), t.clone()));
    }
    out
}

/// Now as `YYYYMMDDTHHMMSSZ`.
pub fn amz_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    parapet_model::time::rfc3339(secs).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_documentation_example_signs_alike() {
        // "Examples of the complete Signature Version 4 signing process" (IAM ListUsers).
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let r = Request {
            method: "GET",
            host: "iam.amazonaws.com",
            path: "/",
            query: &[("Action", "ListUsers"), ("Version", "2010-05-08")],
            headers: &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            payload: b"",
        };
        let h = sign(&r, "us-east-1", "iam", &creds, "20150830T123600Z");
        assert_eq!(
            h[0].1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert!(!format!("{creds:?}").contains("wJalr"));
        assert_eq!(uri_encode("a b/ü", true), "a%20b/%C3%BC");
        assert_eq!(amz_now().len(), 16);
    }
}
