//! Any request head as SigV4: parse refuses or reads it, never panics; what it reads is
//! canonicalized and verified without a panic either.
//!
//! Input: first line `METHOD path?query`, then `name: value` header lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.trim().as_bytes()),
            http::HeaderValue::from_str(value.trim_start()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let Ok(mut signed) = parapet_sigv4::parse(method, path, query, &headers) else {
        return;
    };
    assert!(signed.signed_headers.windows(2).all(|w| w[0] < w[1]));
    assert!(signed.signed_headers.iter().any(|h| h == "host"));
    assert_eq!(signed.signature.len(), 64);
    if signed.needs_body_hash() {
        signed.set_body_hash(parapet_sigv4::EMPTY_SHA256);
    }
    let _ = parapet_sigv4::canonical_request(&signed, method, path, query, &headers);
    let _ = parapet_sigv4::verify(
        &signed,
        "fuzz-secret",
        method,
        path,
        query,
        &headers,
        signed.timestamp,
    );
});
