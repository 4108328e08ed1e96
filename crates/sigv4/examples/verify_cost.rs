//! What verifying costs, per request and per byte, on published example requests:
//!
//!     cargo run --release -p parapet-sigv4 --example verify_cost [ITERATIONS]
//!
//! Prints nanoseconds per parse, per parse + verify (header and presigned forms, S3 and
//! not), per verify with a cached signing key, per replay-cache check, and the throughput of
//! the aws-chunked decoder and the body hasher. A measurement, not a test: nothing asserted.

use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_sigv4::{
    parse, sha256_hex, verify, verify_with_key, ChunkedDecoder, PathEncoding, PayloadHasher,
    ReplayCache, SigningKey,
};
use std::hint::black_box;
use std::time::Instant;

fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in lines {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn time<F: FnMut()>(label: &str, n: u64, mut f: F) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("{label:<58} {ns:>9.0} ns");
    ns
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let suite_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let s3_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    // AWS test suite get-vanilla-query-order-key-case (a non-S3 GET, body hashed by the caller).
    let vanilla = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ]);
    let q = "Param2=value2&Param1=value1";
    let now = 1_440_938_160;
    time("parse (header form)", n, || {
        black_box(parse("GET", "/", q, &vanilla).unwrap());
    });
    let header_ns = time("parse + body hash + verify, non-S3 header form", n, || {
        let mut s = parse("GET", "/", q, &vanilla).unwrap();
        s.set_body_hash(&sha256_hex(b""));
        black_box(verify(&s, suite_secret, "GET", "/", q, &vanilla, now).unwrap());
    });
    let mut signed = parse("GET", "/", q, &vanilla).unwrap();
    signed.set_body_hash(&sha256_hex(b""));
    let key = SigningKey::for_signed(suite_secret, &signed);
    time("verify with a cached signing key", n, || {
        black_box(
            verify_with_key(
                &signed,
                &key,
                "GET",
                "/",
                q,
                &vanilla,
                now,
                PathEncoding::Double,
            )
            .unwrap(),
        );
    });
    time("signing key derivation alone", n, || {
        black_box(SigningKey::for_signed(suite_secret, &signed));
    });

    // S3 documentation PUT object (Date and x-amz-date, five signed headers).
    let put = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
        ("user-agent", "aws-cli/2.22.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1.0"),
        ("content-length", "21"),
    ]);
    let s3_now = 1_369_353_600;
    time("parse + verify, S3 PUT header form", n, || {
        let s = parse("PUT", "/test%24file.text", "", &put).unwrap();
        black_box(verify(&s, s3_secret, "PUT", "/test%24file.text", "", &put, s3_now).unwrap());
    });

    // S3 documentation presigned GET.
    let pq = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    let host = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    time("parse + verify, S3 presigned GET", n, || {
        let s = parse("GET", "/test.txt", pq, &host).unwrap();
        black_box(verify(&s, s3_secret, "GET", "/test.txt", pq, &host, s3_now).unwrap());
    });

    let cache = ReplayCache::new(4_000_000);
    let sigs: Vec<String> = (0..n).map(|i| sha256_hex(&i.to_le_bytes())).collect();
    let mut i = 0;
    time("replay cache check (new signature)", n, || {
        black_box(
            cache
                .check(&sigs[i as usize % sigs.len()], 2_000_000_000, 1_000_000_000)
                .is_ok(),
        );
        i += 1;
    });
    println!(
        "{:<58} {:>9.0} req/s",
        "=> one core, header form verify",
        1e9 / header_ns
    );

    // Throughput: the documented 66,560-byte chunked upload, and a plain body hash.
    let chunked = headers(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ]);
    let s = parse("PUT", "/examplebucket/chunkObject.txt", "", &chunked).unwrap();
    let v = verify(
        &s,
        s3_secret,
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        &chunked,
        s3_now,
    )
    .unwrap();
    let mut body = b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'a', 65_536));
    body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
    body.extend(std::iter::repeat_n(b'a', 1024));
    body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
    let rounds = (n / 100).max(100);
    let mut out = Vec::with_capacity(70_000);
    let ns = time(
        "aws-chunked decode of the 66,560-byte example (16 KiB reads)",
        rounds,
        || {
            let mut d = ChunkedDecoder::new(&v, &chunked).unwrap();
            out.clear();
            for piece in body.chunks(16_384) {
                d.feed(piece, &mut out).unwrap();
            }
            black_box(d.finish().unwrap());
        },
    );
    println!(
        "{:<58} {:>9.0} MB/s",
        "=> signed chunk decoding",
        66_560.0 / ns * 1e3
    );
    let ns = time(
        "sha256 of the same 66,560 bytes (PayloadHasher)",
        rounds,
        || {
            let mut h = PayloadHasher::new("00");
            h.update(&body[..66_560]);
            black_box(h.finish().is_err());
        },
    );
    println!("{:<58} {:>9.0} MB/s", "=> body hash", 66_560.0 / ns * 1e3);
}
