//! Single API calls through the gate: same effects, same pack, action "call".

mod common;
use common::engine;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{Actor, Outcome};
use serde_json::json;

fn decide(
    actor: &str,
    action: &str,
    params: serde_json::Value,
    incident: Option<&str>,
) -> parapet_model::CallReport {
    let call = ApiCall::new(action, None, params).unwrap();
    let opts = CallOptions {
        actor: Actor::parse(actor).unwrap(),
        incident: incident.map(String::from),
        critical: Default::default(),
        account: Some("111122223333".into()),
    };
    check_call(&call, &opts, engine())
}

#[test]
fn the_takeover_calls_are_stopped_for_agents() {
    let admin = json!({"userName": "malicious-iam-user", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    assert_eq!(
        decide("agent:kiro", "iam:AttachUserPolicy", admin.clone(), None)
            .decision
            .outcome,
        Outcome::Deny
    );
    let h = decide("human:dana", "iam:AttachUserPolicy", admin, None);
    assert_eq!(h.decision.outcome, Outcome::Review);
    assert_eq!(h.decision.approval.unwrap().approvers, 2);
    let share = json!({"createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-1"});
    assert_eq!(
        decide("agent:kiro", "ec2:ModifySnapshotAttribute", share, None)
            .decision
            .outcome,
        Outcome::Review
    );
    assert_eq!(
        decide(
            "agent:kiro",
            "cloudtrail:StopLogging",
            json!({"name": "t"}),
            None
        )
        .decision
        .outcome,
        Outcome::Deny
    );
    let code = decide(
        "agent:kiro",
        "lambda:UpdateFunctionCode20150331v2",
        json!({"functionName": "f"}),
        None,
    );
    assert_eq!(code.findings[0].id, "code.change");
}

#[test]
fn destruction_policies_apply_to_calls() {
    let r = decide(
        "agent:kiro",
        "rds:DeleteDBInstance",
        json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true}),
        None,
    );
    assert_eq!(r.decision.outcome, Outcome::Deny);
    assert!(r.critical && r.data_bearing);
    assert!(r
        .decision
        .policies
        .iter()
        .any(|p| p.id == "deny-automation-destroy-data"));
    let r = decide(
        "agent:kiro",
        "ec2:TerminateInstances",
        json!({"InstanceIds": ["i-1"]}),
        None,
    );
    assert_eq!(r.decision.outcome, Outcome::Review);
}

#[test]
fn reads_are_allowed_even_in_incidents_and_writes_are_not() {
    assert_eq!(
        decide(
            "agent:kiro",
            "s3:GetObject",
            json!({"Bucket": "b"}),
            Some("INC-1")
        )
        .decision
        .outcome,
        Outcome::Allow
    );
    let w = decide(
        "agent:kiro",
        "s3:PutObject",
        json!({"Bucket": "b", "Key": "k"}),
        Some("INC-1"),
    );
    assert_eq!(w.decision.outcome, Outcome::Deny);
    assert!(w.decision.policies[0].reason.contains("INC-1"));
    assert_eq!(
        decide(
            "agent:kiro",
            "s3:PutObject",
            json!({"Bucket": "b", "Key": "k"}),
            None
        )
        .decision
        .outcome,
        Outcome::Allow
    );
}

#[test]
fn unknown_actions_are_noted_and_treated_as_writes() {
    let r = decide("agent:kiro", "madeup:DoThing", json!({}), Some("INC-2"));
    assert!(r.notes[0].contains("not in the IAM action catalog"));
    assert_eq!(r.decision.outcome, Outcome::Deny);
}
