//! `parapet model scan` end to end: exit codes a pipeline can use, outputs, bad input.

mod common;
use common::{bin, exited, root, tmpdir};

fn corpus(file: &str) -> String {
    root()
        .join("crates/modelscan/tests/data/pickles")
        .join(file)
        .display()
        .to_string()
}

#[test]
fn malicious_file_fails_the_pipeline_and_says_why() {
    let o = bin()
        .args(["model", "scan", &corpus("malicious2_v4.pkl")])
        .output()
        .unwrap();
    let out = exited(o, 1);
    assert!(
        out.contains("MALICIOUS") && out.contains("posix.system"),
        "{out}"
    );
    assert!(out.contains("'ls -la'"), "{out}");
}

#[test]
fn clean_passes_unknown_fails_by_default_and_thresholds_move() {
    let clean = corpus("pytorch_model.bin");
    let o = bin().args(["model", "scan", &clean]).output().unwrap();
    assert!(exited(o, 0).contains("1 clean"));
    // Unknown is not clean: an encrypted member, or bytes no format matches in a
    // model-named file, fail the default threshold.
    let enc = corpus("benign_password_protected.zip");
    let o = bin().args(["model", "scan", &enc]).output().unwrap();
    assert!(exited(o, 1).contains("encrypted"));
    let o = bin()
        .args(["model", "scan", &enc, "--fail-on", "suspicious"])
        .output()
        .unwrap();
    exited(o, 0);
    let d = tmpdir("model-unknown");
    let random = d.join("weights.bin");
    std::fs::write(
        &random,
        (0..=255u8).rev().cycle().take(4096).collect::<Vec<_>>(),
    )
    .unwrap();
    let o = bin().args(["model", "scan"]).arg(&random).output().unwrap();
    assert!(exited(o, 1).contains("UNKNOWN"));
    let bad = corpus("malicious1.zip");
    let o = bin()
        .args(["model", "scan", &bad, "--fail-on", "never"])
        .output()
        .unwrap();
    exited(o, 0);
}

#[test]
fn json_and_sarif_are_machine_readable() {
    let dir = root()
        .join("crates/modelscan/tests/data/pickles")
        .display()
        .to_string();
    let o = bin()
        .args(["model", "scan", &dir, "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&exited(o, 1)).unwrap();
    assert_eq!(v["schema"], "parapet.model-scan/v1");
    assert_eq!(v["summary"]["malicious"], 38);
    let o = bin()
        .args(["model", "scan", &dir, "--format", "sarif"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&exited(o, 1)).unwrap();
    assert_eq!(v["version"], "2.1.0");
}

#[test]
fn user_globals_extend_the_lists_and_bad_ones_are_usage_errors() {
    let d = tmpdir("model-globals");
    let pkl = d.join("net.pkl");
    std::fs::write(&pkl, b"\x80\x02cmylib.models\nNet\nq\x00)R.").unwrap();
    let pkl = pkl.display().to_string();
    let o = bin().args(["model", "scan", &pkl]).output().unwrap();
    assert!(exited(o, 1).contains("SUSPICIOUS"));
    let g = d.join("ours.toml");
    std::fs::write(
        &g,
        "[[allow]]\nwhy = \"our model class\"\nglobals = [\"mylib.models.Net\"]\n",
    )
    .unwrap();
    let o = bin()
        .args(["model", "scan", &pkl, "--globals", g.to_str().unwrap()])
        .output()
        .unwrap();
    exited(o, 0);
    std::fs::write(&g, "[[allow]]\nglobals = [\"x\"]\n").unwrap();
    let o = bin()
        .args(["model", "scan", &pkl, "--globals", g.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("ours.toml") && err.contains("why"), "{err}");
    let o = bin()
        .args(["model", "scan", "/nonexistent/model.pt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/model.pt"));
}

#[cfg(unix)]
#[test]
fn symlinks_inside_a_tree_are_not_followed() {
    let d = tmpdir("model-links");
    std::fs::create_dir_all(d.join("tree")).unwrap();
    std::os::unix::fs::symlink(corpus("malicious1_v4.pkl"), d.join("tree/link.pkl")).unwrap();
    let o = bin()
        .args(["model", "scan", d.join("tree").to_str().unwrap(), "-v"])
        .output()
        .unwrap();
    let out = exited(o, 0);
    assert!(out.contains("symbolic link: not followed"), "{out}");
}
