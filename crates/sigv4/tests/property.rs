//! Properties against the official signer: any request `aws-sigv4` signs verifies; any single
//! byte of it changed (method, path, query, a header, the body, the signature) does not.

mod common;

use common::*;
use proptest::prelude::*;

/// Encodes a raw segment for the wire: unreserved bytes as they are, `keep` sub-delimiters
/// raw (legal in a path), everything else `%XX`.
fn wire_encode(s: &str, keep_subdelims: bool, space_plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b',' | b';' | b':' | b'@'
                if keep_subdelims =>
            {
                out.push(b as char)
            }
            b' ' if space_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

prop_compose! {
    fn segment()(s in "[a-zA-Z0-9 ._~!$'()*+,;=:@%ሴ€-]{0,8}") -> String {
        // Dot-only segments would be removed by non-S3 path normalization.
        if !s.is_empty() && s.bytes().all(|b| b == b'.') { format!("{s}x") } else { s }
    }
}

prop_compose! {
    fn case()(
        service in prop::sample::select(vec!["s3", "ec2", "iam", "execute-api", "sts"]),
        method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]),
        segments in prop::collection::vec(segment(), 0..4),
        trailing_slash in any::<bool>(),
        keep_subdelims in any::<bool>(),
        query in prop::collection::vec(("[a-zA-Z0-9 ._~!*'()&=+ሴ-]{0,6}", "[a-zA-Z0-9 ._~!*'()&=+/ሴ-]{0,8}"), 0..4),
        space_plus in any::<bool>(),
        headers in prop::collection::vec((prop::sample::select(vec!["x-a", "x-b", "x-amz-meta-c", "content-type", "range"]), "[ -~]{0,12}"), 0..5),
        body in prop::collection::vec(any::<u8>(), 0..64),
        time in 1_500_000_000i64..1_900_000_000,
        presign in prop::option::of(1u64..=604_800),
        token in prop::option::of("[A-Za-z0-9/+=]{1,24}"),
        unsigned in any::<bool>(),
        region in prop::sample::select(vec!["us-east-1", "eu-west-3", "ap-southeast-2"]),
    ) -> Case {
        let mut path = String::new();
        for s in &segments {
            path.push('/');
            path.push_str(&wire_encode(s, keep_subdelims, false));
        }
        if path.is_empty() || trailing_slash {
            path.push('/');
        }
        let query = query
            .iter()
            .map(|(k, v)| format!("{}={}", wire_encode(k, false, space_plus), wire_encode(v, false, space_plus)))
            .collect::<Vec<_>>()
            .join("&");
        let mut c = Case::new(method, &path, &query, service);
        c.headers = headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        c.body = body;
        c.time = time;
        c.region = region.into();
        c.session_token = token;
        c.presign_expires = presign;
        if c.s3() && (unsigned || presign.is_some()) {
            c.body_mode = Body::Unsigned;
        }
        if presign.is_some() {
            c.body.clear();
        }
        c
    }
}

fn in_window(c: &Case, pick: i64) -> i64 {
    match c.presign_expires {
        Some(e) => c.time - 900 + pick.rem_euclid(900 + e as i64 + 1),
        None => c.time - 900 + pick.rem_euclid(1801),
    }
}

/// Byte positions that carry meaning in each part (alphanumerics: never an equivalent form).
fn alnum_positions(s: &str) -> Vec<usize> {
    s.bytes()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_alphanumeric())
        .map(|(i, _)| i)
        .collect()
}

fn replaced(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] = if b[at] == b'q' { b'z' } else { b'q' };
    String::from_utf8(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn signed_by_aws_sigv4_verifies(c in case(), pick in any::<i64>()) {
        let wire = sign_case(&c, SECRET);
        let now = in_window(&c, pick);
        let v = check(&wire, SECRET, now);
        prop_assert!(v.is_ok(), "{:?}\n{:?}\n{:?}", c, wire, v);
    }

    #[test]
    fn any_single_byte_changed_is_refused(c in case(), part in 0usize..6, pick in any::<usize>()) {
        let wire = sign_case(&c, SECRET);
        let now = c.time;
        prop_assert!(check(&wire, SECRET, now).is_ok());
        let mut w = wire.clone();
        let changed = match part {
            0 => { let p = alnum_positions(&w.method); w.method = replaced(&w.method, p[pick % p.len()]); true }
            1 => {
                let p = alnum_positions(&w.path);
                if p.is_empty() { false } else { w.path = replaced(&w.path, p[pick % p.len()]); true }
            }
            2 => {
                let p = alnum_positions(&w.query);
                if p.is_empty() { false } else { w.query = replaced(&w.query, p[pick % p.len()]); true }
            }
            3 | 4 => {
                // Any header the signer set or signed: host, x-amz-date, authorization, ...
                let names: Vec<_> = w.headers.keys().cloned().collect();
                let name = &names[pick % names.len()];
                let values: Vec<String> = w.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
                let i = pick / names.len() % values.len();
                let p = alnum_positions(&values[i]);
                if p.is_empty() { false } else {
                    let mut values = values;
                    values[i] = replaced(&values[i], p[pick / 7 % p.len()]);
                    w.headers.remove(name);
                    for v in values { w.headers.append(name.clone(), v.parse().unwrap()); }
                    true
                }
            }
            _ => {
                // The body: covered by the signature when the caller hashes it (non-S3);
                // S3 bodies are checked against the declared hash by PayloadHasher instead.
                if c.s3() || w.body.is_empty() { false } else { let i = pick % w.body.len(); w.body[i] ^= 1; true }
            }
        };
        if changed {
            let r = check(&w, SECRET, now);
            prop_assert!(r.is_err(), "part {} changed and still verified:\n{:?}\n{:?}", part, wire, w);
        }
    }
}
