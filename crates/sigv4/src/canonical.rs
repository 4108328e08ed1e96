//! The canonical request and string to sign, byte for byte as AWS builds them
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>) and as the
//! official signer (`aws-sigv4`) does for the raw path and query an SDK puts on the wire.

use crate::{PayloadHash, SigError, Signed};
use http::HeaderMap;
use sha2::{Digest, Sha256};

/// How the path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// S3: the path exactly as the client sent it (already URI-encoded once, not normalized).
    S3,
    /// Every other service: dot segments and repeated slashes removed, then the (already
    /// encoded) path URI-encoded again, so `%20` becomes `%2520`.
    Double,
}

impl PathEncoding {
    /// S3 (and S3 Object Lambda, signed the same way) encode once; the rest twice.
    pub fn for_service(service: &str) -> PathEncoding {
        if is_s3(service) {
            PathEncoding::S3
        } else {
            PathEncoding::Double
        }
    }
}

pub(crate) fn is_s3(service: &str) -> bool {
    matches!(service, "s3" | "s3-object-lambda")
}

/// RFC 3986 unreserved: the only bytes UriEncode leaves alone.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// AWS's UriEncode: every byte but the unreserved ones as `%XX` (uppercase hex).
pub(crate) fn uri_encode_into(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding as the official signer reads a query:
/// `+` is a space, `%XX` a byte, a `%` not followed by two hex digits stays literal.
/// Bytes are kept as they are (no lossy UTF-8): an invalid sequence then cannot verify
/// against a signer that replaced it, which fails closed.
pub(crate) fn form_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex_val(s[i + 1]), hex_val(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Remove `.`/`..` segments and empty segments, as the official signer normalizes a
/// non-S3 path (a trailing slash is kept).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    if !(path.contains('.') || path.contains("//")) && path.starts_with('/') {
        return path.into();
    }
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segs {
        out.push('/');
        out.push_str(s);
    }
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|t| path.ends_with(t));
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw request path (as on the wire, without the query).
pub fn canonical_uri(raw_path: &str, encoding: PathEncoding) -> String {
    match encoding {
        PathEncoding::S3 if raw_path.is_empty() => "/".into(),
        PathEncoding::S3 => raw_path.into(),
        PathEncoding::Double => {
            let normalized = normalize_path(raw_path);
            let mut out = Vec::with_capacity(normalized.len() + 8);
            uri_encode_into(&mut out, normalized.as_bytes(), true);
            // Only ASCII comes out of uri_encode_into.
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

/// The canonical query string of a raw query (without `?`): each name and value decoded and
/// URI-encoded again, pairs sorted by encoded name then value. `presigned` leaves out
/// `X-Amz-Signature`, which cannot sign itself.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for piece in raw_query.as_bytes().split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (k, v) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let k = form_decode(k);
        if presigned && k == b"X-Amz-Signature" {
            continue;
        }
        let (mut ek, mut ev) = (Vec::with_capacity(k.len()), Vec::with_capacity(v.len()));
        uri_encode_into(&mut ek, &k, false);
        uri_encode_into(&mut ev, &form_decode(v), false);
        pairs.push((ek, ev));
    }
    pairs.sort_unstable();
    let mut out = Vec::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Trim spaces at both ends and collapse runs of spaces into one.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if !prev_space {
                out.push(b);
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
}

/// `name:value\n` for each signed header, in SignedHeaders' order; repeated headers'
/// values joined with commas in the order they came.
fn push_canonical_headers(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    signed: &[String],
) -> Result<(), SigError> {
    for name in signed {
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(SigError::SignedHeaderAbsent { name: name.clone() });
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for v in values {
            if !first {
                out.push(b',');
            }
            first = false;
            push_trimmed(out, v.as_bytes());
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The canonical request of `signed` over this request, with the path encoding of its
/// service. Errors if a signed header is absent or the payload hash is not known yet.
pub fn canonical_request(
    signed: &Signed,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<String, SigError> {
    canonical_request_with(
        signed,
        method,
        path,
        query,
        headers,
        PathEncoding::for_service(&signed.service),
    )
}

/// [`canonical_request`] with an explicit path encoding.
pub fn canonical_request_with(
    signed: &Signed,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    encoding: PathEncoding,
) -> Result<String, SigError> {
    let bytes = canonical_bytes(signed, method, path, query, headers, encoding)?;
    // Header values may hold obs-text bytes: shown lossily here, hashed exactly below.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// SHA-256 of the canonical request's exact bytes.
pub(crate) fn canonical_request_hash(
    signed: &Signed,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    encoding: PathEncoding,
) -> Result<[u8; 32], SigError> {
    let bytes = canonical_bytes(signed, method, path, query, headers, encoding)?;
    Ok(Sha256::digest(&bytes).into())
}

fn canonical_bytes(
    signed: &Signed,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    encoding: PathEncoding,
) -> Result<Vec<u8>, SigError> {
    let payload = match &signed.payload {
        PayloadHash::Missing => {
            return Err(SigError::BodyHashRequired {
                service: signed.service.clone(),
            })
        }
        p => p.canonical().unwrap_or_default(),
    };
    let mut out = Vec::with_capacity(256 + path.len() + query.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(path, encoding).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(query, signed.presigned_expires.is_some()).as_bytes());
    out.push(b'\n');
    push_canonical_headers(&mut out, headers, &signed.signed_headers)?;
    out.push(b'\n');
    for (i, h) in signed.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(h.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, creq_hash: &[u8; 32]) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(creq_hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths() {
        let d = PathEncoding::Double;
        assert_eq!(canonical_uri("", d), "/");
        assert_eq!(canonical_uri("/", d), "/");
        assert_eq!(canonical_uri("/example/..", d), "/");
        assert_eq!(canonical_uri("/example1/example2/../..", d), "/");
        assert_eq!(canonical_uri("/./", d), "/");
        assert_eq!(canonical_uri("/./example", d), "/example");
        assert_eq!(canonical_uri("//example//", d), "/example/");
        assert_eq!(canonical_uri("/example space/", d), "/example%20space/");
        assert_eq!(canonical_uri("/a%20b", d), "/a%2520b");
        assert_eq!(canonical_uri("/a!b", d), "/a%21b");
        assert_eq!(canonical_uri("/-._~0-9A-Za-z", d), "/-._~0-9A-Za-z");
        assert_eq!(
            canonical_uri("/a%20b/../c//", PathEncoding::S3),
            "/a%20b/../c//"
        );
        assert_eq!(canonical_uri("", PathEncoding::S3), "/");
    }

    #[test]
    fn queries() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", false),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(
            canonical_query("-._~0-9A-Za-z=-._~0-9A-Za-z", false),
            "-._~0-9A-Za-z=-._~0-9A-Za-z"
        );
        assert_eq!(
            canonical_query("a=b+c&d=%zz&e&&f=", false),
            "a=b%20c&d=%25zz&e=&f="
        );
        assert_eq!(canonical_query("%E1%88%B4=x", false), "%E1%88%B4=x");
        assert_eq!(canonical_query("b=1&a%3D=2", false), "a%3D=2&b=1");
        assert_eq!(canonical_query("X-Amz-Signature=ab&x=1", true), "x=1");
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&x=1", false),
            "X-Amz-Signature=ab&x=1"
        );
        assert_eq!(canonical_query("a=%", false), "a=%25");
        assert_eq!(canonical_query("a=%4", false), "a=%254");
        assert_eq!(canonical_query("a=%41", false), "a=A");
    }

    #[test]
    fn trimming() {
        let mut v = Vec::new();
        push_trimmed(&mut v, b"  a   b  c ");
        assert_eq!(v, b"a b c");
        v.clear();
        push_trimmed(&mut v, b"   ");
        assert_eq!(v, b"");
    }
}
