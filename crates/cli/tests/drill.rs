//! `parapet drill`: the three scenarios pass against the built-in pack, in process and
//! through a running decision service (each step a recorded decision); they fail, naming
//! the step, when a guard is switched off (a pack that holds nothing).

mod common;

use common::*;

/// A pack that holds nothing, the guard switched off: every built-in file but the
/// baseline (which permits; without it everything is denied) replaced by one whose only
/// policy never applies.
fn guard_off(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in std::fs::read_dir(root().join("crates/policy/policies")).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.starts_with("00-") {
            continue;
        }
        let stem = name.trim_end_matches(".cedar");
        let text = format!(
            "@id(\"never-{stem}\")\n@reason(\"never applies\")\nforbid (principal, action, resource) when {{ false }};\n"
        );
        std::fs::write(dir.join(&name), text).unwrap();
    }
}

fn drill(args: &[&str], token: Option<&str>) -> (i32, String) {
    let mut c = bin();
    c.arg("drill").args(args).env_remove("PARAPET_SERVER");
    match token {
        Some(t) => c.env("PARAPET_TOKEN", t),
        None => c.env_remove("PARAPET_TOKEN"),
    };
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_drills_pass_in_process_and_fail_when_the_guard_is_off() {
    let (code, out) = drill(&[], None);
    assert_eq!(code, 0, "{out}");
    for want in [
        "revert-emergency-patch: 1 of 1 steps as expected",
        "delete-recreate-database: 1 of 1 steps as expected",
        "takeover: 10 of 10 steps as expected",
        "[deny-automation-destroy-data]",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let dir = tmpdir("drill-off");
    guard_off(&dir);
    let (code, out) = drill(
        &[
            "--policies",
            dir.to_str().unwrap(),
            "--scenario",
            "takeover",
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NOT HELD allow  iam:AttachUserPolicy"),
        "{out}"
    );
    assert!(!out.contains("revert-emergency-patch"), "{out}");
    let (code, out) = drill(&["--scenario", "nope"], None);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("takeover"), "{out}");
}

#[test]
fn the_drills_run_against_a_decision_service() {
    let dir = tmpdir("drill-server");
    let db = dir.join("parapet.db");
    let agent = token(&db, "drill", "agent", "agent:drill");
    let srv = start(&dir, None);
    let url = format!("http://127.0.0.1:{}", srv.port);
    let (code, out) = drill(&["--server", &url, "--format", "json"], Some(&agent));
    assert_eq!(code, 0, "{out}");
    let steps: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(steps.len(), 12, "{out}");
    assert!(
        steps
            .iter()
            .all(|s| s["as_expected"] == true && s["decision"].is_string()),
        "{out}"
    );
    drop(srv);

    // The same service with the guard switched off: the drill says where it failed.
    let off = tmpdir("drill-server-off");
    let db = off.join("parapet.db");
    let agent = token(&db, "drill", "agent", "agent:drill");
    let pack = off.join("pack");
    guard_off(&pack);
    let srv = start(&off, Some(&pack));
    let url = format!("http://127.0.0.1:{}", srv.port);
    let (code, out) = drill(
        &["--server", &url, "--scenario", "delete-recreate-database"],
        Some(&agent),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NOT HELD allow  plan delete-recreate-database"),
        "{out}"
    );
    drop(srv);
}
