//! The AWS CLI parser against awscli itself: every single-command example shipped with
//! the pinned awscli (`awscli/examples/**/*.rst`, thousands) is read by parapet and by
//! awscli's own argument processing (every third: tests/cli/awscli_params.py, with target/moto's
//! Python; nothing is sent anywhere). Where awscli makes a call, parapet must make the
//! same one (service, operation, parameters) or refuse it for a documented reason
//! (docs/mcp-mappings.md: local files and URLs, shell syntax, customizations). target/moto
//! is made here when missing (as the proxy tests do), so this fails rather than skips
//! without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use parapet_wire::cli::{parse_command, CliError};
use parapet_wire::ServiceModels;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// target/moto at the pins of scripts/test (one process at a time, by a lock).
fn venv() -> PathBuf {
    let script = std::fs::read_to_string(root().join("scripts/test")).unwrap();
    let pins: Vec<String> = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("MOTO_PINS="))
        .expect("scripts/test sets MOTO_PINS")
        .trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect();
    let dir = root().join("target/moto");
    let joined = pins.join(" ");
    let ready = || std::fs::read_to_string(dir.join(".ready")).is_ok_and(|s| s.trim() == joined);
    if !ready() {
        let lock = root().join("target/moto.lock");
        while std::fs::create_dir(&lock).is_err() {
            std::thread::sleep(Duration::from_millis(200));
        }
        if !ready() {
            if !dir.join("bin/pip").exists() {
                let ok = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&dir)
                    .status()
                    .unwrap();
                assert!(ok.success(), "python3 -m venv target/moto");
            }
            let ok = Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check"])
                .args(&pins)
                .status()
                .unwrap();
            assert!(ok.success(), "pip install {joined}");
            std::fs::write(dir.join(".ready"), format!("{joined}\n")).unwrap();
        }
        let _ = std::fs::remove_dir(&lock);
    }
    dir
}

/// `aws ...` lines of the examples, continuation lines joined.
fn example_commands(dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            example_commands(&p, out);
            continue;
        }
        if p.extension().is_none_or(|e| e != "rst") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let s = lines[i].trim();
            if s.starts_with("aws ") {
                let mut cmd = s.to_string();
                while cmd.ends_with('\\') && i + 1 < lines.len() {
                    i += 1;
                    cmd = format!("{} {}", cmd[..cmd.len() - 1].trim_end(), lines[i].trim());
                }
                out.push(cmd);
            }
            i += 1;
        }
    }
}

/// Refusals the docs list as deliberate: not parser gaps.
fn documented(e: &CliError) -> bool {
    matches!(
        e,
        CliError::External { .. }
            | CliError::Shell(_)
            | CliError::Unsupported { .. }
            | CliError::EndpointOverride(_)
            | CliError::NoCall(_)
    )
}

#[test]
fn awscli_examples_differential() {
    let py = venv().join("bin/python");
    let site = std::fs::read_dir(venv().join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages/awscli/examples"))
        .find(|p| p.is_dir())
        .expect("awscli examples in target/moto");
    let mut all = Vec::new();
    example_commands(&site, &mut all);
    assert!(all.len() > 5000, "{} example commands", all.len());
    // Every example through parapet: a call or a refusal, never a panic.
    let models = ServiceModels::embedded();
    let read = all
        .iter()
        .filter(|c| parse_command(models, c).is_ok())
        .count();
    eprintln!("{read} of {} examples read", all.len());
    // awscli runs each command in a fork of one process (it keeps state between
    // commands): every third example keeps the run to a few minutes.
    let commands: Vec<String> = all.into_iter().step_by(3).collect();

    let mut child = Command::new(&py)
        .arg(root().join("crates/wire/tests/cli/awscli_params.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input: String = commands
        .iter()
        .map(|c| format!("{}\n", Value::String(c.clone())))
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "awscli_params.py failed");
    let answers: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), commands.len());

    let (mut same, mut refused, mut lenient) = (0, 0, 0);
    let mut mismatches = Vec::new();
    let mut gaps = Vec::new();
    for a in &answers {
        let cmd = a["command"].as_str().unwrap();
        let ours = parse_command(models, cmd);
        match (a["status"].as_str().unwrap(), ours) {
            ("ok", Ok(calls)) => {
                let c = &calls[0];
                let want = (
                    a["service"].as_str().unwrap(),
                    a["operation"].as_str().unwrap(),
                    &a["params"],
                );
                if calls.len() == 1 && (c.service.as_str(), c.operation.as_str(), &c.params) == want
                {
                    same += 1;
                } else {
                    mismatches.push(format!("{cmd}\n  awscli: {want:?}\n  parapet: {calls:?}"));
                }
            }
            ("ok", Err(e)) if documented(&e) => refused += 1,
            // awscli's botocore knows a service this build's models do not (or no longer).
            ("ok", Err(CliError::UnknownService(_)))
                if models.service(a["service"].as_str().unwrap()).is_none() =>
            {
                refused += 1
            }
            ("ok", Err(e)) => gaps.push(format!("{cmd}\n  {e}")),
            ("custom", Err(e)) if documented(&e) || matches!(e, CliError::BadArgument { .. }) => {
                refused += 1
            }
            // awscli refuses what parapet reads: required members, enums and the like
            // are the service's to check; the call would fail, not do more.
            (_, Ok(_)) => lenient += 1,
            (_, Err(_)) => refused += 1,
        }
    }
    eprintln!(
        "{} examples: {same} read the same as awscli, {refused} refused, {lenient} read where awscli refuses, {} differ, {} gaps",
        answers.len(),
        mismatches.len(),
        gaps.len()
    );
    for m in mismatches.iter().take(30) {
        eprintln!("DIFFERS: {m}");
    }
    for g in gaps.iter().take(30) {
        eprintln!("GAP: {g}");
    }
    assert!(same > 1000, "only {same} examples read the same");
    assert!(
        mismatches.is_empty(),
        "{} examples read differently from awscli",
        mismatches.len()
    );
    assert!(
        gaps.is_empty(),
        "{} examples awscli reads and parapet refuses without a documented reason",
        gaps.len()
    );
}
