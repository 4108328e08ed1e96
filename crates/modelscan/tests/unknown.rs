//! Unknown is not clean: every compression joblib and torch write is opened before
//! judging, what cannot be identified in a model-named file is unknown, only what
//! parses as a pickle is a pickle, and payloads are found wherever a zip holds them.
//! Fixtures in tests/data/compressed are written by its make.py with Python's stdlib.

use parapet_modelscan::{scan_blob, scan_file, FileReport, Options, Verdict};
use std::io::Write;
use std::path::Path;

fn fixture(name: &str) -> FileReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compressed")
        .join(name);
    scan_file(&path, name, &Options::default())
        .unwrap()
        .unwrap_or_else(|| panic!("{name}: not reported"))
}

fn bytes(name: &str, data: &[u8]) -> Option<FileReport> {
    scan_blob(&data, name, name, &Options::default())
}

#[test]
fn every_joblib_compression_is_opened() {
    for (f, codec) in [
        ("evil-zlib3.joblib", "zlib"),
        ("evil-gzip3.joblib", "gzip"),
        ("evil-bz2-3.joblib", "bzip2"),
        ("evil-lzma3.joblib", "lzma"),
        ("evil-xz3.joblib", "xz"),
        ("evil-zfile.pkl", "joblib-zfile"),
    ] {
        let r = fixture(f);
        assert_eq!(r.verdict, Verdict::Malicious, "{f}: {r:#?}");
        assert!(
            r.findings.iter().any(|x| x.subject == "posix.system"),
            "{f}: {r:#?}"
        );
        assert!(
            r.notes.iter().any(|n| n.starts_with(codec)),
            "{f}: {:?}",
            r.notes
        );
    }
}

#[test]
fn lz4_frames_are_opened() {
    // joblib's compress=("lz4", n) writes an LZ4 frame (lz4.frame).
    let evil = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pickles/malicious1_v4.pkl"),
    )
    .unwrap();
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(&evil).unwrap();
    let z = e.finish().unwrap();
    let r = bytes("m.joblib", &z).unwrap();
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
}

#[test]
fn a_decompression_bomb_is_unknown_not_a_hang() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..64 {
        e.write_all(&[0u8; 1 << 20]).unwrap();
    }
    let z = e.finish().unwrap();
    let opts = Options {
        max_member: 4 << 20,
        ..Options::default()
    };
    let r = scan_blob(&z.as_slice(), "m.pkl.gz", "m.pkl.gz", &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown, "{r:#?}");
    assert!(r.unknown[0].contains("limit"), "{r:#?}");
    // Nested compression stops at the nesting limit.
    let mut data = b"cposix\nsystem\n(S'id'\ntR.".to_vec();
    for _ in 0..8 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&data).unwrap();
        data = e.finish().unwrap();
    }
    let r = bytes("m.gz", &data).unwrap();
    assert!(r.verdict >= Verdict::Unknown, "{r:#?}");
}

#[test]
fn unidentified_content_in_a_model_file_is_unknown() {
    // Random bytes (a fixed xorshift stream), under every model extension.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for name in [
        "m.bin", "m.pt", "m.pth", "m.pkl", "m.joblib", "m.ckpt", "m.h5", "m.onnx",
    ] {
        let r = bytes(name, &random).unwrap_or_else(|| panic!("{name} not reported"));
        assert_eq!(r.verdict, Verdict::Unknown, "{name}: {r:#?}");
        assert!(!r.unknown.is_empty());
    }
    // Not model-named: not a model, nothing to report.
    assert!(bytes("notes.txt", &random).is_none());
    // A truncated pickle that ran nothing before the cut is not vouched for either.
    let cut = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a";
    assert_eq!(bytes("m.pkl", cut).unwrap().verdict, Verdict::Unknown);
}

#[test]
fn a_python_file_is_not_a_pickle() {
    let py = b"class Model(nn.Module):\n    def forward(self, x):\n        return x\n";
    assert!(bytes("model.py", py).is_none());
    let r = bytes("model.pkl", py).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown, "{r:#?}");
    assert!(r.findings.is_empty(), "{r:#?}");
    // Protocol 0 pickles are still pickles, and truncated ones still judged by what ran.
    let r = bytes("x.bin", b"cposix\nsystem\n(S'id'\ntR").unwrap();
    assert_eq!(r.verdict, Verdict::Malicious, "{r:#?}");
    let r = bytes("x.dat", b"(dp0\nS'a'\np1\nI1\ns.").unwrap();
    assert_eq!(r.verdict, Verdict::Clean, "{r:#?}");
}

#[test]
fn tokenizers_named_like_models_are_recognised() {
    let sp = b"\x0a\x0c\x0a\x05hello\x15\x00\x00\x80\xbf\x0a\x08\x0a\x01a\x15\x00\x00\x00\x00";
    let r = bytes("tokenizer.model", sp).unwrap();
    assert_eq!(
        (r.format.as_str(), r.verdict),
        ("sentencepiece", Verdict::Clean)
    );
    let tk = b"IQ== 0\nIg== 1\nIw== 2\nJA== 3\n";
    let r = bytes("tokenizer.model", tk).unwrap();
    assert_eq!((r.format.as_str(), r.verdict), ("tiktoken", Verdict::Clean));
}

#[test]
fn payloads_anywhere_in_a_zip_are_found() {
    for f in [
        "evil-in-storage.pt",
        "evil-prefixed.zip",
        "evil-anyname.zip",
    ] {
        let r = fixture(f);
        assert_eq!(r.verdict, Verdict::Malicious, "{f}: {r:#?}");
        assert!(
            r.findings.iter().any(|x| x.subject == "posix.system"),
            "{f}: {r:#?}"
        );
    }
    let r = fixture("evil-in-storage.pt");
    assert_eq!(
        r.findings[0].member.as_deref(),
        Some("archive/data/0"),
        "{r:#?}"
    );
    assert!(fixture("evil-prefixed.zip")
        .notes
        .iter()
        .any(|n| n.contains("before the zip")));
}
