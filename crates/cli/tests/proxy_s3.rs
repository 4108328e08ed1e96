//! Large S3 objects through `parapet proxy aws`: a 64 MiB file with `aws s3 cp` (the
//! CLI splits it into a multipart upload of 8 MiB parts, several at once) and a 20 MB
//! boto3 `put_object` stream through to moto and read back byte-identical, through the
//! proxy and straight from moto.

mod common;
mod proxy_common;

use proxy_common::*;
use sha2::{Digest, Sha256};

/// `len` bytes that do not compress (xorshift), so nothing can shortcut them.
fn noise(len: usize, mut x: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn large_objects_stream_through_and_read_back_identical() {
    let s = Stack::start("s3", Opts::default());
    s.moto.aws(&["s3", "mb", "s3://big"]);
    let data = noise(64 << 20, 0x9e37_79b9_7f4a_7c15);
    let up = s.dir.join("up.bin");
    std::fs::write(&up, &data).unwrap();

    let o = s.agent(&["s3", "cp", up.to_str().unwrap(), "s3://big/up.bin"]);
    assert!(
        o.status.success(),
        "upload: {}\nproxy: {}",
        String::from_utf8_lossy(&o.stderr),
        s.proxies[0].output()
    );
    // moto has the whole object, made of parts.
    let head = s
        .moto
        .aws(&["s3api", "head-object", "--bucket", "big", "--key", "up.bin"]);
    assert_eq!(head["ContentLength"], 64 << 20, "{head}");
    let etag = head["ETag"].as_str().unwrap();
    assert!(etag.contains('-'), "a multipart upload's ETag: {etag}");

    // Back through the proxy, and straight from moto.
    let down = s.dir.join("down.bin");
    let o = s.agent(&["s3", "cp", "s3://big/up.bin", down.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(sha(&std::fs::read(&down).unwrap()), sha(&data));
    let direct = s.dir.join("direct.bin");
    let o = aws_command(
        &s.moto.url(),
        "testing",
        "testing",
        &["s3", "cp", "s3://big/up.bin", direct.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(o.status.success());
    assert_eq!(sha(&std::fs::read(&direct).unwrap()), sha(&data));
    for f in [&up, &down, &direct] {
        std::fs::remove_file(f).unwrap();
    }

    // boto3: one 20 MB put_object (a single request body), read back.
    let r = &s.python(&["put-get", "big", "boto3.bin", "20000000"])[0];
    assert_eq!(r["size"], 20_000_000, "{r}");
    assert_eq!(r["sent"], r["got"], "{r}");
    let head = s.moto.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "big",
        "--key",
        "boto3.bin",
    ]);
    assert_eq!(head["ContentLength"], 20_000_000, "{head}");
    s.finish();
}
