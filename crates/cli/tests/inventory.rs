//! `parapet inventory` end to end: exit codes a pipeline can use, the AIBOM written to a
//! file, OSV matching, bad input named.

mod common;
use common::{bin, exited, root, tmpdir};

fn workload(tag: &str) -> std::path::PathBuf {
    let d = tmpdir(tag);
    let site = d.join("venv/lib/python3.11/site-packages/jinja2-2.11.2.dist-info");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("METADATA"),
        "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\n\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::write(d.join("app/agent.py"), "from anthropic import Anthropic\n").unwrap();
    std::fs::write(d.join("app/requirements.txt"), "langchain==0.0.171\n").unwrap();
    d
}

fn osv(file: &str) -> String {
    root()
        .join("crates/inventory/tests/data/osv")
        .join(file)
        .display()
        .to_string()
}

#[test]
fn a_malicious_model_fails_the_pipeline() {
    let d = workload("inv-evil");
    std::fs::copy(
        root().join("crates/modelscan/tests/data/pickles/malicious0.pkl"),
        d.join("app/model.bin"),
    )
    .unwrap();
    let o = bin().args(["inventory"]).arg(&d).output().unwrap();
    let out = exited(o, 1);
    assert!(
        out.contains("malicious") && out.contains("model.bin"),
        "{out}"
    );
    let o = bin()
        .args(["inventory", "--fail-on", "never"])
        .arg(&d)
        .output()
        .unwrap();
    exited(o, 0);
}

#[test]
fn aibom_with_vulnerabilities_to_a_file() {
    let d = workload("inv-bom");
    let out = d.join("aibom.cdx.json");
    let o = bin()
        .args([
            "inventory",
            "--format",
            "cyclonedx",
            "--osv",
            &osv("PyPI-all.zip"),
            "-o",
        ])
        .arg(&out)
        .arg(&d)
        .output()
        .unwrap();
    assert_eq!(exited(o, 0), "");
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bom["specVersion"], "1.6");
    let ids: Vec<&str> = bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["PYSEC-2021-66", "PYSEC-2023-91"]);
    assert_eq!(bom["services"][0]["name"], "Anthropic API");
    // nothing here is a critical risk
    let o = bin()
        .args([
            "inventory",
            "--fail-on",
            "critical",
            "--osv",
            &osv("PyPI-all.zip"),
        ])
        .arg(&d)
        .output()
        .unwrap();
    exited(o, 0);
    let o = bin()
        .args([
            "inventory",
            "--format",
            "json",
            "--osv",
            &osv("PyPI-all.zip"),
        ])
        .arg(&d)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&exited(o, 0)).unwrap();
    assert_eq!(v["schema"], "parapet.inventory/v1");
    assert_eq!(v["workloads"][0]["risks"][0]["rank"], 1);
}

#[test]
fn bad_input_is_named_and_exits_2() {
    let d = workload("inv-bad");
    let o = bin()
        .args(["inventory", "/nonexistent/target"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("/nonexistent/target"), "{e}");
    // an OSV file that is not OSV
    let junk = d.join("junk.zip");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    let o = bin()
        .args(["inventory", "--osv"])
        .arg(&junk)
        .arg(&d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.zip"));
    // a catalog with a mistake
    let cat = d.join("catalog.toml");
    std::fs::write(
        &cat,
        "[[package]]\necosystem = \"PyPI\"\nkind = \"sdk\"\nwhat = \"x\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["inventory", "--catalog"])
        .arg(&cat)
        .arg(&d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither names nor prefixes"));
    // broken metadata inside the target: listed as not read, the rest goes on
    let bad = d.join("venv/lib/python3.11/site-packages/broken-1.0.dist-info");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("METADATA"), b"\xff\xfe garbage without headers").unwrap();
    let o = bin().args(["inventory"]).arg(&d).output().unwrap();
    let out = exited(o, 0);
    assert!(
        out.contains("Not read") && out.contains("broken-1.0.dist-info"),
        "{out}"
    );
}

/// A model file nobody can analyse fails `inventory` by default, as it fails
/// `parapet model scan`: the two agree on the same directory.
#[test]
fn an_unknown_model_fails_like_model_scan() {
    let d = workload("inv-unknown");
    // Random bytes named like a model: not analysable, so unknown.
    let bytes: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(d.join("app/model.bin"), &bytes).unwrap();
    let scan = bin().args(["model", "scan"]).arg(&d).output().unwrap();
    assert_eq!(scan.status.code(), Some(1), "model scan judges it unknown");
    let o = bin().args(["inventory"]).arg(&d).output().unwrap();
    exited(o, 1);
    for (level, code) in [("unknown", 1), ("suspicious", 0), ("malicious", 0)] {
        let o = bin()
            .args(["inventory", "--fail-on", level])
            .arg(&d)
            .output()
            .unwrap();
        exited(o, code);
    }
}
