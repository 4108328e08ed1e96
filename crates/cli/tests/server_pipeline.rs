//! Pipelines against the decision service: `plan check --server` waiting for an
//! approval, and a kill -9 that loses no acknowledged decision. The real `parapet`
//! binary on loopback. (Moved from server.rs.)

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;

mod common;
use common::*;

#[test]
fn plan_check_against_the_server_waits_for_approval() {
    let dir = tmpdir("remote");
    let db = dir.join("parapet.db");
    let agent = token(&db, "ci", "agent", "pipeline:deploy");
    let alice = token(&db, "alice", "approver", "human:alice");
    let srv = start(&dir, None);
    let url = format!("http://127.0.0.1:{}", srv.port);
    // Denied: exit 1 at once.
    let o = bin()
        .args(["plan", "check", "demo/incident-plan.json", "--server", &url])
        .env("PARAPET_TOKEN", &agent)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("denied"));
    // Needs one approval: the client waits, an approver approves, the client proceeds.
    let child = pipeline(
        "testdata/plans/checkov/plan_nested_child_modules/tfplan.json",
        &url,
        &agent,
        "60s",
    );
    let mut pending = Value::Null;
    for _ in 0..100 {
        let (s, v) = http(
            srv.port,
            "GET",
            "/v1/decisions?state=pending",
            Some(&alice),
            None,
        );
        assert_eq!(s, 200, "{v}");
        if v.as_array().is_some_and(|a| !a.is_empty()) {
            pending = v[0].clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let id = pending["id"].as_str().expect("the plan reached the queue");
    let body = json!({"content_hash": pending["content_hash"]}).to_string();
    let (s, v) = http(
        srv.port,
        "POST",
        &format!("/v1/decisions/{id}/approve"),
        Some(&alice),
        Some(&body),
    );
    assert_eq!(s, 200, "{v}");
    let out = exited(child.wait_with_output().unwrap(), 0);
    assert!(out.contains("approved by human:alice"), "{out}");
    // Without a token: a usage error, not a decision.
    let o = bin()
        .args(["plan", "check", "demo/incident-plan.json", "--server", &url])
        .env_remove("PARAPET_TOKEN")
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_loses_no_acknowledged_decision() {
    let dir = tmpdir("crash");
    let db = dir.join("parapet.db");
    let agent = token(&db, "bot", "agent", "agent:load");
    let alice = token(&db, "alice", "approver", "human:alice");
    let mut srv = start(&dir, None);
    let p = srv.port;
    // Two writers: decisions and approvals, each remembering what was acknowledged.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writer = {
        let (agent, acked) = (agent.clone(), acked.clone());
        std::thread::spawn(move || {
            let body =
                json!({"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "u"}}})
                    .to_string();
            for _ in 0..10_000 {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", p)) else {
                    break;
                };
                let req = format!("POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                if s.write_all(req.as_bytes()).is_err() {
                    break;
                }
                let mut resp = String::new();
                if s.read_to_string(&mut resp).is_err() || !resp.starts_with("HTTP/1.1 201") {
                    break;
                }
                let v: Value =
                    serde_json::from_str(resp.split_once("\r\n\r\n").unwrap().1).unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(v["id"].as_str().unwrap().to_string());
            }
        })
    };
    // Let it run (wait for progress, not a fixed time: CI machines are busy), approve a
    // few, then kill -9 mid-stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut approved = Vec::new();
    for id in acked
        .lock()
        .unwrap()
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
    {
        let (_, v) = http(p, "GET", &format!("/v1/decisions/{id}"), Some(&alice), None);
        let (s, _) = http(
            p,
            "POST",
            &format!("/v1/decisions/{id}/approve"),
            Some(&alice),
            Some(&json!({"content_hash": v["content_hash"]}).to_string()),
        );
        if s == 200 {
            approved.push(id);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    srv.child.kill().unwrap(); // SIGKILL
    let _ = srv.child.wait();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 5,
        "only {} decisions before the kill",
        acked.len()
    );
    assert!(
        !approved.is_empty(),
        "no approval was acknowledged before the kill"
    );
    // Restart on the same file: everything acknowledged is there, and the log verifies.
    let srv = start(&dir, None);
    for id in &acked {
        let (s, _) = http(
            srv.port,
            "GET",
            &format!("/v1/decisions/{id}?report=false"),
            Some(&alice),
            None,
        );
        assert_eq!(s, 200, "acknowledged decision {id} lost");
    }
    for id in &approved {
        let (_, v) = http(
            srv.port,
            "GET",
            &format!("/v1/decisions/{id}?report=false"),
            Some(&alice),
            None,
        );
        assert_eq!(
            v["approval"]["approvals"], 1,
            "acknowledged approval on {id} lost"
        );
    }
    drop(srv);
    let o = bin()
        .args(["audit", "verify", "--database", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
