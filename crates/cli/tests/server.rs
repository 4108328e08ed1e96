//! The decision service, end to end: the real `parapet` binary serving on loopback
//! with a SQLite file, tokens made with `parapet token create`, HTTP over a plain
//! socket, and `parapet audit verify` on the result.

use serde_json::{json, Value};
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
    // boto3's spelling of a database delete is the same action, and denied (issue 19).
    let snake = json!({"call": {"action": "rds:delete_db_instance", "params": {"DBInstanceIdentifier": "orders-prod", "SkipFinalSnapshot": true}}});
    let (s, d) = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(&snake.to_string()),
    );
    assert_eq!(
        (s, &d["state"], &d["report"]["action"]),
        (201, &json!("denied"), &json!("rds:DeleteDBInstance")),
        "{d}"
    );
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
