//! `parapet trail watch --partitions`: three workers on one stream of a nats-server with
//! TLS (client certificates) and a password, one killed mid-stream. The takeover is one
//! incident, raised once; no alert is lost and none is raised twice.

mod common;
mod nats_common;
use common::{bin, root, tmpdir};
use nats_common::{pki, takeover, tls_options, tls_server, Js, Pki};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Records as S3 delivers them: several to a `{"Records": [...]}` message.
fn files(records: &[String]) -> Vec<String> {
    records
        .chunks(7)
        .map(|c| format!("{{\"Records\": [{}]}}", c.join(",")))
        .collect()
}

fn worker(url: &str, pki: &Pki, id: &str, stream: &str, subject: &str, name: &str) -> Child {
    // Saved seldom: the worker killed has raised alerts its state does not cover, so
    // its successor raises them again, and they must be dropped as duplicates.
    worker_with(url, pki, id, [stream, subject, name], "4", "1h", "12s")
}

fn worker_with(
    url: &str,
    pki: &Pki,
    id: &str,
    [stream, subject, name]: [&str; 3],
    partitions: &str,
    checkpoint_every: &str,
    until_idle: &str,
) -> Child {
    bin()
        .args(["trail", "watch", "--nats", url, "--stream", stream])
        .args([
            "--subject",
            subject,
            "--durable",
            name,
            "--partitions",
            partitions,
        ])
        .args(["--worker", id, "--lease", "2s", "--ack-wait", "5s"])
        .args(["--checkpoint-every", checkpoint_every])
        .args(["--until-idle", until_idle, "--format", "jsonl"])
        // The tests play 75 minutes of events in a second: a record delivered again
        // after --ack-wait (a dead worker's pull) lands behind records an hour newer,
        // where in real time it would be seconds late. The lateness covers the attack.
        .args(["--lateness", "3h"])
        .arg("--nats-ca")
        .arg(&pki.ca)
        .arg("--nats-cert")
        .arg(&pki.client_cert)
        .arg("--nats-key")
        .arg(&pki.client_key)
        .args(["--nats-user", "parapet"])
        .env("NATS_PASSWORD", "s3cret-for-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What one `trail scan` of the takeover raises: its single-event alerts (keyed as
/// below) and the rules of its correlations.
fn scanned() -> (BTreeSet<String>, BTreeSet<String>) {
    let o = bin()
        .args(["trail", "scan", "demo/trail/takeover", "--format", "jsonl"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let alerts: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "alert")
        .collect();
    let events = alerts
        .iter()
        .filter(|a| a["kind"] == "event")
        .map(key)
        .collect();
    let rules = alerts
        .iter()
        .filter(|a| a["kind"] == "correlation")
        .map(|a| a["rule_id"].as_str().unwrap().to_string())
        .collect();
    (events, rules)
}

/// Alerts keyed by what makes them one alert: rule, events, times.
fn key(v: &Value) -> String {
    format!(
        "{} {} {} {}",
        v["rule_id"].as_str().or(v["rule"].as_str()).unwrap_or(""),
        v["event_ids"],
        v["first_time"],
        v["last_time"]
    )
}

#[test]

fn three_workers_one_killed_raise_the_takeover_once() {
    let dir = tmpdir("watch-cluster");
    let pki = pki(&dir);
    let server = tls_server(&dir, &pki, "parapet", "s3cret-for-test");
    let js = Js::connect(&server.url, tls_options(&pki, "parapet", "s3cret-for-test"));
    let (stream, subject, name) = ("CT", "cloudtrail", "ward");
    js.stream(stream, subject);
    let records = takeover();
    let half = records
        .iter()
        .position(|e| e.contains("\"CreateUser\""))
        .unwrap();
    let mut workers: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| worker(&server.url, &pki, id, stream, subject, name))
        .collect();
    // Files arrive as S3 delivers them, minutes apart: each is routed before the next
    // comes. (Files routed side by side by different workers can reach the partition out
    // of order, and lineage links are learned in arrival order; docs/watch.md, "Order".
    // This test is about the kill.)
    let deliver = |records: &[String]| {
        for f in files(records) {
            js.publish(subject, f.as_bytes());
            js.wait_consumed(stream, name, Duration::from_secs(60));
        }
    };
    // The worker that detects the account's partition writes the first alert: kill it
    // after the first half, mid-stream (SIGKILL: no drain, no checkpoint, no
    // acknowledgement).
    let (tx, rx) = std::sync::mpsc::channel::<(usize, String)>();
    let mut readers = Vec::new();
    for (i, w) in workers.iter_mut().enumerate() {
        let out = w.stdout.take().unwrap();
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((i, l.clone()));
                lines.push(l);
            }
            lines
        }));
    }
    drop(tx);
    deliver(&records[..half]);
    let (victim, _) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no worker raised an alert");
    workers[victim].kill().unwrap();
    let _ = workers[victim].wait();
    // The rest of the attack arrives after the kill.
    deliver(&records[half..]);
    let until = Instant::now() + Duration::from_secs(60);
    let mut errs = Vec::new();
    for (i, w) in workers.iter_mut().enumerate() {
        if i == victim {
            errs.push(String::new());
            continue;
        }
        while w.try_wait().unwrap().is_none() {
            if Instant::now() > until {
                let _ = w.kill();
                let mut e = String::new();
                w.stderr.take().unwrap().read_to_string(&mut e).unwrap();
                panic!("worker {i} did not go idle: {e}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut e = String::new();
        w.stderr.take().unwrap().read_to_string(&mut e).unwrap();
        let code = w.wait().unwrap().code();
        assert!(matches!(code, Some(0 | 1)), "worker {i}: {code:?} {e}");
        errs.push(e);
    }
    let outputs: Vec<Vec<String>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let lines: Vec<Value> = outputs
        .iter()
        .flatten()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // Alerts on the alert stream: each once.
    let stored: Vec<Value> = js
        .messages(&format!("{name}_alerts"))
        .iter()
        .map(|m| serde_json::from_slice(m).unwrap())
        .collect();
    let stored_keys: BTreeSet<String> = stored.iter().map(key).collect();
    assert_eq!(stored_keys.len(), stored.len(), "an alert stored twice");
    // None lost: the alert stream holds every single-event alert one process scanning
    // the same records raises, and a correlation of every rule it correlates (a window
    // completed by a late record may hold other events than the scan's).
    let (scan_events, scan_rules) = scanned();
    let stored_events: BTreeSet<String> = stored
        .iter()
        .filter(|a| a["kind"] == "event")
        .map(key)
        .collect();
    assert_eq!(
        stored_events, scan_events,
        "single-event alerts differ from `trail scan`"
    );
    let stored_rules: BTreeSet<String> = stored
        .iter()
        .filter(|a| a["kind"] == "correlation")
        .map(|a| a["rule_id"].as_str().unwrap().to_string())
        .collect();
    // Workers route side by side, so neighbouring records may reach a partition out of
    // event-time order; a late event still completes any window it belongs to (the
    // engine checks every window holding it), so the same correlations fire.
    assert_eq!(
        stored_rules, scan_rules,
        "correlations differ from `trail scan`; workers said {errs:?}"
    );
    // Alerts written by the workers: each at most once, and only stored ones. (A worker
    // killed after publishing an alert and before flushing its output never writes
    // it; its successor finds it already stored. The stream is the record.)
    let mut written = BTreeMap::<String, usize>::new();
    for v in lines.iter().filter(|v| v["type"] == "alert") {
        *written.entry(key(v)).or_default() += 1;
    }
    assert!(
        written.values().all(|&n| n == 1),
        "an alert written twice: {written:?}"
    );
    let unstored: Vec<&String> = written
        .keys()
        .filter(|k| !stored_keys.contains(*k))
        .collect();
    assert!(unstored.is_empty(), "written but not stored: {unstored:?}");
    // The replacement replayed what the killed worker had not saved, and dropped the
    // alerts it raised again.
    assert!(
        errs.iter().any(|e| !e.contains(" 0 alerts already raised")),
        "{errs:?}"
    );
    // One takeover incident: every alert of the lineage carries its id, and it is
    // written once, with all its phases.
    let incident_ids: BTreeSet<&str> = stored
        .iter()
        .filter(|a| {
            a["lineage"]
                .as_array()
                .and_then(|l| l.last())
                .and_then(|r| r.as_str())
                .is_some_and(|r| r.ends_with("svc-reporting"))
        })
        .filter_map(|a| a["incident"].as_str())
        .collect();
    assert_eq!(incident_ids.len(), 1, "{incident_ids:?}");
    assert!(stored
        .iter()
        .any(|a| a["rule_id"] == "parapet-lambda-role-escalates"));
    let incidents: Vec<&Value> = lines
        .iter()
        .filter(|v| {
            v["type"] == "incident" && v["root"].as_str().unwrap().ends_with("svc-reporting")
        })
        .collect();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(
        incidents[0]["phases"].as_array().unwrap().len(),
        9,
        "{}",
        incidents[0]
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A lineage whose accounts are detected by different workers: a leaked key of account
/// A stops A's trail and assumes a role in B, whose session makes a back-door
/// administrator there. With two partitions and two workers, each account is detected
/// by its own worker, and every alert of both carries one incident id.
#[test]
fn a_lineage_split_across_workers_is_one_incident() {
    let dir = tmpdir("watch-cluster-split");
    let pki = pki(&dir);
    let server = tls_server(&dir, &pki, "parapet", "s3cret-for-test");
    let js = Js::connect(&server.url, tls_options(&pki, "parapet", "s3cret-for-test"));
    let names = ["CTSPLIT", "cloudtrail.split", "split"];
    js.stream(names[0], names[1]);
    let mut workers: Vec<Child> = ["wa", "wb"]
        .iter()
        .map(|id| worker_with(&server.url, &pki, id, names, "2", "1s", "6s"))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut errs = Vec::new();
    let mut outs = Vec::new();
    for w in workers.iter_mut() {
        let (err, out) = (w.stderr.take().unwrap(), w.stdout.take().unwrap());
        let tx = tx.clone();
        errs.push(std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l.clone());
                lines.push(l);
            }
            lines
        }));
        outs.push(std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        }));
    }
    drop(tx);
    // Wait until each worker holds one partition (the first to start takes both, then
    // gives one back when it sees the second).
    let mut held = BTreeMap::<String, BTreeSet<String>>::new();
    let until = Instant::now() + Duration::from_secs(30);
    while !(held.len() == 2 && held.values().all(|p| p.len() == 1)) {
        let left = until.saturating_duration_since(Instant::now());
        let l = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the workers did not share the partitions: {held:?}"));
        let words: Vec<&str> = l.split_whitespace().collect();
        if let ["parapet:", "worker", w, verb @ .., "partition", p] = words.as_slice() {
            let set = held.entry(w.to_string()).or_default();
            match verb {
                ["detects"] => set.insert(p.to_string()),
                _ => set.remove(*p),
            };
        }
    }
    let fixtures = root().join("testdata/cloudtrail/cross-account");
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        js.publish(names[1], &std::fs::read(f).unwrap());
    }
    let codes: Vec<Option<i32>> = workers
        .iter_mut()
        .map(|w| w.wait().unwrap().code())
        .collect();
    let errs: Vec<Vec<String>> = errs.into_iter().map(|t| t.join().unwrap()).collect();
    for (code, err) in codes.iter().zip(&errs) {
        assert!(matches!(code, Some(0 | 1)), "{code:?}: {err:?}");
    }
    let outs: Vec<Vec<Value>> = outs
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap()
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .filter(|v: &Value| v["type"] == "alert")
                .collect()
        })
        .collect();
    // Each worker raised alerts of its own account.
    for (i, alerts) in outs.iter().enumerate() {
        assert!(
            !alerts.is_empty(),
            "worker {i} raised nothing: {:?}",
            errs[i]
        );
    }
    let actions = |alerts: &Vec<Value>| -> BTreeSet<String> {
        alerts
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (actions(&outs[0]), actions(&outs[1]));
    assert!(
        (a.contains("cloudtrail:StopLogging") && b.contains("iam:AttachUserPolicy"))
            || (b.contains("cloudtrail:StopLogging") && a.contains("iam:AttachUserPolicy")),
        "{a:?} {b:?}"
    );
    // One incident id on every alert, written and stored.
    let stored: Vec<Value> = js
        .messages(&format!("{}_alerts", names[2]))
        .iter()
        .map(|m| serde_json::from_slice(m).unwrap())
        .collect();
    let ids: BTreeSet<&str> = outs
        .iter()
        .flatten()
        .chain(&stored)
        .map(|a| a["incident"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A worker given another partition count than its cluster's is refused.
#[test]
fn a_worker_with_another_partition_count_is_refused() {
    let dir = tmpdir("watch-cluster-count");
    let pki = pki(&dir);
    let server = tls_server(&dir, &pki, "parapet", "s3cret-for-test");
    let run = |n: &str| {
        bin()
            .args(["trail", "watch", "--nats", &server.url, "--partitions", n])
            .args(["--until-idle", "1s", "--durable", "count"])
            .arg("--nats-ca")
            .arg(&pki.ca)
            .arg("--nats-cert")
            .arg(&pki.client_cert)
            .arg("--nats-key")
            .arg(&pki.client_key)
            .args(["--nats-user", "parapet"])
            .env("NATS_PASSWORD", "s3cret-for-test")
            .output()
            .unwrap()
    };
    let first = run("4");
    assert!(
        matches!(first.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run("8");
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--partitions 8, but the cluster was started with 4"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "the password leaked: {err}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the client certificate, or with a wrong password, the worker does not start.
#[test]
fn tls_and_credentials_are_required() {
    let dir = tmpdir("watch-cluster-auth");
    let pki = pki(&dir);
    let server = tls_server(&dir, &pki, "parapet", "s3cret-for-test");
    let no_cert = bin()
        .args([
            "trail",
            "watch",
            "--nats",
            &server.url,
            "--until-idle",
            "1s",
        ])
        .arg("--nats-ca")
        .arg(&pki.ca)
        .args(["--nats-user", "parapet"])
        .env("NATS_PASSWORD", "s3cret-for-test")
        .output()
        .unwrap();
    assert_eq!(no_cert.status.code(), Some(2));
    let wrong = bin()
        .args([
            "trail",
            "watch",
            "--nats",
            &server.url,
            "--until-idle",
            "1s",
        ])
        .arg("--nats-ca")
        .arg(&pki.ca)
        .arg("--nats-cert")
        .arg(&pki.client_cert)
        .arg("--nats-key")
        .arg(&pki.client_key)
        .args(["--nats-user", "parapet"])
        .env("NATS_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{err}");
    assert!(!err.contains("wrong-password"), "{err}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
