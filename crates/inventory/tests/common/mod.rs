//! Test helpers: scratch directories, the Python tools (pip, CycloneDX's own schema
//! validator) in `target/pytools`, and a small tar writer for building images.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace")
}

pub fn tmpdir(name: &str) -> PathBuf {
    let d = workspace()
        .join("target/test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// `target/pytools/bin/python`, with pip and cyclonedx-python-lib (which ships the
/// official CycloneDX schemas). scripts/test makes it; made here when missing, under a
/// lock so parallel tests do not race.
pub fn python() -> PathBuf {
    let root = workspace().join("target/pytools");
    let py = root.join("bin/python");
    let ready = root.join(".ready");
    if ready.exists() {
        return py;
    }
    let lock = workspace().join("target/pytools.lock");
    let start = std::time::Instant::now();
    loop {
        if std::fs::create_dir(&lock).is_ok() {
            break;
        }
        if ready.exists() {
            return py;
        }
        assert!(
            start.elapsed().as_secs() < 600,
            "waiting for {} (remove it if stale)",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    if !ready.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&root)
            .status()
            .expect("python3 runs")
            .success();
        assert!(ok, "python3 -m venv failed");
        let ok = Command::new(root.join("bin/pip"))
            .args([
                "install",
                "-q",
                "cyclonedx-python-lib[json-validation]==8.9.0",
            ])
            .status()
            .expect("pip runs")
            .success();
        assert!(
            ok,
            "pip install cyclonedx-python-lib failed (PyPI reachable?)"
        );
        std::fs::write(&ready, "").unwrap();
    }
    let _ = std::fs::remove_dir(&lock);
    py
}

/// Validate against the official CycloneDX 1.6 JSON schema (strict: no unknown fields).
pub fn validate_cyclonedx(bom: &serde_json::Value) {
    let dir = tmpdir("cdx");
    let f = dir.join("bom.json");
    std::fs::write(&f, serde_json::to_vec_pretty(bom).unwrap()).unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\n\
e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(e if e else 'valid')\nsys.exit(1 if e else 0)\n",
        )
        .arg(&f)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "CycloneDX 1.6 schema rejects the BOM ({}):\n{}\n{}",
        f.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub enum Member<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A ustar archive.
pub fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let (name, data, flag, link): (&str, &[u8], u8, &str) = match m {
            Member::File(n, d) => (n, d, b'0', ""),
            Member::Dir(n) => (n, &[], b'5', ""),
            Member::Symlink(n, t) => (n, &[], b'2', t),
        };
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A malicious pickle from the picklescan corpus the model scanner's tests carry.
pub fn evil_pickle() -> Vec<u8> {
    std::fs::read(workspace().join("crates/modelscan/tests/data/pickles/malicious0.pkl"))
        .expect("corpus pickle")
}

/// A small valid safetensors file.
pub fn safetensors() -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}"#;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&[0u8; 16]);
    out
}
