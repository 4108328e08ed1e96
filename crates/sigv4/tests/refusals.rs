//! What `parse` refuses, each with the part named and the AWS code a client expects.

mod common;

use common::headers;
use http::HeaderMap;
use parapet_sigv4::{parse, PayloadHash, SigError};

const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request";

fn auth(cred: &str, signed: &str, sig: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}")
}

fn with_auth(value: &str) -> HeaderMap {
    headers(&[
        ("host", "ec2.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", value),
    ])
}

fn refuse(query: &str, h: &HeaderMap) -> SigError {
    match parse("GET", "/", query, h) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e,
    }
}

fn presign(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

const GOOD_QUERY: &[(&str, &str)] = &[
    ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
    (
        "X-Amz-Credential",
        "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fs3%2Faws4_request",
    ),
    ("X-Amz-Date", "20150830T123600Z"),
    ("X-Amz-Expires", "3600"),
    ("X-Amz-SignedHeaders", "host"),
    ("X-Amz-Signature", SIG),
];

fn host_only() -> HeaderMap {
    headers(&[("host", "bucket.s3.amazonaws.com")])
}

#[test]
fn well_formed_requests_parse() {
    let s = parse(
        "GET",
        "/",
        "",
        &with_auth(&auth(CRED, "host;x-amz-date", SIG)),
    )
    .unwrap();
    assert_eq!(
        (
            s.access_key_id.as_str(),
            s.date.as_str(),
            s.region.as_str(),
            s.service.as_str()
        ),
        ("AKIDEXAMPLE", "20150830", "us-east-1", "ec2")
    );
    assert_eq!(s.payload, PayloadHash::Missing);
    assert_eq!(s.timestamp, 1_440_938_160);
    // No spaces after the commas, components in another order.
    let v =
        format!("AWS4-HMAC-SHA256 Signature={SIG},Credential={CRED},SignedHeaders=host;x-amz-date");
    assert!(parse("GET", "/", "", &with_auth(&v)).is_ok());
    let s = parse("GET", "/k", &presign(GOOD_QUERY), &host_only()).unwrap();
    assert_eq!(s.presigned_expires, Some(3600));
    assert_eq!(s.payload, PayloadHash::Unsigned);
    // Dated by the Date header when there is no x-amz-date.
    let h = headers(&[
        ("host", "h"),
        ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ("authorization", &auth(CRED, "date;host", SIG)),
    ]);
    assert_eq!(parse("GET", "/", "", &h).unwrap().timestamp, 1_440_938_160);
}

#[test]
fn no_signature_at_all() {
    let e = refuse("", &headers(&[("host", "h")]));
    assert_eq!(e, SigError::MissingAuthentication);
    assert_eq!(e.aws_code(), "MissingAuthenticationToken");
}

#[test]
fn both_forms_and_duplicates() {
    let mut h = with_auth(&auth(CRED, "host;x-amz-date", SIG));
    let e = refuse(&format!("X-Amz-Signature={SIG}"), &h);
    assert!(matches!(e, SigError::BothForms { .. }), "{e:?}");
    assert_eq!(e.aws_code(), "InvalidArgument");
    h.append(
        "authorization",
        auth(CRED, "host;x-amz-date", SIG).parse().unwrap(),
    );
    assert!(matches!(refuse("", &h), SigError::Duplicate { .. }));
    for dup in [
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-Credential",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Algorithm",
        "X-Amz-Security-Token",
    ] {
        let mut q = presign(GOOD_QUERY);
        q.push_str(&format!("&{dup}=x"));
        if dup == "X-Amz-Security-Token" {
            q.push_str(&format!("&{dup}=y"));
        }
        let e = refuse(&q, &host_only());
        assert!(
            matches!(&e, SigError::Duplicate { what } if what.contains(dup)),
            "{dup}: {e:?}"
        );
    }
    // Encoded names are the same names.
    let q = format!("{}&X-Amz-%53ignature={SIG}", presign(GOOD_QUERY));
    assert!(matches!(
        refuse(&q, &host_only()),
        SigError::Duplicate { .. }
    ));
    let v = format!("AWS4-HMAC-SHA256 Credential={CRED}, Credential={CRED}, SignedHeaders=host;x-amz-date, Signature={SIG}");
    assert!(matches!(
        refuse("", &with_auth(&v)),
        SigError::Duplicate { .. }
    ));
    let mut h = with_auth(&auth(CRED, "host;x-amz-date", SIG));
    h.append("x-amz-date", "20150830T123600Z".parse().unwrap());
    assert!(matches!(refuse("", &h), SigError::Duplicate { .. }));
}

#[test]
fn algorithms() {
    let e = refuse(
        "",
        &with_auth(
            &auth(CRED, "host;x-amz-date", SIG)
                .replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
        ),
    );
    assert!(matches!(e, SigError::SigV4aNotSupported { .. }));
    assert!(e.to_string().contains("not supported"));
    assert!(matches!(
        refuse("", &with_auth("AWS AKIDEXAMPLE:c2lnbmF0dXJl")),
        SigError::UnsupportedAlgorithm { .. }
    ));
    assert!(matches!(
        refuse("", &with_auth("Bearer abc")),
        SigError::UnsupportedAlgorithm { .. }
    ));
    let q: Vec<_> = GOOD_QUERY
        .iter()
        .map(|&(k, v)| {
            if k == "X-Amz-Algorithm" {
                (k, "AWS4-HMAC-SHA1")
            } else {
                (k, v)
            }
        })
        .collect();
    assert!(matches!(
        refuse(&presign(&q), &host_only()),
        SigError::UnsupportedAlgorithm { .. }
    ));
    let mut h = with_auth(&auth(
        "AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request",
        "host;x-amz-content-sha256;x-amz-date",
        SIG,
    ));
    h.insert(
        "x-amz-content-sha256",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD".parse().unwrap(),
    );
    assert!(matches!(
        refuse("", &h),
        SigError::SigV4aNotSupported { .. }
    ));
}

#[test]
fn malformed_scopes() {
    for (cred, needle) in [
        ("AKIDEXAMPLE/20150830/us-east-1/ec2", "expected"),
        (
            "AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request/x",
            "expected",
        ),
        (
            "AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_requesT",
            "aws4_request",
        ),
        (
            "AKIDEXAMPLE/20150830/us-east-1/ec2/aws5_request",
            "aws4_request",
        ),
        ("/20150830/us-east-1/ec2/aws4_request", "access key"),
        (
            "AKID-EXAMPLE/20150830/us-east-1/ec2/aws4_request",
            "access key",
        ),
        ("AKIDEXAMPLE/2015083/us-east-1/ec2/aws4_request", "date"),
        ("AKIDEXAMPLE/20150231/us-east-1/ec2/aws4_request", "date"),
        ("AKIDEXAMPLE/20150830//ec2/aws4_request", "region"),
        ("AKIDEXAMPLE/20150830/US-EAST-1/ec2/aws4_request", "region"),
        ("AKIDEXAMPLE/20150830/us-east-1//aws4_request", "service"),
    ] {
        let e = refuse("", &with_auth(&auth(cred, "host;x-amz-date", SIG)));
        assert!(
            matches!(&e, SigError::BadScope { detail, .. } if detail.contains(needle)),
            "{cred}: {e:?}"
        );
        assert_eq!(e.aws_code(), "IncompleteSignature");
    }
    // The scope date must be X-Amz-Date's date.
    let e = refuse(
        "",
        &with_auth(&auth(
            "AKIDEXAMPLE/20150831/us-east-1/ec2/aws4_request",
            "host;x-amz-date",
            SIG,
        )),
    );
    assert!(matches!(e, SigError::ScopeDateMismatch { .. }), "{e:?}");
}

#[test]
fn signed_headers() {
    for (list, expect_host) in [
        ("x-amz-date", true),
        ("host;x-amz-date;x-amz-date", false),
        ("x-amz-date;host", false),
        ("Host;x-amz-date", false),
        ("host;;x-amz-date", false),
        ("", false),
        ("host;x amz", false),
    ] {
        let e = refuse("", &with_auth(&auth(CRED, list, SIG)));
        if expect_host {
            assert!(matches!(e, SigError::HostNotSigned { .. }), "{list}: {e:?}");
        } else {
            assert!(
                matches!(e, SigError::BadSignedHeaders { .. }),
                "{list}: {e:?}"
            );
        }
    }
    // x-amz-date present but not signed.
    assert!(matches!(
        refuse("", &with_auth(&auth(CRED, "host", SIG))),
        SigError::DateNotSigned { .. }
    ));
    // Not a signature.
    for sig in [&SIG[..63], &SIG.to_uppercase(), &format!("{}g", &SIG[..63])] {
        assert!(matches!(
            refuse("", &with_auth(&auth(CRED, "host;x-amz-date", sig))),
            SigError::Malformed {
                what: "Signature",
                ..
            }
        ));
    }
    // Missing components.
    let v = format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x-amz-date");
    assert!(matches!(
        refuse("", &with_auth(&v)),
        SigError::Missing { .. }
    ));
    let v = format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x-amz-date, Signature={SIG}, Extra=1");
    assert!(matches!(
        refuse("", &with_auth(&v)),
        SigError::Malformed { .. }
    ));
}

#[test]
fn dates() {
    let h = headers(&[
        ("host", "h"),
        ("authorization", &auth(CRED, "host;x-amz-date", SIG)),
    ]);
    assert!(matches!(refuse("", &h), SigError::Missing { .. }));
    let h = headers(&[
        ("host", "h"),
        ("x-amz-date", "2015-08-30T12:36:00Z"),
        ("authorization", &auth(CRED, "host;x-amz-date", SIG)),
    ]);
    assert!(matches!(
        refuse("", &h),
        SigError::Malformed {
            what: "x-amz-date",
            ..
        }
    ));
    let q: Vec<_> = GOOD_QUERY
        .iter()
        .filter(|(k, _)| *k != "X-Amz-Date")
        .copied()
        .collect();
    assert!(matches!(
        refuse(&presign(&q), &host_only()),
        SigError::Missing { what: "X-Amz-Date" }
    ));
    let q: Vec<_> = GOOD_QUERY
        .iter()
        .map(|&(k, v)| {
            if k == "X-Amz-Date" {
                (k, "20150831T000000Z")
            } else {
                (k, v)
            }
        })
        .collect();
    assert!(matches!(
        refuse(&presign(&q), &host_only()),
        SigError::ScopeDateMismatch { .. }
    ));
}

#[test]
fn expires() {
    for bad in ["0", "604801", "-1", "1e3", "", "99999999999999999999"] {
        let q: Vec<_> = GOOD_QUERY
            .iter()
            .map(|&(k, v)| {
                if k == "X-Amz-Expires" {
                    (k, bad)
                } else {
                    (k, v)
                }
            })
            .collect();
        let e = refuse(&presign(&q), &host_only());
        assert!(matches!(e, SigError::BadExpires { .. }), "{bad}: {e:?}");
    }
    let q: Vec<_> = GOOD_QUERY
        .iter()
        .map(|&(k, v)| {
            if k == "X-Amz-Expires" {
                (k, "604800")
            } else {
                (k, v)
            }
        })
        .collect();
    assert!(parse("GET", "/", &presign(&q), &host_only()).is_ok());
    let q: Vec<_> = GOOD_QUERY
        .iter()
        .filter(|(k, _)| *k != "X-Amz-Expires")
        .copied()
        .collect();
    assert!(matches!(
        refuse(&presign(&q), &host_only()),
        SigError::Missing {
            what: "X-Amz-Expires"
        }
    ));
    for gone in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ] {
        let q: Vec<_> = GOOD_QUERY
            .iter()
            .filter(|(k, _)| *k != gone)
            .copied()
            .collect();
        assert!(
            matches!(refuse(&presign(&q), &host_only()), SigError::Missing { .. }),
            "{gone}"
        );
    }
}

#[test]
fn payload_hash_header() {
    let s3_auth = auth(
        "AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request",
        "host;x-amz-content-sha256;x-amz-date",
        SIG,
    );
    let h = with_auth(&s3_auth);
    let e = refuse("", &h);
    assert_eq!(e, SigError::MissingContentSha256);
    assert_eq!(e.aws_code(), "InvalidRequest");
    for bad in [
        "UNSIGNED",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "abc",
        "STREAMING-UNSIGNED-PAYLOAD",
    ] {
        let mut h = with_auth(&s3_auth);
        h.insert("x-amz-content-sha256", bad.parse().unwrap());
        assert!(
            matches!(refuse("", &h), SigError::BadContentSha256 { .. }),
            "{bad}"
        );
    }
    // Streaming is for S3 in the header form only.
    let mut h = with_auth(&auth(CRED, "host;x-amz-content-sha256;x-amz-date", SIG));
    h.insert(
        "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap(),
    );
    assert!(matches!(
        refuse("", &h),
        SigError::PayloadModeNotAllowed { .. }
    ));
    let mut h = host_only();
    h.insert(
        "x-amz-content-sha256",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER".parse().unwrap(),
    );
    assert!(matches!(
        refuse(&presign(GOOD_QUERY), &h),
        SigError::PayloadModeNotAllowed { .. }
    ));
    // Accepted values.
    for (v, p) in [
        ("UNSIGNED-PAYLOAD", PayloadHash::Unsigned),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            PayloadHash::StreamingSigned,
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            PayloadHash::StreamingSignedTrailer,
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            PayloadHash::StreamingUnsignedTrailer,
        ),
        (
            parapet_sigv4::EMPTY_SHA256,
            PayloadHash::Hex(parapet_sigv4::EMPTY_SHA256.into()),
        ),
    ] {
        let mut h = with_auth(&s3_auth);
        h.insert("x-amz-content-sha256", v.parse().unwrap());
        assert_eq!(parse("PUT", "/b/k", "", &h).unwrap().payload, p);
    }
}

#[test]
fn debug_output_hides_the_session_token() {
    let mut h = with_auth(&auth(CRED, "host;x-amz-date;x-amz-security-token", SIG));
    h.insert(
        "x-amz-security-token",
        "very-secret-session-token".parse().unwrap(),
    );
    let s = parse("GET", "/", "", &h).unwrap();
    assert!(!format!("{s:?}").contains("very-secret"));
}
