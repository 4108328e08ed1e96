//! The real binary: exit codes, stdin, output files, formats, errors and help.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parapet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args(args)
        .current_dir(root())
        .env_remove("PARAPET_ACTOR")
        .env_remove("PARAPET_INCIDENT")
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn quick_start_denies_with_exit_1() {
    let o = parapet(&[
        "plan",
        "check",
        "demo/incident-plan.json",
        "--actor",
        "agent:kiro",
        "--pins",
        "demo/pins.toml",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Decision: DENY"));
    assert!(out.contains("opens TCP 22 on sg-0bastion01"));
    assert!(out.contains("undoes pinned emergency change INC-4711-payments-admin-console"));
    assert!(!out.contains("\x1b["), "no colour when not a terminal");
}

#[test]
fn exit_codes_follow_the_decision_and_fail_on() {
    let allow = parapet(&[
        "plan",
        "check",
        "testdata/plans/checkov/plan_change_keys/tfplan.json",
        "--actor",
        "agent:a",
    ]);
    assert_eq!(code(&allow), 0, "{}", stderr(&allow));
    let review = [
        "plan",
        "check",
        "testdata/plans/checkov/plan_nested_child_modules/tfplan.json",
        "--actor",
        "agent:a",
    ];
    assert_eq!(code(&parapet(&review)), 1);
    let mut deny_only = review.to_vec();
    deny_only.extend(["--fail-on", "deny"]);
    assert_eq!(code(&parapet(&deny_only)), 0);
    let never = [
        "plan",
        "check",
        "demo/incident-plan.json",
        "--fail-on",
        "never",
    ];
    assert_eq!(code(&parapet(&never)), 0);
}

#[test]
fn bad_input_and_usage_exit_2() {
    let o = parapet(&[
        "plan",
        "check",
        "testdata/plans/checkov/plan/corrupted-tfplan.json",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("state file"), "{}", stderr(&o));
    assert!(
        stdout(&o).is_empty(),
        "nothing that looks like a report on error"
    );
    let o = parapet(&["plan", "check", "no/such/plan.json"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no/such/plan.json"));
    let o = parapet(&["plan", "check", "demo"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        code(&parapet(&[
            "plan",
            "check",
            "demo/incident-plan.json",
            "--actor",
            "robot:x"
        ])),
        2
    );
    assert_eq!(code(&parapet(&["plan", "check"])), 2);
    assert_eq!(code(&parapet(&["frobnicate"])), 2);
    let o = parapet(&[
        "plan",
        "check",
        "demo/incident-plan.json",
        "--pins",
        "Cargo.toml",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("pins file Cargo.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn reads_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args([
            "plan", "check", "-", "--actor", "agent:a", "--format", "json",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let plan = std::fs::read(
        root().join("testdata/plans/checkov/plan_with_for_each_for_enrichment/tf_plan.json"),
    )
    .unwrap();
    child.stdin.take().unwrap().write_all(&plan).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input"]["path"], "<stdin>");
    assert_eq!(v["decision"]["outcome"], "deny");
}

#[test]
fn every_format_writes_to_a_file() {
    let dir = std::env::temp_dir().join(format!("parapet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (format, needle) in [
        ("json", "parapet.plan-report/v1"),
        ("sarif", "\"version\": \"2.1.0\""),
        ("junit", "<testsuites"),
        ("github", "::error"),
        ("text", "Decision: DENY"),
    ] {
        let out = dir.join(format!("report.{format}"));
        let o = parapet(&[
            "plan",
            "check",
            "demo/incident-plan.json",
            "--actor",
            "agent:kiro",
            "-f",
            format,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 1, "{format}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(needle), "{format}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn incident_mode_from_the_environment() {
    let o = Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args([
            "plan",
            "check",
            "testdata/plans/checkov/plan_change_keys/tfplan.json",
        ])
        .current_dir(root())
        .env("PARAPET_ACTOR", "pipeline:drift-bot")
        .env("PARAPET_INCIDENT", "INC-7")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("Incident INC-7 is open"));
}

#[test]
fn custom_policies_override_and_bad_ones_are_rejected() {
    let dir = std::env::temp_dir().join(format!("parapet-pol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Switch off the SSH rule by replacing its file with one that only denies public shares.
    std::fs::write(dir.join("20-network.cedar"), "@id(\"quiet\")\nforbid(principal, action, resource) when { context.effects.contains(\"external_share_public\") };\n").unwrap();
    let o = parapet(&[
        "plan",
        "check",
        "testdata/plans/checkov/plan_with_for_each_for_enrichment/tf_plan.json",
        "--actor",
        "agent:a",
        "--policies",
        dir.to_str().unwrap(),
        "--fail-on",
        "deny",
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let list = parapet(&["policy", "list", "--policies", dir.to_str().unwrap()]);
    assert!(stdout(&list).contains("20-network.cedar\tcustom"));
    std::fs::write(
        dir.join("99-typo.cedar"),
        "forbid(principal, action, resource) when { context.efects.contains(\"x\") };\n",
    )
    .unwrap();
    let o = parapet(&["policy", "validate", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("99-typo.cedar"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_teaches() {
    let o = parapet(&["plan", "check", "--help"]);
    assert_eq!(code(&o), 0);
    let h = stdout(&o);
    for needle in [
        "--actor",
        "--pins",
        "--policies",
        "--incident",
        "--format",
        "--fail-on",
        "Exit codes",
        "terraform show -json",
    ] {
        assert!(h.contains(needle), "help lacks {needle}");
    }
    assert_eq!(code(&parapet(&["--version"])), 0);
}

#[test]
fn call_check_exit_codes_and_json() {
    let o = parapet(&[
        "call",
        "check",
        "--actor",
        "agent:kiro",
        "--action",
        "ec2:AuthorizeSecurityGroupIngress",
        "--params",
        r#"{"GroupId":"sg-0abc","IpPermissions":[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]}"#,
        "-f",
        "json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "parapet.call-report/v1");
    assert_eq!(v["decision"]["outcome"], "deny");
    assert_eq!(v["resource"], "sg-0abc");
    let o = parapet(&[
        "call",
        "check",
        "--actor",
        "agent:kiro",
        "--action",
        "s3:GetObject",
    ]);
    assert_eq!(code(&o), 0);
    assert_eq!(code(&parapet(&["call", "check", "--action", "nocolon"])), 2);
    let o = parapet(&[
        "call",
        "check",
        "--action",
        "s3:GetObject",
        "--params",
        "[1,2]",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("JSON object"), "{}", stderr(&o));
    assert_eq!(
        code(&parapet(&[
            "call",
            "check",
            "--action",
            "s3:GetObject",
            "--params",
            "{"
        ])),
        2
    );
    assert_eq!(
        code(&parapet(&[
            "call",
            "check",
            "--action",
            "s3:GetObject",
            "--account",
            "12"
        ])),
        2
    );
}
