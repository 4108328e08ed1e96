//! Incident auto-pins: an engineer's emergency revoke, as CloudTrail records it, becomes a
//! pin; the drift bot's plan that reopens the port (demo/incident-plan.json) is then
//! held for reverting it. The same change by automation pins nothing; a failed call pins
//! nothing; a deny policy and a deactivated key are pinned too.

use parapet_detect::ActorKinds;
use parapet_gate::{check_plan, GateOptions, Pin, PinMode, PlanOptions};
use parapet_model::{Actor, ActorKind};
use parapet_policy::PolicyEngine;
use parapet_respond::{manual_pins, PinRequest};
use parapet_trail::Event;
use serde_json::{json, Value};
use std::path::Path;

fn record(identity: Value, ua: &str, name: &str, source: &str, params: Value) -> Event {
    Event::from_value(json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2026-11-02T10:20:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": ua,
        "requestParameters": params,
        "eventID": "5b7c9e1a-0000-4000-8000-000000000001",
        "readOnly": false,
        "recipientAccountId": "111122223333"
    }))
    .unwrap()
}

fn engineer() -> Value {
    json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:dana@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/dana@example.com",
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
            "accountId": "111122223333", "userName": "AWSReservedSSO_Admin_0123"}}})
}

fn revoke_8443() -> Value {
    json!({"groupId": "sg-0pay4711", "ipPermissions": {"items": [{"ipProtocol": "tcp",
        "fromPort": 8443, "toPort": 8443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}})
}

fn as_pin(p: &PinRequest) -> Pin {
    Pin {
        id: p.id.clone(),
        resource: p.resource.clone(),
        attribute: p.attribute.clone(),
        value: p.value.clone(),
        mode: match p.mode {
            Some("excludes") => Some(PinMode::Excludes),
            Some("contains") => Some(PinMode::Contains),
            Some("equals") => Some(PinMode::Equals),
            _ => None,
        },
        reason: p.reason.clone(),
        incident: Some(p.incident.clone()),
        expires: None,
        created_by: None,
    }
}

#[test]
fn an_emergency_revoke_pins_the_port_against_the_drift_bot() {
    let kinds = ActorKinds::builtin();
    let e = record(
        engineer(),
        "console.amazonaws.com",
        "RevokeSecurityGroupIngress",
        "ec2.amazonaws.com",
        revoke_8443(),
    );
    let pins = manual_pins(&e, &kinds, "INC-4711");
    assert_eq!(pins.len(), 1, "{pins:?}");
    let p = &pins[0];
    assert_eq!(p.resource, "sg-0pay4711");
    assert_eq!(p.attribute, "ingress");
    assert_eq!(p.mode, Some("excludes"));
    assert!(p.reason.contains("dana@example.com"), "{}", p.reason);
    assert!(p.reason.contains("INC-4711"), "{}", p.reason);

    let plan =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/incident-plan.json"))
            .unwrap();
    let engine = PolicyEngine::load(None).unwrap();
    let judge = |pins: Vec<Pin>| {
        let opts = GateOptions {
            actor: Actor {
                kind: ActorKind::Agent,
                name: "drift-bot".into(),
            },
            incident: None,
            plan: PlanOptions {
                pins,
                ..Default::default()
            },
            input_name: "incident-plan.json".into(),
        };
        let r = check_plan(&plan, &opts, &engine).unwrap();
        let sg = r
            .changes
            .iter()
            .find(|c| c.change.address == "aws_security_group.payments_api")
            .unwrap()
            .clone();
        serde_json::to_value(&sg).unwrap().to_string()
    };
    let without = judge(Vec::new());
    assert!(!without.contains("reverts_pin"), "{without}");
    let with = judge(pins.iter().map(as_pin).collect());
    assert!(with.contains("reverts_pin"), "{with}");
    assert!(with.contains("INC-4711"), "{with}");
}

#[test]
fn automation_and_failed_calls_pin_nothing() {
    let kinds = ActorKinds::builtin();
    let bot = json!({"type": "AssumedRole", "principalId": "AROABOT:agent-run-1",
        "arn": "arn:aws:sts::111122223333:assumed-role/drift-remediation-agent/agent-run-1",
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROABOT",
            "arn": "arn:aws:iam::111122223333:role/drift-remediation-agent",
            "accountId": "111122223333", "userName": "drift-remediation-agent"}}});
    let e = record(
        bot,
        "Boto3/1.34.0 terraform/1.9",
        "RevokeSecurityGroupIngress",
        "ec2.amazonaws.com",
        revoke_8443(),
    );
    assert!(manual_pins(&e, &kinds, "INC-1").is_empty());
    let mut failed = record(
        engineer(),
        "console.amazonaws.com",
        "RevokeSecurityGroupIngress",
        "ec2.amazonaws.com",
        revoke_8443(),
    );
    failed.error_code = Some("UnauthorizedOperation".into());
    assert!(manual_pins(&failed, &kinds, "INC-1").is_empty());
}

#[test]
fn a_deny_policy_and_a_deactivated_key_are_pinned() {
    let kinds = ActorKinds::builtin();
    let deny = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
    let e = record(
        engineer(),
        "console.amazonaws.com",
        "PutRolePolicy",
        "iam.amazonaws.com",
        json!({"roleName": "invoice-exporter-role", "policyName": "block-attacker", "policyDocument": deny}),
    );
    let pins = manual_pins(&e, &kinds, "INC-9");
    assert_eq!(pins.len(), 1, "{pins:?}");
    assert_eq!(pins[0].resource, "invoice-exporter-role");
    assert_eq!(pins[0].attribute, "inline_policy");
    assert_eq!(pins[0].value, Some(json!({"name": "block-attacker"})));
    // An Allow is not an emergency lock-down: nothing is pinned.
    let allow = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let e = record(
        engineer(),
        "console.amazonaws.com",
        "PutRolePolicy",
        "iam.amazonaws.com",
        json!({"roleName": "r", "policyName": "p", "policyDocument": allow}),
    );
    assert!(manual_pins(&e, &kinds, "INC-9").is_empty());
    let e = record(
        engineer(),
        "aws-cli/2.17.0",
        "UpdateAccessKey",
        "iam.amazonaws.com",
        json!({"userName": "ops-admin", "accessKeyId": "AKIAHCJ6YFZEBYEZLKBW", "status": "Inactive"}),
    );
    let pins = manual_pins(&e, &kinds, "INC-9");
    assert_eq!(pins.len(), 1);
    assert_eq!(
        (pins[0].resource.as_str(), pins[0].attribute.as_str()),
        ("AKIAHCJ6YFZEBYEZLKBW", "status")
    );
    // Re-activating is not pinned.
    let e = record(
        engineer(),
        "aws-cli/2.17.0",
        "UpdateAccessKey",
        "iam.amazonaws.com",
        json!({"userName": "ops-admin", "accessKeyId": "AKIAHCJ6YFZEBYEZLKBW", "status": "Active"}),
    );
    assert!(manual_pins(&e, &kinds, "INC-9").is_empty());
}
