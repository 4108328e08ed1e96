//! The drift-bot scenario end to end: an incident is open in the decision service; the
//! on-call engineer closes the exploited port by hand (CloudTrail records it); `trail
//! scan --auto-pin` makes that a pin of the incident; the drift bot's plan that reopens
//! the port (demo/incident-plan.json) is then held for undoing the pinned change, also
//! after the incident is resolved. Automation's own changes pin nothing.

mod common;
mod nats_common;

use common::*;
use nats_common::{machine_url, Js};
use serde_json::{json, Value};

/// Now, as CloudTrail writes times: auto-pins count only changes made while the incident
/// is open.
fn now() -> String {
    parapet_store::rfc3339(parapet_store::now())
}

fn event(identity: Value, ua: &str, id: &str) -> Value {
    json!({
        "eventVersion": "1.09", "userIdentity": identity,
        "eventTime": now(), "eventSource": "ec2.amazonaws.com",
        "eventName": "RevokeSecurityGroupIngress", "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": ua,
        "requestParameters": {"groupId": "sg-0pay4711", "ipPermissions": {"items": [{"ipProtocol": "tcp",
            "fromPort": 8443, "toPort": 8443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": {"_return": true},
        "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

fn role(name: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::111122223333:assumed-role/{name}/{session}"),
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:role/{name}"),
            "accountId": "111122223333", "userName": name}}})
}

#[test]
fn a_manual_revoke_during_an_incident_holds_the_drift_bots_plan() {
    let dir = tmpdir("autopin");
    let db = dir.join("parapet.db");
    // Non-admin tokens first: once an admin exists, tokens are made through the server.
    let agent = token(&db, "bot", "agent", "agent:drift-bot");
    let watcher = token(&db, "watch", "agent", "pipeline:parapet-watch");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let p = srv.port;
    let url = format!("http://127.0.0.1:{p}");
    let log = dir.join("trail.json");
    std::fs::write(
        &log,
        json!({"Records": [
            event(role("AWSReservedSSO_Admin_0123", "dana@example.com"), "console.amazonaws.com", "e-dana-1"),
            event(role("drift-remediation-agent", "agent-run-7"), "Boto3/1.34 terraform", "e-bot-1"),
        ]})
        .to_string(),
    )
    .unwrap();
    let scan = || {
        bin()
            .args(["trail", "scan"])
            .arg(&log)
            .args(["--auto-pin", "--server", &url])
            .env("PARAPET_TOKEN", &watcher)
            .output()
            .unwrap()
    };

    // No incident open: nothing is pinned, and it says so.
    let o = scan();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("1 seen while no incident was open"), "{err}");
    assert_eq!(http(p, "GET", "/v1/pins", Some(&admin), None).1, json!([]));

    assert_eq!(
        http(
            p,
            "POST",
            "/v1/incidents",
            Some(&admin),
            Some(r#"{"id": "INC-4711", "title": "payments admin console exploited"}"#)
        )
        .0,
        200
    );
    let o = scan();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("--auto-pin: 1 manual change(s) pinned"),
        "{err}"
    );
    assert!(err.contains("pinned INC-4711/e-dana-1/1: "), "{err}");
    let pins = http(p, "GET", "/v1/pins", Some(&admin), None).1;
    let list = pins.as_array().unwrap();
    assert_eq!(list.len(), 1, "{pins}");
    assert_eq!(list[0]["resource"], "sg-0pay4711");
    assert_eq!(list[0]["incident"], "INC-4711");
    assert!(
        list[0]["reason"]
            .as_str()
            .unwrap()
            .contains("dana@example.com"),
        "{pins}"
    );
    // Read again: the same pin, not a second one, and no error.
    let o = scan();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        http(p, "GET", "/v1/pins", Some(&admin), None)
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The incident is over; the pin is not: the drift bot's plan is still held for it.
    assert_eq!(
        http(
            p,
            "POST",
            "/v1/incidents/INC-4711/resolve",
            Some(&admin),
            None
        )
        .0,
        200
    );
    let plan = std::fs::read_to_string(root().join("demo/incident-plan.json")).unwrap();
    let v = http(
        p,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(&format!("{{\"plan\": {plan}}}")),
    )
    .1;
    let report = v["report"].to_string();
    assert!(
        report.contains("undoes pinned emergency change INC-4711/e-dana-1/1"),
        "{report}"
    );
    assert_ne!(v["outcome"], "allow", "{v}");

    // Automation pins only for an incident open now; other pins are people's.
    let pin =
        json!({"resource": "sg-1", "attribute": "ingress", "reason": "x", "incident": "INC-4711"})
            .to_string();
    assert_eq!(
        http(p, "POST", "/v1/pins", Some(&watcher), Some(&pin)).0,
        403
    );
    drop(srv);
}

#[test]
fn auto_pin_needs_a_server() {
    let dir = tmpdir("autopin-noserver");
    let log = dir.join("t.json");
    std::fs::write(&log, r#"{"Records": []}"#).unwrap();
    let o = bin()
        .args(["trail", "scan"])
        .arg(&log)
        .arg("--auto-pin")
        .env_remove("PARAPET_SERVER")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--server"));
}

/// `trail watch --auto-pin` on the machine's NATS: the engineer's revoke, streamed while
/// an incident is open, is pinned as it arrives.
#[test]
fn a_watch_pins_a_manual_revoke_as_it_streams() {
    let dir = tmpdir("autopin-watch");
    let db = dir.join("parapet.db");
    let watcher = token(&db, "watch", "agent", "pipeline:parapet-watch");
    let admin = token(&db, "root", "admin", "human:root");
    let srv = start(&dir, None);
    let p = srv.port;
    assert_eq!(
        http(
            p,
            "POST",
            "/v1/incidents",
            Some(&admin),
            Some(r#"{"id": "INC-77", "title": "t"}"#)
        )
        .0,
        200
    );
    let id = std::process::id();
    let (stream, subject) = (format!("PARAPET_AP{id}"), format!("parapet.autopin.{id}"));
    let js = Js::connect(&machine_url(), async_nats::ConnectOptions::new());
    js.stream(&stream, &subject);
    let e = event(
        role("AWSReservedSSO_Admin_0123", "dana@example.com"),
        "console.amazonaws.com",
        "e-dana-w",
    );
    js.publish(&subject, e.to_string().as_bytes());
    let o = bin()
        .args([
            "trail",
            "watch",
            "--nats",
            &machine_url(),
            "--stream",
            &stream,
            "--subject",
            &subject,
        ])
        .args([
            "--until-idle",
            "2s",
            "--auto-pin",
            "--server",
            &format!("http://127.0.0.1:{p}"),
        ])
        .env("PARAPET_TOKEN", &watcher)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("pinned INC-77/e-dana-w/1"), "{err}");
    let pins = http(p, "GET", "/v1/pins", Some(&admin), None).1;
    assert_eq!(pins[0]["resource"], "sg-0pay4711", "{pins}");
    js.delete_stream(&stream);
    drop(srv);
}
