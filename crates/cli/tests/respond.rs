//! Containment against moto server: the bundled 8-minute takeover, replayed with the keys,
//! users and snapshot of a live (moto) account, is scanned; `parapet respond run
//! --execute` deactivates the lineage's keys, removes the back-door user's console
//! password and makes the shared snapshot private, each checked with a read call;
//! steps the gate holds for review wait, and run once two people approve them in the
//! decision service (where the decision is in the audit chain); `respond undo`
//! re-activates the keys. Nothing is sent in a dry run.

mod common;
mod proxy_common;

use common::{http, root, tmpdir};

use proxy_common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `parapet respond ARGS` with moto's credentials and region, as an operator runs it.
fn respond(moto: &Moto, args: &[&str]) -> Output {
    parapet()
        .arg("respond")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto.url())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The live account the takeover is replayed against: the lineage's users with keys,
/// a console password for the back door, a snapshot shared with everyone.
struct Account {
    keys: Vec<String>,
    snapshot: String,
}

fn account(moto: &Moto) -> Account {
    let mut keys = Vec::new();
    for user in ["svc-reporting", "ops-admin", "backup-svc"] {
        moto.aws(&["iam", "create-user", "--user-name", user]);
        let k = moto.aws(&["iam", "create-access-key", "--user-name", user]);
        keys.push(k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string());
    }
    moto.aws(&[
        "iam",
        "create-login-profile",
        "--user-name",
        "backup-svc",
        "--password",
        "Backdoor-Passw0rd!",
    ]);
    let vol = moto.aws(&[
        "ec2",
        "create-volume",
        "--availability-zone",
        "us-east-1a",
        "--size",
        "1",
    ]);
    let snap = moto.aws(&[
        "ec2",
        "create-snapshot",
        "--volume-id",
        vol["VolumeId"].as_str().unwrap(),
    ]);
    let snapshot = snap["SnapshotId"].as_str().unwrap().to_string();
    moto.aws(&[
        "ec2",
        "modify-snapshot-attribute",
        "--snapshot-id",
        &snapshot,
        "--attribute",
        "createVolumePermission",
        "--operation-type",
        "add",
        "--group-names",
        "all",
    ]);
    Account { keys, snapshot }
}

/// The bundled takeover with the account's key and snapshot ids in place of its own.
fn replay(dir: &Path, acct: &Account) -> PathBuf {
    let src = root().join("demo/trail/takeover");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let swaps = [
        ("AKIAEYKH2CMZ5ML24UMD", acct.keys[0].as_str()),
        ("AKIAHCJ6YFZEBYEZLKBW", acct.keys[1].as_str()),
        ("AKIAHBY5RW3LIE5CHDMW", acct.keys[2].as_str()),
        ("snap-0123456789abcdef0", acct.snapshot.as_str()),
    ];
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let mut t = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
            .read_to_string(&mut t)
            .unwrap();
        for (from, to) in swaps {
            t = t.replace(from, to);
        }
        let name = p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".gz");
        std::fs::write(logs.join(name), t).unwrap();
    }
    let out = dir.join("incidents.jsonl");
    let o = parapet()
        .args(["trail", "scan"])
        .arg(&logs)
        .args(["--format", "jsonl", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.code() == Some(1), "trail scan: {}", text(&o));
    out
}

fn key_states(moto: &Moto) -> Vec<String> {
    ["svc-reporting", "ops-admin", "backup-svc"]
        .iter()
        .map(|u| {
            moto.aws(&["iam", "list-access-keys", "--user-name", u])["AccessKeyMetadata"][0]
                ["Status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn snapshot_shared(moto: &Moto, snapshot: &str) -> bool {
    let v = moto.aws(&[
        "ec2",
        "describe-snapshot-attribute",
        "--snapshot-id",
        snapshot,
        "--attribute",
        "createVolumePermission",
    ]);
    v["CreateVolumePermissions"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
}

#[test]
fn the_takeover_is_contained_checked_and_undone() {
    let dir = tmpdir("respond-run");
    let moto = Moto::start(&dir);
    let acct = account(&moto);
    let incidents = replay(&dir, &acct);
    let inc = incidents.to_str().unwrap();

    // A dry run sends nothing and says what would run and what waits.
    let o = respond(&moto, &["run", inc]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "would run   deactivate-access-key: Deactivate access key {}",
            acct.keys[2]
        )),
        "{out}"
    );
    assert!(out.contains("not run     quarantine-created-user"), "{out}");
    assert!(out.contains("waits for approval"), "{out}");
    assert!(
        out.contains("a person must supply the ipPermissions of event"),
        "{out}"
    );
    assert_eq!(key_states(&moto), ["Active"; 3]);
    assert!(snapshot_shared(&moto, &acct.snapshot));

    // Executing without a record would lose the undo.
    let o = respond(&moto, &["run", inc, "--execute"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--record"), "{}", text(&o));

    let rec = dir.join("steps.jsonl");
    let o = respond(
        &moto,
        &[
            "run",
            inc,
            "--execute",
            "--record",
            rec.to_str().unwrap(),
            "--expires",
            "1h",
        ],
    );
    let out = text(&o);
    // Held steps remain: exit 1.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(key_states(&moto), ["Inactive"; 3], "{out}");
    // moto 5.2 does not implement ec2 ResetSnapshotAttribute (it answers HTTP 500): the
    // step is recorded as failed, never as done, and the snapshot stays shared.
    assert!(snapshot_shared(&moto, &acct.snapshot), "{out}");
    let gone = aws_command(
        &moto.url(),
        "testing",
        "testing",
        &["iam", "get-login-profile", "--user-name", "backup-svc"],
    )
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NoSuchEntity"),
        "{out}"
    );
    let steps = records(&rec);
    let state = |step: &str| -> Vec<String> {
        steps
            .iter()
            .filter(|r| r["step"] == step && r["incident"] == steps_incident(&steps))
            .map(|r| r["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(state("deactivate-access-key"), ["done"; 3], "{out}");
    assert_eq!(state("remove-login-profile"), ["done"], "{out}");
    assert_eq!(state("unshare-snapshot"), ["failed"], "{out}");
    assert!(out.contains("FAILED      unshare-snapshot"), "{out}");
    assert!(out.contains("HTTP 500"), "{out}");
    assert_eq!(state("quarantine-created-user"), ["not-run"], "{out}");
    assert_eq!(state("revoke-opened-ingress"), ["not-run"], "{out}");
    for r in steps.iter().filter(|r| r["state"] == "done") {
        assert!(r["request_id"].is_string(), "{r}");
        assert!(r["expires"].is_string(), "{r}");
        assert!(
            r["detail"].as_str().unwrap().contains("checked with"),
            "{r}"
        );
    }
    // The user the quarantine would have touched has no deny: it waits.
    let policies = moto.aws(&["iam", "list-user-policies", "--user-name", "backup-svc"]);
    assert_eq!(policies["PolicyNames"], json!([]), "{out}");

    // Undo is judged like any call: re-enabling a key is a grant, held for approvers
    // (the second test approves one); the password's undo needs a person.
    for extra in [&[][..], &["--execute"][..]] {
        let mut args = vec![
            "undo",
            rec.to_str().unwrap(),
            "--step",
            "deactivate-access-key",
        ];
        args.extend_from_slice(extra);
        let o = respond(&moto, &args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("waits for approval"), "{}", text(&o));
        assert_eq!(key_states(&moto), ["Inactive"; 3]);
    }
    let o = respond(
        &moto,
        &[
            "undo",
            rec.to_str().unwrap(),
            "--step",
            "remove-login-profile",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("a person must supply a new password"),
        "{}",
        text(&o)
    );
    // Nothing has expired yet.
    let o = respond(
        &moto,
        &["undo", rec.to_str().unwrap(), "--expired", "--execute"],
    );
    assert!(text(&o).contains("nothing to undo"), "{}", text(&o));

    // A record edited by hand cannot choose its undo: it is the playbook's undo of the
    // recorded call.
    let edited = dir.join("edited.jsonl");
    let recorded = std::fs::read_to_string(&rec).unwrap();
    let line = recorded
        .lines()
        .find(|l| l.contains("deactivate-access-key"))
        .unwrap();
    let mut r: Value = serde_json::from_str(line).unwrap();
    r["undo"] = json!({"action": "iam:DeleteLoginProfile", "params": {"UserName": "break-glass"}});
    std::fs::write(&edited, format!("{r}\n")).unwrap();
    let o = respond(
        &moto,
        &["undo", edited.to_str().unwrap(), "--format", "json"],
    );
    assert!(!text(&o).contains("DeleteLoginProfile"), "{}", text(&o));
    assert!(text(&o).contains("UpdateAccessKey"), "{}", text(&o));

    // A plan file cannot vouch for its own steps: a step the playbooks do not have, or a
    // call its step does not make, is refused before anything is sent; a forged "allow"
    // is judged again.
    let forged = dir.join("forged.json");
    let forge = |step: &str, action: &str, params: Value| {
        std::fs::write(
            &forged,
            json!({
                "type": "containment", "incident": "INC-forged", "dry_run": true,
                "proposals": [{"step": step, "title": "harmless", "verify": "",
                    "call": {"action": action, "params": params},
                    "outcome": "allow", "reason": "trust me"}]
            })
            .to_string(),
        )
        .unwrap();
        let frec = dir.join("forged-steps.jsonl");
        respond(
            &moto,
            &[
                "run",
                forged.to_str().unwrap(),
                "--execute",
                "--record",
                frec.to_str().unwrap(),
            ],
        )
    };
    let admin = json!({"UserName": "ops-admin", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    let o = forge("routine-hygiene", "iam:AttachUserPolicy", admin.clone());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not one of the playbooks' steps"),
        "{}",
        text(&o)
    );
    let o = forge("quarantine-created-user", "iam:AttachUserPolicy", admin);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not one this step makes"), "{}", text(&o));
    let attached = moto.aws(&[
        "iam",
        "list-attached-user-policies",
        "--user-name",
        "ops-admin",
    ]);
    assert_eq!(attached["AttachedPolicies"], json!([]), "{}", text(&o));
    // The playbooks' own step, run again: the keys are already inactive, nothing is sent.
    let again = dir.join("again.jsonl");
    let o = respond(
        &moto,
        &[
            "run",
            inc,
            "--execute",
            "--record",
            again.to_str().unwrap(),
            "--step",
            "deactivate-access-key",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("already so"), "{}", text(&o));
    assert!(records(&again)
        .iter()
        .all(|r| r["state"] == "already-so" && r["undo"].is_null()));

    // --profile names the only source of credentials, as the AWS CLI's does: keys in the
    // environment do not win over it, and a profile that does not exist is an error.
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[responder]\naws_access_key_id = AKIAPROFILE000000001\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    for (profile, code, says) in [("responder", 0, "(AKIA...)"), ("nosuch", 2, "nosuch")] {
        let o = parapet()
            .args([
                "respond",
                "run",
                inc,
                "--execute",
                "--step",
                "deactivate-access-key",
                "--record",
            ])
            .arg(&again)
            .args(["--profile", profile])
            .env("HOME", &home)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto.url())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
        assert!(!text(&o).contains("profile-secret"), "{}", text(&o));
    }
}

/// The takeover's incident: the one with the most records.
fn steps_incident(steps: &[Value]) -> Value {
    let mut counts = std::collections::BTreeMap::new();
    for r in steps {
        *counts.entry(r["incident"].to_string()).or_insert(0) += 1;
    }
    let top = counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0;
    serde_json::from_str(&top).unwrap()
}

/// `parapet respond ARGS` through the decision service as the containment pipeline,
/// waiting up to a minute for approvers; running.
fn respond_via(stack: &Stack, token: &str, args: &[&str]) -> std::process::Child {
    parapet()
        .arg("respond")
        .args(args)
        .args(["--server", &stack.server.url(), "--wait", "60s"])
        .env("PARAPET_TOKEN", token)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", stack.moto.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The id of a pending decision other than `not`.
fn pending(stack: &Stack, not: &str) -> String {
    let started = Instant::now();
    loop {
        let (_, q) = http(
            stack.server.port,
            "GET",
            "/v1/decisions?state=pending",
            Some(&stack.admin),
            None,
        );
        let list = q
            .as_array()
            .or_else(|| q["decisions"].as_array())
            .cloned()
            .unwrap_or_default();
        if let Some(d) = list.iter().find(|d| d["id"] != not) {
            return d["id"].as_str().unwrap().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no pending decision: {q}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_held_step_runs_once_two_people_approve_it() {
    let stack = Stack::start("respond-approve", Opts::default());
    stack
        .moto
        .aws(&["iam", "create-user", "--user-name", "backup-svc"]);
    let token = stack
        .admin_cli(&[
            "token",
            "create",
            "--name",
            "respond",
            "--role",
            "agent",
            "--actor",
            "pipeline:parapet-respond",
        ])
        .lines()
        .next() // standard output (the secret) comes before standard error
        .unwrap()
        .trim()
        .to_string();
    // A plan as `trail scan` writes it (one step: quarantine the back-door user).
    let plan = json!({
        "type": "containment",
        "incident": "INC-test",
        "now": "2026-11-02T10:15:00Z",
        "dry_run": true,
        "proposals": [{
            "step": "quarantine-created-user",
            "title": "Quarantine user backup-svc: deny everything, keep it for forensics",
            "call": {"action": "iam:PutUserPolicy", "params": {
                "UserName": "backup-svc", "PolicyName": "parapet-quarantine-INC-test",
                "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}},
            "undo": {"action": "iam:DeleteUserPolicy", "params": {"UserName": "backup-svc", "PolicyName": "parapet-quarantine-INC-test"}},
            "verify": "iam:GetUserPolicy backup-svc parapet-quarantine-INC-test returns the deny",
            "check": {"call": {"action": "iam:GetUserPolicy", "params": {"UserName": "backup-svc", "PolicyName": "parapet-quarantine-INC-test"}},
                      "expect": {"has": {"PolicyName": "parapet-quarantine-INC-test"}}},
            "outcome": "review",
            "reason": "review-privilege"
        }]
    });
    let plan_file = stack.dir.join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let rec = stack.dir.join("steps.jsonl");
    let child = respond_via(
        &stack,
        &token,
        &[
            "run",
            plan_file.to_str().unwrap(),
            "--execute",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    // The step is a pending decision; nothing has changed yet.
    let id = pending(&stack, "");
    let policies = stack
        .moto
        .aws(&["iam", "list-user-policies", "--user-name", "backup-svc"]);
    assert_eq!(policies["PolicyNames"], json!([]));
    let (s, v) = stack.vote(&stack.alice, &id, "approve");
    assert_eq!(s, 200, "{v}");
    let (s, v) = stack.vote(&stack.bob, &id, "approve");
    assert_eq!(s, 200, "{v}");
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let policies = stack
        .moto
        .aws(&["iam", "list-user-policies", "--user-name", "backup-svc"]);
    assert_eq!(
        policies["PolicyNames"],
        json!(["parapet-quarantine-INC-test"]),
        "{out}"
    );
    let steps = records(&rec);
    assert_eq!(steps[0]["state"], "done", "{out}");
    assert_eq!(steps[0]["decision"], id.as_str(), "{out}");
    // The decision, its votes and its execution are in the audit chain, which holds.
    let d = stack.decision(&id);
    assert_eq!(d["state"], "executed", "{d}");
    let (s, v) = http(
        stack.server.port,
        "GET",
        "/v1/audit/verify",
        Some(&stack.admin),
        None,
    );
    assert_eq!(s, 200, "{v}");

    // Its undo is a permissions change too: it waits for two people, then runs.
    let child = respond_via(
        &stack,
        &token,
        &["undo", rec.to_str().unwrap(), "--execute"],
    );
    let id = pending(&stack, &id);
    for who in [&stack.alice, &stack.bob] {
        let (s, v) = stack.vote(who, &id, "approve");
        assert_eq!(s, 200, "{v}");
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let policies = stack
        .moto
        .aws(&["iam", "list-user-policies", "--user-name", "backup-svc"]);
    assert_eq!(policies["PolicyNames"], json!([]), "{}", text(&o));
    let steps = records(&rec);
    assert_eq!(steps.last().unwrap()["state"], "undone");
    // Undone once: nothing is left to undo.
    let o = respond(&stack.moto, &["undo", rec.to_str().unwrap(), "--execute"]);
    assert!(text(&o).contains("nothing to undo"), "{}", text(&o));
    stack.finish();
}
