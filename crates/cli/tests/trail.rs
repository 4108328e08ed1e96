//! `parapet trail scan` end to end: the bundled takeover, every output format, bad
//! input, user rules, standard input and checkpoints.

mod common;
use common::{bin, exited, root, tmpdir};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

const DEMO: &str = "demo/trail/takeover";

#[test]
fn the_quick_start_shows_the_takeover_as_one_incident() {
    let o = bin()
        .args(["trail", "scan", DEMO])
        .current_dir(root())
        .output()
        .unwrap();
    let out = exited(o.clone(), 1);
    assert!(out.contains("CRITICAL"), "{out}");
    assert!(
        out.contains("phases: initial-access") && out.contains("-> defense-evasion"),
        "{out}"
    );
    assert!(
        out.contains("started by user svc-reporting; 4 identities"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("189 events") && err.contains("3 incidents"),
        "{err}"
    );
    // --fail-on never: same findings, exit 0.
    let o = bin()
        .args(["trail", "scan", DEMO, "--fail-on", "never"])
        .current_dir(root())
        .output()
        .unwrap();
    exited(o, 0);
}

#[test]
fn json_lines_and_ocsf() {
    let o = bin()
        .args([
            "trail",
            "scan",
            DEMO,
            "--format",
            "jsonl",
            "--min-level",
            "informational",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let out = exited(o, 1);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alerts: Vec<&Value> = lines.iter().filter(|v| v["type"] == "alert").collect();
    let incidents: Vec<&Value> = lines.iter().filter(|v| v["type"] == "incident").collect();
    assert_eq!(incidents.len(), 3);
    assert!(alerts.len() > 30, "{}", alerts.len());
    for a in &alerts {
        assert_eq!(a["schema"], "parapet.trail/v1");
        assert!(a["incident"].as_str().unwrap().starts_with("INC-"));
        assert!(!a["event_ids"].as_array().unwrap().is_empty());
    }
    let attack = incidents
        .iter()
        .find(|i| i["root"].as_str().unwrap().ends_with("svc-reporting"))
        .unwrap();
    assert_eq!(attack["phases"].as_array().unwrap().len(), 9);
    assert_eq!(attack["level"], "critical");
    // Each incident is followed by its proposed containment (dry run), judged by the gate.
    let plan = lines
        .iter()
        .find(|v| v["type"] == "containment" && v["incident"] == attack["id"])
        .expect("the attack's containment line");
    assert_eq!(plan["dry_run"], true);
    let key = plan["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["call"]["params"]["AccessKeyId"] == "AKIAHBY5RW3LIE5CHDMW")
        .expect("the back-door user's key is deactivated");
    assert_eq!(key["call"]["action"], "iam:UpdateAccessKey");
    assert_eq!(key["call"]["params"]["Status"], "Inactive");
    assert_eq!(key["undo"]["params"]["Status"], "Active");
    // Deactivating a key only takes access away: it runs at once when executed.
    assert_eq!(key["outcome"], "allow", "{key}");

    let dir = tmpdir("trail-ocsf");
    let file = dir.join("findings.jsonl");
    let o = bin()
        .args(["trail", "scan", DEMO, "--format", "ocsf", "-o"])
        .arg(&file)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(exited(o, 1), "");
    let text = std::fs::read_to_string(&file).unwrap();
    let findings: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(findings.iter().any(|f| f["class_uid"] == 2004));
    assert_eq!(
        findings.iter().filter(|f| f["class_uid"] == 2005).count(),
        3
    );
    for f in &findings {
        assert_eq!(f["metadata"]["version"], "1.3.0");
        assert!(
            f["severity_id"].as_u64().unwrap() >= 2,
            "--min-level low drops informational"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_skipped_counted_and_named() {
    let dir = tmpdir("trail-bad");
    let good = std::fs::read_dir(root().join(DEMO))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.join("truncated.json.gz"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("garbage.json"), b"\x00\x01\x02 not json").unwrap();
    std::fs::write(dir.join("lines.jsonl"), b"{\"eventSource\": \"iam.amazonaws.com\", \"eventName\": \"CreateUser\", \"eventTime\": \"2026-11-02T09:00:00Z\"}\n{broken\n[1,2]\n").unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored in directories").unwrap();
    let o = bin()
        .args(["trail", "scan", "-v"])
        .arg(&dir)
        .output()
        .unwrap();
    // Unreadable records make the scan incomplete: exit 2, naming the first one.
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the scan is incomplete: ") && err.contains(" unreadable records, first at "),
        "{err}"
    );
    // Whoever accepts partial logs says so.
    let ok = bin()
        .args(["trail", "scan", "--allow-unreadable"])
        .arg(&dir)
        .output()
        .unwrap();
    exited(ok, 0);
    assert!(
        err.contains("truncated.json.gz") && err.contains("gzip"),
        "{err}"
    );
    assert!(
        err.contains("garbage.json") && err.contains("not CloudTrail JSON"),
        "{err}"
    );
    assert!(err.contains("lines.jsonl:2"), "{err}");
    assert!(err.contains("1 events") || err.contains("1 event"), "{err}");
    assert!(!err.contains("notes.txt"), "{err}");
    // A path named on the command line that does not exist is a usage error.
    let o = bin()
        .args(["trail", "scan"])
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing: no such file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_rules_load_replace_and_fail_clearly() {
    let dir = tmpdir("trail-rules");
    // SigmaHQ's rules alone, over the Stratus detonations.
    let o = bin()
        .args([
            "trail",
            "scan",
            "testdata/cloudtrail/stratus",
            "--no-builtin",
            "--rules",
            "crates/detect/tests/data/sigmahq",
            "--format",
            "jsonl",
            "--fail-on",
            "never",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let out = exited(o, 0);
    let alerts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "alert")
        .collect();
    assert!(alerts.len() >= 5, "{out}");
    for a in &alerts {
        // SigmaHQ's licence asks that matches credit the rule's authors.
        assert!(a["rule_file"].as_str().unwrap().contains("sigmahq"), "{a}");
        assert!(!a["rule_author"].as_str().unwrap().is_empty(), "{a}");
    }
    // A broken rule names its file and the problem; exit 2.
    std::fs::write(
        dir.join("bad.yml"),
        "title: x\nid: bad\ndetection:\n  sel:\n    eventName|wide: x\n  condition: sel\n",
    )
    .unwrap();
    let o = bin()
        .args(["trail", "scan", DEMO, "--rules"])
        .arg(&dir)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yml") && err.contains("wide"), "{err}");
    // A rule with a built-in id replaces it: silence the admin-grant rule.
    std::fs::write(dir.join("bad.yml"), "title: quiet\nid: parapet-admin-granted\ndetection:\n  sel:\n    eventName: NeverHappens\n  condition: sel\n").unwrap();
    let o = bin()
        .args(["trail", "scan", DEMO, "--format", "jsonl", "--rules"])
        .arg(&dir)
        .current_dir(root())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("Administrator privileges granted"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn standard_input_and_checkpoints() {
    // EventBridge envelopes on stdin.
    let one = r#"{"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "eventTime": "2026-11-02T09:00:00Z", "eventID": "x1", "requestParameters": {"name": "main"}, "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/mallory", "accessKeyId": "AKIAMALLORY"}}}"#;
    let mut child = bin()
        .args(["trail", "scan", "-", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(one.as_bytes())
        .unwrap();
    let out = exited(child.wait_with_output().unwrap(), 1);
    assert!(out.contains("parapet-defense-evasion"), "{out}");

    // Two runs over the two halves of the delivery, sharing a checkpoint, find the same
    // attack incident as one run over everything.
    let dir = tmpdir("trail-cp");
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(root().join(DEMO))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let half = files.len() / 2;
    for (i, f) in files.iter().enumerate() {
        let to = if i < half { &a } else { &b };
        std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
    }
    let cp = dir.join("state.json");
    let run = |d: &std::path::Path| {
        let o = bin()
            .args(["trail", "scan", "--format", "jsonl", "--checkpoint"])
            .arg(&cp)
            .arg(d)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&a);
    let second = run(&b);
    let attack: Value = second
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["type"] == "incident" && v["root"].as_str().unwrap().ends_with("svc-reporting"))
        .expect("the incident survives the restart");
    assert_eq!(attack["phases"].as_array().unwrap().len(), 9, "{attack}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An input that yields no readable record is not "no incident": exit 2, naming it.
#[test]
fn an_input_with_nothing_readable_exits_2() {
    let dir = tmpdir("trail-unreadable");
    let one = "{\"eventSource\": \"iam.amazonaws.com\", \"eventName\": \"CreateUser\", \"eventTime\": \"2026-11-02T09:00:00Z\"}";
    let utf16_garbage: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("not json".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    for (name, bytes) in [
        ("empty.json", Vec::new()),
        ("binary.bin", vec![0x00, 0x01, 0xfe, 0x80, 0x7f]),
        ("utf16.json", utf16_garbage),
        ("nested.json", deep.into_bytes()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let o = bin().args(["trail", "scan"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}: holds no readable CloudTrail record")),
            "{name}: {err}"
        );
        // Next to a readable input, the readable one is still scanned; still exit 2.
        let good = dir.join("good.jsonl");
        std::fs::write(&good, format!("{one}\n{one}\n")).unwrap();
        let o = bin()
            .args(["trail", "scan"])
            .arg(&good)
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("2 events"), "{err}");
        assert!(!err.contains("good.jsonl:"), "{err}");
        // `trail explain` too.
        let o = bin().args(["trail", "explain"]).arg(&p).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "explain {name}");
    }
    // An empty directory holds nothing to scan; stdin with nothing readable fails too.
    let empty = dir.join("nothing");
    std::fs::create_dir_all(&empty).unwrap();
    let o = bin().args(["trail", "scan"]).arg(&empty).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no CloudTrail file"));
    let mut child = bin()
        .args(["trail", "scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\x00garbage")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stdin: holds no readable"));
    // A valid file without records read fine: exit 0.
    let p = dir.join("none.json");
    std::fs::write(&p, b"{\"Records\": []}").unwrap();
    let o = bin().args(["trail", "scan"]).arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A damaged log is not a clean log: a truncated file next to readable ones makes a
/// scan that found nothing exit 2, and one that found an incident still exit 1,
/// saying it was incomplete.
#[test]
fn a_truncated_file_makes_the_scan_incomplete() {
    let dir = tmpdir("trail-truncated");
    let quiet = "{\"eventSource\": \"s3.amazonaws.com\", \"eventName\": \"ListBuckets\", \"eventTime\": \"2026-11-02T09:00:00Z\", \"userIdentity\": {\"type\": \"IAMUser\", \"arn\": \"arn:aws:iam::111122223333:user/a\"}}";
    std::fs::write(dir.join("a.jsonl"), format!("{quiet}\n")).unwrap();
    // A gzip of a StopLogging record, cut short.
    let stop = "{\"Records\":[{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\",\"eventTime\":\"2026-11-02T09:01:00Z\"}]}";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(stop.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.join("b.json.gz"), &gz[..gz.len() / 2]).unwrap();
    let o = bin().args(["trail", "scan"]).arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the scan is incomplete: ") && err.contains("first at "),
        "{err}"
    );
    assert!(err.contains("b.json.gz"), "{err}");
    let o = bin()
        .args(["trail", "scan", "--allow-unreadable"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // With an incident found, exit 1 stays, and the scan still says it was incomplete.
    let takeover = root().join(DEMO);
    let o = bin()
        .args(["trail", "scan"])
        .arg(&takeover)
        .arg(dir.join("b.json.gz"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("incomplete"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn containment_playbooks_can_be_replaced_and_bad_ones_are_refused() {
    let dir = tmpdir("trail-playbooks");
    let mine = dir.join("mine.toml");
    std::fs::write(
        &mine,
        "[[step]]\nid = \"stop-instances\"\nsubject = \"alert\"\non = [\"ec2:RunInstances\"]\nmin_level = \"high\"\ntitle = \"Stop what event {event} launched\"\naction = \"ec2:StopInstances\"\nparams = { InstanceIds = [\"(the instances of event {event})\"] }\nverify = \"ec2:DescribeInstances shows them stopped\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["trail", "scan", DEMO, "--playbooks"])
        .arg(&mine)
        .current_dir(root())
        .output()
        .unwrap();
    let out = exited(o, 1);
    assert!(out.contains("Stop what event"), "{out}");
    assert!(
        !out.contains("Deactivate access key"),
        "the file replaces the built-in steps"
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[step]]\nid = \"x\"\nsubject = \"everything\"\n").unwrap();
    let o = bin()
        .args(["trail", "scan", DEMO, "--playbooks"])
        .arg(&bad)
        .current_dir(root())
        .output()
        .unwrap();
    exited(o.clone(), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
