//! Hostile nesting through every JSON reader the command line has: a clear error or a
//! skipped record, never a crash or a hang, and never allow or clean.

mod common;
use common::{bin, tmpdir};

fn deep(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

fn run(args: &[&str], file: &std::path::Path) -> (Option<i32>, String) {
    let o = bin().args(args).arg(file).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Plans: serde_json's own recursion limit (128) already refuses deep values that are
/// read (a change's values, the document itself); the plan reader needs no limit of its
/// own. Exit 2, never a decision.
#[test]
fn deep_plans_are_input_errors() {
    let dir = tmpdir("hostile-plans");
    let d = deep(100_000);
    let change = |after: &str| {
        format!(
            r#"{{"format_version":"1.2","resource_changes":[{{"address":"aws_s3_bucket.b","mode":"managed","type":"aws_s3_bucket","name":"b","change":{{"actions":["create"],"before":null,"after":{after},"after_unknown":{{}}}}}}]}}"#
        )
    };
    for (name, text) in [
        (
            "values.json",
            change(&format!(r#"{{"bucket":"x","tags":{d}}}"#)),
        ),
        ("document.json", d.clone()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let (code, err) = run(&["plan", "check", "--actor", "agent:x"], &p);
        assert_eq!(code, Some(2), "{name}: {err}");
    }
    // Pins (TOML): the toml parser's own depth limit refuses deep values.
    let pins = dir.join("pins.toml");
    std::fs::write(&pins, format!("x = {}", deep(100_000))).unwrap();
    let plan = common::root().join("demo/incident-plan.json");
    let o = bin()
        .args(["plan", "check", "--actor", "agent:x", "--pins"])
        .arg(&pins)
        .arg(&plan)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("pins.toml"), "{err}");
    // A key parapet does not read is skipped by serde_json without its recursion limit
    // (iteratively: no stack is at risk), so this empty plan is read and allowed.
    let p = dir.join("unknown-key.json");
    let text = format!(r#"{{"format_version":"1.2","x":{d},"resource_changes":[]}}"#);
    std::fs::write(&p, text).unwrap();
    let (code, err) = run(&["plan", "check", "--actor", "agent:x"], &p);
    assert_eq!(code, Some(0), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Model headers: a safetensors header nested deep is not clean.
#[test]
fn deep_model_headers_are_not_clean() {
    let dir = tmpdir("hostile-models");
    let header = format!(r#"{{"__metadata__":{{"x":"y"}},"w":{}}}"#, deep(50_000));
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend(header.as_bytes());
    let p = dir.join("m.safetensors");
    std::fs::write(&p, st).unwrap();
    let (code, err) = run(&["model", "scan"], &p);
    assert_eq!(code, Some(1), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
