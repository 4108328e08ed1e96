//! `parapet inventory` opens every archive and compressed stream `parapet model scan`
//! opens, and gives the same verdicts; archives without a model are not listed.

mod common;

use common::*;
use parapet_inventory::{inventory, Options};
use parapet_modelscan::{scan_file, Options as ScanOptions, Verdict};
use std::io::Write;
use std::path::Path;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../modelscan/tests/data")
            .join(name),
    )
    .unwrap()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    // stored members, central directory, end record (as zipfile writes with ZIP_STORED)
    let (mut out, mut cd) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let off = out.len() as u32;
        let crc = crc32(data);
        let mut h = b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        h.extend(crc.to_le_bytes());
        h.extend((data.len() as u32).to_le_bytes());
        h.extend((data.len() as u32).to_le_bytes());
        h.extend((name.len() as u16).to_le_bytes());
        h.extend(0u16.to_le_bytes());
        h.extend(name.as_bytes());
        out.extend(&h);
        out.extend(*data);
        let mut c = b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        c.extend(crc.to_le_bytes());
        c.extend((data.len() as u32).to_le_bytes());
        c.extend((data.len() as u32).to_le_bytes());
        c.extend((name.len() as u16).to_le_bytes());
        c.extend([0u8; 12]);
        c.extend(off.to_le_bytes());
        c.extend(name.as_bytes());
        cd.extend(c);
    }
    let at = out.len() as u32;
    out.extend(&cd);
    out.extend(b"PK\x05\x06\0\0\0\0");
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((cd.len() as u32).to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn models_inside_archives_are_inventoried_with_model_scan_verdicts() {
    let root = tmpdir("inv-archives");
    let evil = corpus("pickles/malicious1_v4.pkl");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("bundle/model.zip", zip(&[("model.pkl", &evil)])),
        ("bundle/model.7z", corpus("pickles/malicious1.7z")),
        ("bundle/model.tar", tar("model.pkl", &evil)),
        ("bundle/model.pkl.gz", gz(&evil)),
        ("bundle/model.pkl.xz", corpus("evil.pkl.xz")),
        (
            "bundle/model.joblib",
            corpus("compressed/evil-zlib3.joblib"),
        ),
        // by content, whatever the name
        ("bundle/weights.archive", zip(&[("data/x", &evil)])),
        // archives without a model are not model files
        ("bundle/docs.zip", zip(&[("readme.md", b"# docs\n")])),
        ("bundle/logs.gz", gz(b"just some log lines\n")),
    ];
    for (name, data) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    let r = inventory(std::slice::from_ref(&root), &Options::default(), None).unwrap();
    let found: Vec<(String, Verdict)> = r
        .workloads
        .iter()
        .flat_map(|w| &w.models)
        .flat_map(|m| &m.files)
        .map(|f| {
            let name = f.at.path.rsplit('/').next().unwrap().to_string();
            (name, f.scan.verdict)
        })
        .collect();
    for (name, _) in &files[..7] {
        let base = name.rsplit('/').next().unwrap();
        let got = found.iter().find(|(n, _)| n == base);
        let scanned = scan_file(&root.join(name), name, &ScanOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(scanned.verdict, Verdict::Malicious, "{name}");
        assert_eq!(
            got.map(|g| g.1),
            Some(scanned.verdict),
            "{name} in {found:?}"
        );
    }
    for quiet in ["docs.zip", "logs.gz"] {
        assert!(!found.iter().any(|(n, _)| n == quiet), "{found:?}");
    }
    assert_eq!(r.worst_model(), Verdict::Malicious);
    let _ = std::fs::remove_dir_all(&root);
}
