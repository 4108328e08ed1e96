//! The decision service, end to end: the real `parapet` binary serving on loopback
//! with a SQLite file, tokens made with `parapet token create`, HTTP over a plain
//! socket, and `parapet audit verify` on the result.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

mod common;
use common::*;

#[test]
fn decide_approve_and_audit() {
    let dir = tmpdir("main");
    let db = dir.join("parapet.db");
    let agent = token(&db, "kiro", "agent", "agent:kiro");
    let alice = token(&db, "alice", "approver", "human:alice");
    let bob = token(&db, "bob", "approver", "human:bob");
    let admin = token(&db, "root", "admin", "human:root");
    // Automation can never hold an approver token.
    let o = bin()
        .args([
            "token",
            "create",
            "--database",
            db.to_str().unwrap(),
            "--name",
            "x",
            "--role",
            "approver",
            "--actor",
            "agent:x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let srv = start(&dir, None);
    let p = srv.port;

    assert_eq!(http(p, "GET", "/healthz", None, None).0, 200);
    assert_eq!(http(p, "GET", "/readyz", None, None).0, 200);

    // No anonymous writes; wrong role; malformed bodies.
    assert_eq!(http(p, "POST", "/v1/decisions", None, Some("{}")).0, 401);
    assert_eq!(
        http(p, "POST", "/v1/decisions", Some("ppt_forged"), Some("{}")).0,
        401
    );
    assert_eq!(
        http(p, "POST", "/v1/decisions", Some(&alice), Some("{}")).0,
        403
    );
    let (s, v) = http(p, "POST", "/v1/decisions", Some(&agent), Some("{not json"));
    assert_eq!(s, 400);
    assert_eq!(v["outcome"], "deny");
    assert_eq!(
        http(p, "POST", "/v1/decisions", Some(&agent), Some("{}")).0,
        400
    );
    let (s, v) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(r#"{"plan": {"format_version": "9.0"}}"#),
    );
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("format_version 9.0"));
    // A body may not claim another actor.
    assert_eq!(
        http(
            p,
            "POST",
            "/v1/decisions",
            Some(&agent),
            Some(r#"{"actor": "human:alice", "call": {"action": "s3:GetObject"}}"#)
        )
        .0,
        403
    );

    // The demo plan is denied, with the gate's report.
    let plan = std::fs::read_to_string(root().join("demo/incident-plan.json")).unwrap();
    let (s, v) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(&format!("{{\"plan\": {plan}}}")),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "denied");
    assert_eq!(
        v["report"]["counts"]["deny"], 3,
        "without pins, three denials"
    );

    // A new access key needs two approvers.
    let call =
        json!({"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "deploy-bot"}}})
            .to_string();
    let (s, v) = http(p, "POST", "/v1/decisions", Some(&agent), Some(&call));
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "pending");
    assert_eq!(v["approval"]["approvers_required"], 2);
    assert_eq!(v["report"]["action"], "iam:CreateAccessKey");
    assert_eq!(v["report"]["request"]["params"]["UserName"], "deploy-bot");
    let id = v["id"].as_str().unwrap().to_string();
    let hash = v["content_hash"].as_str().unwrap().to_string();
    // The stored report comes back whole, the approver's view of the call with it.
    let (_, stored) = http(p, "GET", &format!("/v1/decisions/{id}"), Some(&agent), None);
    assert_eq!(stored["report"], v["report"]);
    assert_eq!(stored["id"], v["id"]);

    // A secret in a call's parameters is never stored or shown.
    let secret = json!({"call": {"action": "secretsmanager:PutSecretValue",
        "params": {"SecretId": "prod/db", "SecretString": "hunter2-do-not-show"}}})
    .to_string();
    let (s, v) = http(p, "POST", "/v1/decisions", Some(&agent), Some(&secret));
    assert_eq!(s, 201, "{v}");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    assert_eq!(v["report"]["request"]["params"]["SecretId"], "prod/db");

    // The agent waits, as a pipeline would.
    let waiter = {
        let (agent, id) = (agent.clone(), id.clone());
        std::thread::spawn(move || {
            let mut last = Value::Null;
            for _ in 0..6 {
                let (_, v) = http(
                    p,
                    "GET",
                    &format!("/v1/decisions/{id}?wait=10&report=false"),
                    Some(&agent),
                    None,
                );
                if v["state"] == "approved" {
                    return v;
                }
                last = v;
            }
            last
        })
    };

    let vote = |tok: &str, h: &str| {
        http(
            p,
            "POST",
            &format!("/v1/decisions/{id}/approve"),
            Some(tok),
            Some(&json!({"content_hash": h}).to_string()),
        )
    };
    assert_eq!(vote(&agent, &hash).0, 403, "agents cannot approve");
    assert_eq!(vote(&alice, "0000").0, 409, "approval bound to the content");
    let (s, v) = vote(&alice, &hash);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "pending");
    let (_, v) = vote(&alice, &hash);
    assert_eq!(v["approval"]["approvals"], 1, "a double click counts once");
    let (_, v) = vote(&bob, &hash);
    assert_eq!(v["state"], "approved");
    assert_eq!(v["executable"], true);
    let waited = waiter.join().unwrap();
    assert_eq!(
        waited["state"], "approved",
        "the waiting client proceeds: {waited}"
    );

    // Reject ends a request.
    let (_, v) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(
            &json!({"call": {"action": "iam:CreateLoginProfile", "params": {"UserName": "x"}}})
                .to_string(),
        ),
    );
    let id2 = v["id"].as_str().unwrap().to_string();
    let h2 = v["content_hash"].as_str().unwrap().to_string();
    let (_, v) = http(
        p,
        "POST",
        &format!("/v1/decisions/{id2}/reject"),
        Some(&bob),
        Some(&json!({"content_hash": h2, "reason": "no console users"}).to_string()),
    );
    assert_eq!(v["state"], "rejected");
    assert_eq!(
        http(
            p,
            "POST",
            &format!("/v1/decisions/{id2}/approve"),
            Some(&alice),
            Some(&json!({"content_hash": h2}).to_string())
        )
        .0,
        409
    );
    assert_eq!(
        http(p, "GET", "/v1/decisions/dec_nope", Some(&agent), None).0,
        404
    );

    // The audit log is intact; the admin can check it over HTTP too.
    let (s, v) = http(p, "GET", "/v1/audit/verify", Some(&admin), None);
    assert_eq!(s, 200);
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(
        http(p, "GET", "/v1/audit/verify", Some(&alice), None).0,
        403
    );
    drop(srv);

    let verify = || {
        bin()
            .args(["audit", "verify", "--database", db.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let o = verify();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let export = bin()
        .args(["audit", "export", "--database", db.to_str().unwrap()])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(export.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "token").count(), 4);
    assert!(
        kinds.contains(&"approval") && kinds.contains(&"rejection") && kinds.contains(&"decision")
    );
    assert!(
        !String::from_utf8_lossy(&std::fs::read(&db).unwrap()).contains(&agent),
        "token secrets are stored hashed"
    );

    // Edit one approval in the database: verify names it.
    let c = rusqlite::Connection::open(&db).unwrap();
    let seq: i64 = c
        .query_row(
            "SELECT seq FROM audit WHERE kind = 'approval' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE audit SET actor = 'human:mallory' WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    drop(c);
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("entry {seq}")),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = srv_db_cleanup(&dir);
}

fn srv_db_cleanup(dir: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}

#[test]
fn cooling_off_then_executable() {
    let dir = tmpdir("cool");
    let pol = dir.join("policies");
    std::fs::create_dir_all(&pol).unwrap();
    std::fs::write(pol.join("90-code.cedar"), "@id(\"review-code\")\n@outcome(\"review\")\n@approvals(\"1\")\n@delay(\"2s\")\n@reason(\"code changes wait 2s\")\nforbid(principal, action, resource) when { context.effects.contains(\"code_change\") };\n").unwrap();
    let db = dir.join("parapet.db");
    let agent = token(&db, "ci", "agent", "pipeline:deploy");
    let alice = token(&db, "alice", "approver", "human:alice");
    let srv = start(&dir, Some(&pol));
    let p = srv.port;
    let (_, v) = http(p, "POST", "/v1/decisions", Some(&agent), Some(&json!({"call": {"action": "lambda:UpdateFunctionCode", "params": {"FunctionName": "f"}}}).to_string()));
    assert_eq!(v["state"], "pending", "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (_, v) = http(
        p,
        "POST",
        &format!("/v1/decisions/{id}/approve"),
        Some(&alice),
        Some(&json!({"content_hash": v["content_hash"]}).to_string()),
    );
    assert_eq!(v["state"], "cooling_off");
    assert_eq!(v["executable"], false);
    let (_, v) = http(
        p,
        "GET",
        &format!("/v1/decisions/{id}?wait=10"),
        Some(&agent),
        None,
    );
    assert_eq!(v["state"], "approved", "{v}");
    assert_eq!(v["executable"], true);
    drop(srv);
    assert!(srv_db_cleanup(&dir).is_ok());
}

use parapet_store::{now, rfc3339};

fn signed(port: u16, path: &str, header: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: localhost\r\n{header}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, payload) = resp.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        serde_json::from_str(payload).unwrap_or(Value::Null),
    )
}

fn pd_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn incident_mode_from_webhooks_and_the_manual_switch_and_pins() {
    let dir = tmpdir("inc");
    let db = dir.join("parapet.db");
    let agent = token(&db, "bot", "agent", "pipeline:drift-bot");
    let admin = token(&db, "root", "admin", "human:root");
    let db_s = db.display().to_string();
    let srv = start_env(
        &[
            "serve".into(),
            "--database".into(),
            db_s.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
        &[
            ("PARAPET_PAGERDUTY_SECRET", "pd-s3cret"),
            ("PARAPET_OPSGENIE_SECRET", "og-s3cret"),
        ],
    );
    let p = srv.port;
    let write = json!({"call": {"action": "s3:PutObject", "params": {"Bucket": "b", "Key": "k"}}})
        .to_string();
    let state = || http(p, "POST", "/v1/decisions", Some(&agent), Some(&write)).1;
    assert_eq!(state()["state"], "allowed");

    // PagerDuty: forged, genuine, replayed, resolved.
    let triggered = json!({"event": {"id": "01EV1", "event_type": "incident.triggered", "occurred_at": rfc3339(now()),
        "data": {"id": "Q1ABC", "type": "incident", "title": "payments API 5xx", "urgency": "high"}}}).to_string();
    let (s, _) = signed(
        p,
        "/v1/webhooks/pagerduty",
        "X-PagerDuty-Signature: v1=00ff",
        &triggered,
    );
    assert_eq!(s, 401);
    let (s, _) = signed(
        p,
        "/v1/webhooks/pagerduty",
        &format!(
            "X-PagerDuty-Signature: v1={}",
            pd_signature("wrong", &triggered)
        ),
        &triggered,
    );
    assert_eq!(s, 401);
    let sig = format!(
        "X-PagerDuty-Signature: v1=deadbeef, v1={}",
        pd_signature("pd-s3cret", &triggered)
    );
    let (s, v) = signed(p, "/v1/webhooks/pagerduty", &sig, &triggered);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["action"], "opened");
    let v = state();
    assert_eq!(v["state"], "denied");
    assert!(
        v["report"]["decision"]["policies"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("PD-Q1ABC"),
        "{v}"
    );
    assert_eq!(
        signed(p, "/v1/webhooks/pagerduty", &sig, &triggered).0,
        409,
        "replay"
    );
    let stale = json!({"event": {"id": "01EV0", "event_type": "incident.triggered", "occurred_at": rfc3339(now() - 3600), "data": {"id": "Q0", "urgency": "high"}}}).to_string();
    assert_eq!(
        signed(
            p,
            "/v1/webhooks/pagerduty",
            &format!(
                "X-PagerDuty-Signature: v1={}",
                pd_signature("pd-s3cret", &stale)
            ),
            &stale
        )
        .0,
        409,
        "stale"
    );
    let resolved = json!({"event": {"id": "01EV2", "event_type": "incident.resolved", "occurred_at": rfc3339(now()), "data": {"id": "Q1ABC", "type": "incident"}}}).to_string();
    let (s, v) = signed(
        p,
        "/v1/webhooks/pagerduty",
        &format!(
            "X-PagerDuty-Signature: v1={}",
            pd_signature("pd-s3cret", &resolved)
        ),
        &resolved,
    );
    assert_eq!((s, v["action"].as_str()), (200, Some("resolved")));
    assert_eq!(state()["state"], "allowed");

    // Opsgenie: wrong secret, P1 created, closed.
    let created = json!({"action": "Create", "alert": {"alertId": "a-1", "tinyId": "42", "message": "DB down", "priority": "P1", "createdAt": now() * 1000}}).to_string();
    assert_eq!(
        signed(
            p,
            "/v1/webhooks/opsgenie",
            "X-Opsgenie-Secret: nope",
            &created
        )
        .0,
        401
    );
    assert_eq!(
        signed(
            p,
            "/v1/webhooks/opsgenie",
            "X-Opsgenie-Secret: og-s3cret",
            &created
        )
        .1["action"],
        "opened"
    );
    assert_eq!(state()["state"], "denied");
    let closed = json!({"action": "Close", "alert": {"alertId": "a-1", "tinyId": "42", "updatedAt": now() * 1000 + 1}}).to_string();
    assert_eq!(
        signed(
            p,
            "/v1/webhooks/opsgenie",
            "X-Opsgenie-Secret: og-s3cret",
            &closed
        )
        .1["action"],
        "resolved"
    );
    assert_eq!(state()["state"], "allowed");

    // The manual switch.
    assert_eq!(
        http(
            p,
            "POST",
            "/v1/incidents",
            Some(&agent),
            Some(r#"{"id": "INC-9"}"#)
        )
        .0,
        403
    );
    assert_eq!(
        http(
            p,
            "POST",
            "/v1/incidents",
            Some(&admin),
            Some(r#"{"id": "INC-9", "title": "manual"}"#)
        )
        .0,
        200
    );
    assert_eq!(
        http(p, "GET", "/v1/incidents", Some(&agent), None).1[0]["id"],
        "INC-9"
    );
    assert_eq!(state()["state"], "denied");
    assert_eq!(
        http(p, "POST", "/v1/incidents/INC-9/resolve", Some(&admin), None).0,
        200
    );
    assert_eq!(state()["state"], "allowed");

    // A pin set over the API protects plan decisions.
    let plan = std::fs::read_to_string(root().join("demo/incident-plan.json")).unwrap();
    let plan_body = format!("{{\"plan\": {plan}}}");
    let before =
        http(p, "POST", "/v1/decisions", Some(&agent), Some(&plan_body)).1["report"].to_string();
    assert!(!before.contains("undoes pinned emergency change"));
    let pin = json!({"id": "INC-4711-payments", "resource": "aws_security_group.payments_api", "attribute": "ingress",
        "value": {"from_port": 8443, "cidr_blocks": ["0.0.0.0/0"]}, "mode": "excludes", "reason": "closed during INC-4711", "incident": "INC-4711"}).to_string();
    assert_eq!(http(p, "POST", "/v1/pins", Some(&agent), Some(&pin)).0, 403);
    assert_eq!(http(p, "POST", "/v1/pins", Some(&admin), Some(&pin)).0, 200);
    let v = http(p, "POST", "/v1/decisions", Some(&agent), Some(&plan_body)).1;
    let s = v["report"].to_string();
    assert!(
        s.contains("undoes pinned emergency change INC-4711-payments"),
        "{s}"
    );
    assert_eq!(
        http(
            p,
            "DELETE",
            "/v1/pins/INC-4711-payments",
            Some(&admin),
            None
        )
        .0,
        200
    );
    drop(srv);

    // Everything, including the rejected webhooks, is in the verified audit log.
    let export = bin()
        .args(["audit", "export", "--database", &db_s])
        .output()
        .unwrap();
    let text = String::from_utf8(export.stdout).unwrap();
    assert!(text.matches("\"webhook_rejected\"").count() >= 5, "{text}");
    assert!(text.contains("\"incident\"") && text.contains("\"pin\""));
    assert!(!text.contains("pd-s3cret") && !text.contains("og-s3cret"));
    assert_eq!(
        bin()
            .args(["audit", "verify", "--database", &db_s])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    // The CLI reads and writes the same state.
    let o = bin()
        .args([
            "incident",
            "open",
            "INC-10",
            "--database",
            &db_s,
            "--by",
            "human:dana",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = bin()
        .args(["incident", "list", "--database", &db_s])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("INC-10"));
    let o = bin()
        .args([
            "pin",
            "add",
            "--database",
            &db_s,
            "--resource",
            "aws_kms_key.k",
            "--attribute",
            "enable_key_rotation",
            "--reason",
            "r",
            "--value",
            "true",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .args([
            "pin",
            "add",
            "--database",
            &db_s,
            "--resource",
            "x",
            "--attribute",
            "y",
            "--reason",
            "r",
            "--expires",
            "soon",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

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
