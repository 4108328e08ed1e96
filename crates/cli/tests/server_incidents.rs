//! Incident mode end to end: PagerDuty and Opsgenie webhooks (signed, replay-safe),
//! the manual switch and pins, through the real `parapet` binary serving on loopback.
//! (Moved from server.rs.)

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;

mod common;
use common::*;

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
    // The CLI reads the same state; it writes to the database directly only when
    // forced, recorded as the OS user's direct write, and never as a claimed person.
    let o = bin()
        .args(["incident", "open", "INC-10", "--database", &db_s])
        .env_remove("PARAPET_SERVER")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--server") && err.contains("--write-db-directly"),
        "{err}"
    );
    let o = bin()
        .args([
            "incident",
            "open",
            "INC-10",
            "--database",
            &db_s,
            "--write-db-directly",
            "--by",
            "human:dana",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("comes from the token"));
    let o = bin()
        .args([
            "incident",
            "open",
            "INC-10",
            "--database",
            &db_s,
            "--write-db-directly",
        ])
        .env("USER", "ops-dana")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .args(["incident", "list", "--database", &db_s])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed.contains("INC-10") && listed.contains("direct-db:ops-dana"),
        "{listed}"
    );
    let o = bin()
        .args([
            "pin",
            "add",
            "--write-db-directly",
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
            "--write-db-directly",
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
