//! aws-chunked bodies: AWS's published S3 examples ("Transferring payload in multiple
//! chunks" and its trailing-header variant) reproduced exactly, bodies chunk-signed by the
//! official signer, any byte split, every kind of damage refused.

mod common;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use common::headers;
use http::HeaderMap;
use parapet_sigv4::{
    parse, verify, ChunkLimits, ChunkedDecoder, PayloadHash, SigError, Trailer, Verified,
};
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TIME: i64 = 1_369_353_600; // 20130524T000000Z

/// The seed request of AWS's chunked-upload example, verified with our verifier.
fn doc_request(trailer: bool) -> (Verified, HeaderMap) {
    let (mode, signed, seed) = if trailer {
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
            "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        )
    } else {
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        )
    };
    let auth = format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed},Signature={seed}");
    let mut lines = vec![
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("authorization", auth.as_str()),
        ("x-amz-content-sha256", mode),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
    ];
    if trailer {
        lines.push(("x-amz-trailer", "x-amz-checksum-crc32c"));
    } else {
        lines.push(("content-length", "66824"));
    }
    let h = headers(&lines);
    let signed = parse("PUT", "/examplebucket/chunkObject.txt", "", &h).unwrap();
    let v = verify(
        &signed,
        SECRET,
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        &h,
        TIME,
    )
    .unwrap();
    assert_eq!(v.seed_signature, seed);
    (v, h)
}

fn doc_body(sigs: [&str; 3], after_zero: &str) -> Vec<u8> {
    let mut b = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
    b.extend(std::iter::repeat_n(b'a', 65_536));
    b.extend(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).bytes());
    b.extend(std::iter::repeat_n(b'a', 1024));
    b.extend(format!("\r\n0;chunk-signature={}\r\n{after_zero}", sigs[2]).bytes());
    b
}

const SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const TRAILER_SIGS: [&str; 3] = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const TRAILERS: &str = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n";

/// Feeds `body` in pieces of the given sizes (cycled), returning the decoded bytes.
fn decode(
    mut d: ChunkedDecoder,
    body: &[u8],
    pieces: &[usize],
) -> Result<(Vec<u8>, Vec<Trailer>), SigError> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = pieces[i % pieces.len()].clamp(1, rest.len());
        d.feed(&rest[..n], &mut out)?;
        rest = &rest[n..];
        i += 1;
    }
    let trailers = d.finish()?;
    Ok((out, trailers))
}

#[test]
fn aws_documented_chunked_upload() {
    let (v, h) = doc_request(false);
    assert_eq!(v.payload, PayloadHash::StreamingSigned);
    let body = doc_body(SIGS, "\r\n");
    assert_eq!(body.len(), 66_824, "the documented Content-Length");
    for pieces in [
        &[body.len()][..],
        &[1],
        &[7, 65_536, 3],
        &[90, 100_000],
        &[8191, 2, 17],
    ] {
        let (out, trailers) = decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, pieces).unwrap();
        assert_eq!(out.len(), 66_560);
        assert!(out.iter().all(|&b| b == b'a'));
        assert!(trailers.is_empty());
    }
}

#[test]
fn aws_documented_chunked_upload_with_signed_trailer() {
    let (v, h) = doc_request(true);
    assert_eq!(v.payload, PayloadHash::StreamingSignedTrailer);
    // The trailers straight after the zero chunk (HTTP), or after its own CRLF (the
    // document's layout); closed by an empty line or by the end of the body.
    for after_zero in [
        format!("{TRAILERS}\r\n"),
        format!("\r\n{TRAILERS}\r\n"),
        TRAILERS.to_owned(),
        format!("\r\n{TRAILERS}"),
    ] {
        let body = doc_body(TRAILER_SIGS, &after_zero);
        for pieces in [&[body.len()][..], &[1], &[13, 4096]] {
            let (out, trailers) = decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, pieces)
                .unwrap_or_else(|e| panic!("{after_zero:?}: {e}"));
            assert_eq!(out.len(), 66_560);
            assert_eq!(
                trailers[0],
                Trailer {
                    name: "x-amz-checksum-crc32c".into(),
                    value: "sOO8/Q==".into()
                }
            );
        }
    }
    // The checksum changed: its signature no longer matches.
    let body = doc_body(
        TRAILER_SIGS,
        &format!("{}\r\n", TRAILERS.replace("sOO8/Q==", "sOO8/A==")),
    );
    assert_eq!(
        decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, &[999]).unwrap_err(),
        SigError::TrailerSignature
    );
    // No trailer signature at all.
    let body = doc_body(TRAILER_SIGS, "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    assert!(matches!(
        decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, &[999]),
        Err(SigError::Missing { .. })
    ));
}

#[test]
fn damaged_documented_bodies_are_refused() {
    let (v, h) = doc_request(false);
    let good = doc_body(SIGS, "\r\n");
    let run = |body: &[u8]| decode(ChunkedDecoder::new(&v, &h).unwrap(), body, &[4096]);

    let mut b = good.clone();
    b[200] = b'b'; // one data byte
    assert!(matches!(
        run(&b),
        Err(SigError::ChunkSignature { index: 0, .. })
    ));

    let mut b = good.clone();
    let last = b.len() - 5;
    b[last] ^= 1; // inside the final chunk's signature
    assert!(run(&b).is_err());

    // Truncated anywhere: refused at the end.
    for cut in [1, 10, 90, 65_000, 65_626, 66_700, good.len() - 1] {
        let e = run(&good[..cut]).unwrap_err();
        assert!(
            matches!(e, SigError::DecodedLength { .. } | SigError::Chunk { .. }),
            "{cut}: {e:?}"
        );
    }
    // Bytes after the end.
    let mut b = good.clone();
    b.extend_from_slice(b"0\r\n");
    assert!(matches!(run(&b), Err(SigError::Chunk { what: "end", .. })));

    // The second chunk's signature placed first (chain order).
    let swapped = doc_body([SIGS[1], SIGS[0], SIGS[2]], "\r\n");
    assert!(matches!(
        run(&swapped),
        Err(SigError::ChunkSignature { .. })
    ));

    // A wrong decoded length.
    let mut h2 = h.clone();
    common::set_header(&mut h2, "x-amz-decoded-content-length", "66559");
    let e = decode(ChunkedDecoder::new(&v, &h2).unwrap(), &good, &[4096]).unwrap_err();
    assert!(
        matches!(
            e,
            SigError::DecodedLength {
                declared: 66_559,
                ..
            }
        ),
        "{e:?}"
    );
    common::set_header(&mut h2, "x-amz-decoded-content-length", "66561");
    assert!(matches!(
        decode(ChunkedDecoder::new(&v, &h2).unwrap(), &good, &[4096]),
        Err(SigError::DecodedLength { .. })
    ));
    h2.remove("x-amz-decoded-content-length");
    assert!(matches!(
        ChunkedDecoder::new(&v, &h2),
        Err(SigError::Missing { .. })
    ));

    // LF without CR, and a size that is not hex.
    let bad = String::from_utf8(good.clone())
        .unwrap()
        .replacen("\r\n", "\n", 1);
    assert!(matches!(
        run(bad.as_bytes()),
        Err(SigError::Chunk { what: "line", .. })
    ));
    let bad = String::from_utf8(good.clone())
        .unwrap()
        .replacen("10000;", "1000g;", 1);
    assert!(matches!(
        run(bad.as_bytes()),
        Err(SigError::Chunk {
            what: "chunk size",
            ..
        })
    ));
    // An error sticks: feeding more after it is refused too.
    let mut d = ChunkedDecoder::new(&v, &h).unwrap();
    let mut out = Vec::new();
    assert!(d.feed(b"zz\r\n", &mut out).is_err());
    assert!(d.feed(b"0\r\n", &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn bounded_buffering() {
    let (v, h) = doc_request(false);
    let good = doc_body(SIGS, "\r\n");
    let limits = ChunkLimits {
        max_signed_chunk: 65_535,
        ..ChunkLimits::default()
    };
    let e = decode(
        ChunkedDecoder::with_limits(&v, &h, limits).unwrap(),
        &good,
        &[4096],
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            SigError::Chunk {
                what: "chunk size",
                ..
            }
        ),
        "{e:?}"
    );
    // A size line that never ends.
    let mut d = ChunkedDecoder::new(&v, &h).unwrap();
    let mut out = Vec::new();
    let long = vec![b'0'; 300];
    assert!(matches!(
        d.feed(&long, &mut out),
        Err(SigError::Chunk { what: "line", .. })
    ));
    // Signed chunks under 8 KiB other than the last one (correctly signed by the official
    // signer): refused at the second chunk's header, before its data is read.
    let data = vec![b'x'; 3000];
    let (v, h, body) = official_chunked(&data, 1024, None, TIME);
    let e = decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, &[4096]).unwrap_err();
    assert!(
        matches!(
            e,
            SigError::Chunk {
                what: "chunk size",
                ..
            }
        ),
        "{e:?}"
    );
    let small = ChunkLimits {
        min_signed_chunk: 1024,
        ..ChunkLimits::default()
    };
    assert_eq!(
        decode(
            ChunkedDecoder::with_limits(&v, &h, small).unwrap(),
            &body,
            &[4096]
        )
        .unwrap()
        .0,
        data
    );
}

/// Signs `data` as aws-chunked with the official signer's chunk and trailer signing.
fn official_chunked(
    data: &[u8],
    chunk: usize,
    trailer: Option<(&str, String)>,
    time: i64,
) -> (Verified, HeaderMap, Vec<u8>) {
    let mode = if trailer.is_some() {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    } else {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    };
    let identity: Identity = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "t").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-3")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(time as u64))
        .settings(())
        .build()
        .unwrap();
    // The seed: a request signed by the official request signer with this payload mode.
    let mut case = common::Case::new("PUT", "/bucket/big%20object", "", "s3");
    case.region = "eu-west-3".into();
    case.time = time;
    case.body_mode = if trailer.is_some() {
        common::Body::StreamingSignedTrailer
    } else {
        common::Body::Bytes
    };
    case.headers = vec![
        ("content-encoding".into(), "aws-chunked".into()),
        (
            "x-amz-decoded-content-length".into(),
            data.len().to_string(),
        ),
    ];
    if let Some((name, _)) = &trailer {
        case.headers.push(("x-amz-trailer".into(), (*name).into()));
    }
    let mut wire = common::sign_case(&case, SECRET);
    if trailer.is_none() {
        // aws-sigv4 has no SignableBody for this literal: sign it as a precomputed hash.
        wire = sign_precomputed(&case, mode);
    }
    let signed = parse(&wire.method, &wire.path, &wire.query, &wire.headers).unwrap();
    let v = verify(
        &signed,
        SECRET,
        &wire.method,
        &wire.path,
        &wire.query,
        &wire.headers,
        time,
    )
    .unwrap();
    let mut body = Vec::new();
    let mut prev = v.seed_signature.clone();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for p in pieces {
        let sig = v4::sign_chunk(&bytes::Bytes::copy_from_slice(p), &prev, &params)
            .unwrap()
            .into_parts()
            .1;
        body.extend(format!("{:x};chunk-signature={sig}\r\n", p.len()).bytes());
        body.extend_from_slice(p);
        if !p.is_empty() || trailer.is_none() {
            body.extend_from_slice(b"\r\n");
        }
        prev = sig;
    }
    if let Some((name, value)) = trailer {
        let mut th = aws_smithy_runtime_api::http::Headers::new();
        th.insert(name.to_owned(), value.clone());
        let sig = v4::sign_trailer(&th, &prev, &params)
            .unwrap()
            .into_parts()
            .1;
        body.extend(format!("{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").bytes());
    }
    (v, wire.headers, body)
}

fn sign_precomputed(case: &common::Case, literal: &str) -> common::Wire {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SigningSettings, UriPathNormalizationMode,
    };
    let identity: Identity = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.region)
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(case.time as u64))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = "s3.eu-west-3.amazonaws.com".to_owned();
    let mut pairs = vec![("host".to_owned(), host.clone())];
    pairs.extend(case.headers.iter().cloned());
    let uri = format!("https://{host}{}", case.path);
    let signable = SignableRequest::new(
        "PUT",
        uri.clone(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(literal.into()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().method("PUT").uri(uri);
    for (k, v) in &pairs {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut req = req.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    common::Wire {
        method: "PUT".into(),
        path: req.uri().path().into(),
        query: String::new(),
        headers: req.headers().clone(),
        body: vec![],
    }
}

fn replace_first(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = body
        .windows(from.len())
        .position(|w| w == from)
        .expect("present");
    [&body[..at], to, &body[at + from.len()..]].concat()
}

fn crc32_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

#[test]
fn bodies_chunk_signed_by_the_official_signer_decode() {
    for (len, chunk) in [
        (0usize, 8192usize),
        (1, 8192),
        (8192, 8192),
        (70_000, 8192),
        (200_000, 65_536),
        (100_003, 16_384),
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        for with_trailer in [false, true] {
            let trailer = with_trailer.then(|| ("x-amz-checksum-crc32", crc32_b64(&data)));
            let (v, h, body) = official_chunked(&data, chunk, trailer, TIME + len as i64);
            for pieces in [&[body.len().max(1)][..], &[1, 2, 3, 5, 8, 13], &[9000, 77]] {
                let (out, trailers) = decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, pieces)
                    .unwrap_or_else(|e| {
                        panic!("len {len} chunk {chunk} trailer {with_trailer}: {e}")
                    });
                assert_eq!(out, data);
                assert_eq!(trailers.len(), usize::from(with_trailer) * 2);
            }
            if len > 0 {
                let mut bad = body.clone();
                let at = body.iter().position(|&b| b == b'\n').unwrap() + 1 + len / 2 % chunk;
                bad[at] ^= 0x20;
                assert!(
                    decode(ChunkedDecoder::new(&v, &h).unwrap(), &bad, &[4096]).is_err(),
                    "len {len}"
                );
            }
        }
        // The right chunk signatures but a checksum that does not match the data.
        if len > 0 {
            let (v, h, body) = official_chunked(
                &data,
                chunk,
                Some(("x-amz-checksum-crc32", crc32_b64(b"other"))),
                TIME,
            );
            let e = decode(ChunkedDecoder::new(&v, &h).unwrap(), &body, &[4096]).unwrap_err();
            assert!(matches!(e, SigError::ChecksumMismatch { .. }), "{e:?}");
            assert_eq!(e.aws_code(), "BadDigest");
        }
    }
}

#[test]
fn unsigned_trailer_bodies() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 256) as u8).collect();
    let crc = crc32_b64(&data);
    let sha = base64::engine::general_purpose::STANDARD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
    for (name, value) in [
        ("x-amz-checksum-crc32", crc.clone()),
        ("x-amz-checksum-sha256", sha),
    ] {
        let mut body = Vec::new();
        for piece in data.chunks(12_345) {
            body.extend(format!("{:x}\r\n", piece.len()).bytes());
            body.extend_from_slice(piece);
            body.extend_from_slice(b"\r\n");
        }
        body.extend(format!("0\r\n{name}:{value}\r\n\r\n").bytes());
        let d = || {
            ChunkedDecoder::from_parts(
                &PayloadHash::StreamingUnsignedTrailer,
                None,
                data.len() as u64,
                Some(name),
                ChunkLimits::default(),
            )
            .unwrap()
        };
        let (out, trailers) = decode(d(), &body, &[1000, 1]).unwrap();
        assert_eq!(out, data);
        assert_eq!(trailers[0].value, value);
        let mut bad = body.clone();
        bad[100] ^= 1;
        assert!(matches!(
            decode(d(), &bad, &[1000]),
            Err(SigError::ChecksumMismatch { .. })
        ));
        // A chunk signature or a trailer signature has no place in an unsigned body.
        let with_ext = replace_first(&body, b"\r\n", b";chunk-signature=00\r\n");
        assert!(matches!(
            decode(d(), &with_ext, &[1000]),
            Err(SigError::Chunk {
                what: "chunk extension",
                ..
            })
        ));
        let undeclared = replace_first(&body, name.as_bytes(), b"x-amz-checksum-crc32c");
        assert!(matches!(
            decode(d(), &undeclared, &[1000]),
            Err(SigError::Chunk {
                what: "trailer",
                ..
            })
        ));
    }
    // Declared but never sent.
    let body = "3\r\nabc\r\n0\r\n\r\n";
    let d = ChunkedDecoder::from_parts(
        &PayloadHash::StreamingUnsignedTrailer,
        None,
        3,
        Some("x-amz-checksum-crc32"),
        ChunkLimits::default(),
    )
    .unwrap();
    assert!(matches!(
        decode(d, body.as_bytes(), &[100]),
        Err(SigError::Chunk {
            what: "trailer",
            ..
        })
    ));
    // An unknown checksum algorithm is refused up front.
    assert!(ChunkedDecoder::from_parts(
        &PayloadHash::StreamingUnsignedTrailer,
        None,
        3,
        Some("x-amz-checksum-md5"),
        ChunkLimits::default()
    )
    .is_err());
    // Signed modes need the verified request.
    assert!(ChunkedDecoder::from_parts(
        &PayloadHash::StreamingSigned,
        None,
        3,
        None,
        ChunkLimits::default()
    )
    .is_err());
}
