//! Requests signed by the official signer (`aws-sigv4`, as the Rust SDK uses it) verify with
//! ours, in header and presigned form, for S3 and other services; each part changed is refused.

mod common;

use common::*;
use parapet_sigv4::{sha256_hex, verify, PayloadHash, PayloadHasher, SigError, MAX_SKEW_SECONDS};

const PATHS: &[&str] = &[
    "/",
    "",
    "/a/b/c",
    "/a/./b/../c",
    "//double//slashes//",
    "/%E2%82%AC/%E1%88%B4",
    "/key%20with%20space",
    "/a!$&'()*+,;=:@b",
    "/~user/-._",
    "/%2F/%25",
    "/trailing/",
    "/..",
];

const QUERIES: &[&str] = &[
    "",
    "a=1",
    "b=2&a=1&a=0",
    "empty=&noval&x=%20y",
    "%E1%88%B4=%E2%82%AC&z=a+b",
    "list-type=2&prefix=photos%2F2026%2F&delimiter=%2F",
    "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName",
    "uploads",
    "q=%21%27%28%29%2A",
];

fn base_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (i, path) in PATHS.iter().enumerate() {
        for (j, query) in QUERIES.iter().enumerate() {
            for service in ["s3", "ec2", "execute-api"] {
                let mut c = Case::new(
                    ["GET", "PUT", "POST", "DELETE", "HEAD"][(i + j) % 5],
                    path,
                    query,
                    service,
                );
                c.time += (i * 1000 + j * 37) as i64;
                c.headers = vec![
                    ("x-amz-meta-note".into(), format!("  spaced   value {i}  ")),
                    ("x-custom".into(), "first".into()),
                    ("x-custom".into(), "second, third".into()),
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded; charset=utf-8".into(),
                    ),
                ];
                if j % 3 == 0 {
                    c.headers.push(("x-empty".into(), String::new()));
                }
                c.body = format!("Action=Test&Index={i}-{j}").into_bytes();
                if (i + j) % 4 == 0 {
                    c.session_token = Some(format!("session/token+{i}=="));
                }
                out.push(c);
            }
        }
    }
    out
}

fn presigned(mut c: Case, expires: u64) -> Case {
    c.presign_expires = Some(expires);
    c.body.clear();
    if c.s3() {
        c.body_mode = Body::Unsigned;
    }
    c
}

#[test]
fn header_form_signed_by_aws_sigv4_verifies() {
    let mut n = 0;
    for case in base_cases() {
        let wire = sign_case(&case, SECRET);
        let v = check(&wire, SECRET, case.time + 5)
            .unwrap_or_else(|e| panic!("{case:?}\n{wire:?}\n{e}"));
        assert_eq!(v.access_key_id, AKID);
        assert_eq!(v.timestamp, case.time);
        assert_eq!(v.valid_until, case.time + MAX_SKEW_SECONDS);
        if case.s3() {
            // S3 declares the body hash: the body must match it.
            let declared = v
                .payload
                .declared_hex()
                .expect("s3 declares the body hash")
                .to_owned();
            let mut h = PayloadHasher::new(&declared);
            h.update(&wire.body);
            h.finish().unwrap();
        }
        n += 1;
    }
    assert!(n > 300, "{n}");
}

#[test]
fn presigned_form_signed_by_aws_sigv4_verifies() {
    for (k, case) in base_cases().into_iter().enumerate() {
        let expires = [1, 60, 3600, 604_800][k % 4];
        let case = presigned(case, expires);
        let wire = sign_case(&case, SECRET);
        let signed = parsed(&wire);
        assert_eq!(signed.presigned_expires, Some(expires as i64));
        assert_eq!(signed.security_token, case.session_token);
        for now in [
            case.time - MAX_SKEW_SECONDS,
            case.time,
            case.time + expires as i64,
        ] {
            check(&wire, SECRET, now).unwrap_or_else(|e| panic!("{case:?}\n{wire:?}\n{e}"));
        }
        assert!(matches!(
            check(&wire, SECRET, case.time + expires as i64 + 1),
            Err(SigError::Expired { .. })
        ));
        assert!(matches!(
            check(&wire, SECRET, case.time - MAX_SKEW_SECONDS - 1),
            Err(SigError::NotYetValid { .. })
        ));
    }
}

#[test]
fn s3_payload_modes_verify() {
    for mode in [
        Body::Unsigned,
        Body::StreamingUnsignedTrailer,
        Body::StreamingSignedTrailer,
    ] {
        let mut c = Case::new("PUT", "/bucket/key%20name.bin", "x-id=PutObject", "s3");
        c.body_mode = mode;
        c.headers = vec![
            ("content-encoding".into(), "aws-chunked".into()),
            ("x-amz-decoded-content-length".into(), "5".into()),
        ];
        let wire = sign_case(&c, SECRET);
        let v = check(&wire, SECRET, c.time).unwrap();
        let expected = match mode {
            Body::Unsigned => PayloadHash::Unsigned,
            Body::StreamingUnsignedTrailer => PayloadHash::StreamingUnsignedTrailer,
            _ => PayloadHash::StreamingSignedTrailer,
        };
        assert_eq!(v.payload, expected);
    }
}

fn refused(wire: &Wire, secret: &str, now: i64, what: &str) -> SigError {
    match check(wire, secret, now) {
        Ok(_) => panic!("{what}: a tampered request verified: {wire:?}"),
        Err(e) => e,
    }
}

fn other_char(c: char) -> char {
    if c == 'q' {
        'z'
    } else {
        'q'
    }
}

/// Every part of a signed request, changed, is refused.
#[test]
fn each_part_tampered_is_refused() {
    for case in base_cases().into_iter().step_by(3) {
        for case in [case.clone(), presigned(case, 900)] {
            let wire = sign_case(&case, SECRET);
            let now = case.time + 1;
            check(&wire, SECRET, now).unwrap();

            let mut w = wire.clone();
            w.method = if w.method == "GET" {
                "POST".into()
            } else {
                "GET".into()
            };
            assert_eq!(
                refused(&w, SECRET, now, "method"),
                SigError::SignatureDoesNotMatch
            );

            let mut w = wire.clone();
            w.path = format!("{}x", w.path.trim_end_matches('/'));
            assert_eq!(
                refused(&w, SECRET, now, "path"),
                SigError::SignatureDoesNotMatch
            );

            let mut w = wire.clone();
            w.query = if w.query.is_empty() {
                "added=1".into()
            } else {
                format!("{}&added=1", w.query)
            };
            assert_eq!(
                refused(&w, SECRET, now, "query added"),
                SigError::SignatureDoesNotMatch
            );

            if let Some(pos) = wire.query.find("a=1") {
                let mut w = wire.clone();
                w.query.replace_range(pos + 2..pos + 3, "2");
                assert_eq!(
                    refused(&w, SECRET, now, "query value"),
                    SigError::SignatureDoesNotMatch
                );
            }

            let mut w = wire.clone();
            let v = w
                .headers
                .get("x-custom")
                .unwrap()
                .to_str()
                .unwrap()
                .replace("first", "fir5t");
            let all: Vec<_> = w
                .headers
                .get_all("x-custom")
                .iter()
                .skip(1)
                .cloned()
                .collect();
            set_header(&mut w.headers, "x-custom", &v);
            for rest in all {
                w.headers.append("x-custom", rest);
            }
            assert_eq!(
                refused(&w, SECRET, now, "header"),
                SigError::SignatureDoesNotMatch
            );

            let mut w = wire.clone();
            w.headers.remove("x-custom");
            assert!(matches!(
                refused(&w, SECRET, now, "header removed"),
                SigError::SignedHeaderAbsent { .. }
            ));

            let mut w = wire.clone();
            let host = w.headers.get("host").unwrap().to_str().unwrap().to_owned();
            set_header(&mut w.headers, "host", &format!("{host}.evil"));
            assert_eq!(
                refused(&w, SECRET, now, "host"),
                SigError::SignatureDoesNotMatch
            );

            // The body: a different declared hash (S3 header form) or a different body.
            if case.s3() && case.presign_expires.is_none() {
                let mut w = wire.clone();
                set_header(
                    &mut w.headers,
                    "x-amz-content-sha256",
                    &sha256_hex(b"other body"),
                );
                assert_eq!(
                    refused(&w, SECRET, now, "declared hash"),
                    SigError::SignatureDoesNotMatch
                );
            } else if !case.s3() {
                let mut w = wire.clone();
                w.body.push(b'!');
                assert_eq!(
                    refused(&w, SECRET, now, "body"),
                    SigError::SignatureDoesNotMatch
                );
            }

            // The date: one second later, same day.
            let mut w = wire.clone();
            let later = |d: &str| {
                let secs: i64 = d[13..15].parse().unwrap();
                format!("{}{:02}Z", &d[..13], (secs + 1) % 60)
            };
            if case.presign_expires.is_none() {
                let d = w
                    .headers
                    .get("x-amz-date")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                set_header(&mut w.headers, "x-amz-date", &later(&d));
            } else {
                let pos = w.query.find("X-Amz-Date=").unwrap() + "X-Amz-Date=".len();
                let d = w.query[pos..pos + 16].to_owned();
                w.query.replace_range(pos..pos + 16, &later(&d));
            }
            assert_eq!(
                refused(&w, SECRET, now, "date"),
                SigError::SignatureDoesNotMatch
            );

            // Region and service in the credential scope.
            for (from, to) in [
                ("/us-east-1/", "/us-west-2/"),
                (&*format!("/{}/", case.service), "/sts/"),
            ] {
                let mut w = wire.clone();
                if case.presign_expires.is_none() {
                    let a = w
                        .headers
                        .get("authorization")
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .replace(from, to);
                    set_header(&mut w.headers, "authorization", &a);
                } else {
                    let enc = |s: &str| s.replace('/', "%2F");
                    w.query = w.query.replace(&enc(from), &enc(to));
                }
                let e = refused(&w, SECRET, now, "scope");
                assert!(
                    e == SigError::SignatureDoesNotMatch
                        || matches!(e, SigError::MissingContentSha256),
                    "{e:?}"
                );
            }

            // The signature itself, one hex digit changed.
            let mut signed = parsed(&wire);
            if signed.needs_body_hash() {
                signed.set_body_hash(&sha256_hex(&wire.body));
            }
            let mut bad = signed.clone();
            let c = bad.signature.remove(10);
            bad.signature.insert(10, if c == '0' { '1' } else { '0' });
            let e = verify(
                &bad,
                SECRET,
                &wire.method,
                &wire.path,
                &wire.query,
                &wire.headers,
                now,
            )
            .unwrap_err();
            assert_eq!(e, SigError::SignatureDoesNotMatch);

            // Another key.
            let other = format!(
                "{}{}",
                &SECRET[..20],
                other_char(SECRET.chars().nth(20).unwrap())
            );
            assert_eq!(
                refused(&wire, &other, now, "key"),
                SigError::SignatureDoesNotMatch
            );

            // Outside the clock window.
            if case.presign_expires.is_none() {
                let e = refused(&wire, SECRET, case.time + MAX_SKEW_SECONDS + 1, "late");
                assert_eq!(e.aws_code(), "RequestTimeTooSkewed");
                let e = refused(&wire, SECRET, case.time - MAX_SKEW_SECONDS - 1, "early");
                assert_eq!(e.aws_code(), "RequestTimeTooSkewed");
                check(&wire, SECRET, case.time + MAX_SKEW_SECONDS).unwrap();
                check(&wire, SECRET, case.time - MAX_SKEW_SECONDS).unwrap();
            }

            // Headers added after signing change nothing (they are not signed; the proxy is
            // told which x-amz-* ones to strip).
            let mut w = wire.clone();
            set_header(&mut w.headers, "x-amz-acl", "public-read");
            set_header(&mut w.headers, "user-agent", "added");
            check(&w, SECRET, now).unwrap();
            assert!(parsed(&w)
                .unsigned_amz_headers(&w.headers)
                .contains(&"x-amz-acl".to_owned()));
        }
    }
}

#[test]
fn s3_body_that_does_not_match_its_declared_hash_is_refused() {
    let mut c = Case::new("PUT", "/bucket/object", "", "s3");
    c.body = b"the real body".to_vec();
    let wire = sign_case(&c, SECRET);
    let v = check(&wire, SECRET, c.time).unwrap();
    let mut h = PayloadHasher::new(v.payload.declared_hex().unwrap());
    h.update(b"the real bodY");
    let e = h.finish().unwrap_err();
    assert_eq!(e.aws_code(), "XAmzContentSHA256Mismatch");
}
