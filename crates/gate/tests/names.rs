//! Issue 19: an action is judged the same whatever its spelling, and what parapet does
//! not know is never allowed.

mod common;
use common::engine;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{Actor, CallReport, Outcome};
use serde_json::{json, Value};

fn decide(actor: &str, action: &str, params: Value) -> CallReport {
    let call = ApiCall::new(action, None, params).unwrap();
    let opts = CallOptions {
        actor: Actor::parse(actor).unwrap(),
        incident: None,
        critical: Default::default(),
        account: Some("111122223333".into()),
    };
    check_call(&call, &opts, engine())
}

/// Every way an agent, boto3 or the AWS CLI may write `service:Operation`.
fn spellings(service: &str, pascal: &str, snake: &str) -> Vec<String> {
    let mut camel = pascal.to_string();
    camel[..1].make_ascii_lowercase();
    vec![
        format!("{service}:{pascal}"),
        format!("{service}:{camel}"),
        format!("{service}:{}", pascal.to_ascii_lowercase()),
        format!("{service}:{snake}"),
        format!("{service}:{}", snake.replace('_', "-")),
        format!("{service}:{pascal} "),
        format!("  {service}:{pascal}"),
        format!("\t{service}:{pascal}\n"),
        format!("{}:{pascal}", service.to_ascii_uppercase()),
        format!("{}:{snake}", service.to_ascii_uppercase()),
    ]
}

fn same_as_canonical(actor: &str, service: &str, pascal: &str, snake: &str, params: Value) {
    let canonical = decide(actor, &format!("{service}:{pascal}"), params.clone());
    assert_ne!(
        canonical.decision.outcome,
        Outcome::Allow,
        "{service}:{pascal}"
    );
    assert!(canonical.notes.is_empty(), "{:?}", canonical.notes);
    for given in spellings(service, pascal, snake) {
        let r = decide(actor, &given, params.clone());
        assert_eq!(r.action, canonical.action, "{given:?}");
        assert_eq!(r.access_level, canonical.access_level, "{given:?}");
        assert_eq!(r.resource_type, canonical.resource_type, "{given:?}");
        assert_eq!(r.effects, canonical.effects, "{given:?}");
        assert_eq!(r.decision, canonical.decision, "{given:?}");
        assert!(r.notes.is_empty(), "{given:?}: {:?}", r.notes);
    }
}

#[test]
fn rds_delete_is_denied_in_every_spelling() {
    let params = json!({"DBInstanceIdentifier": "orders-prod", "SkipFinalSnapshot": true});
    same_as_canonical(
        "agent:kiro",
        "rds",
        "DeleteDBInstance",
        "delete_db_instance",
        params.clone(),
    );
    same_as_canonical(
        "human:dana",
        "rds",
        "DeleteDBInstance",
        "delete_db_instance",
        params.clone(),
    );
    let r = decide("agent:kiro", "rds:delete_db_instance", params);
    assert_eq!(r.decision.outcome, Outcome::Deny);
    assert_eq!(r.action, "rds:DeleteDBInstance");
}

#[test]
fn ingress_to_the_internet_is_denied_in_every_spelling() {
    let params = json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22,
        "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]});
    same_as_canonical(
        "agent:kiro",
        "ec2",
        "AuthorizeSecurityGroupIngress",
        "authorize_security_group_ingress",
        params.clone(),
    );
    assert_eq!(
        decide("agent:kiro", "ec2:authorizeSecurityGroupIngress", params)
            .decision
            .outcome,
        Outcome::Deny
    );
}

#[test]
fn attaching_admin_is_judged_alike_in_every_spelling() {
    let params =
        json!({"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    same_as_canonical(
        "agent:kiro",
        "iam",
        "AttachUserPolicy",
        "attach_user_policy",
        params.clone(),
    );
    same_as_canonical(
        "human:dana",
        "iam",
        "AttachUserPolicy",
        "attach_user_policy",
        params.clone(),
    );
    assert_eq!(
        decide("pipeline:ci", "iam:attach-user-policy", params)
            .decision
            .outcome,
        Outcome::Deny
    );
}

#[test]
fn unknown_actions_are_denied_for_automation_and_reviewed_for_people() {
    for actor in [
        "agent:kiro",
        "pipeline:ci",
        "service:bot",
        "unknown:unnamed",
    ] {
        let r = decide(
            actor,
            "rds:FrobnicateDBInstance",
            json!({"DBInstanceIdentifier": "x"}),
        );
        assert_eq!(r.decision.outcome, Outcome::Deny, "{actor}");
        assert!(r
            .decision
            .policies
            .iter()
            .any(|p| p.id == "deny-automation-unknown-action"));
    }
    let h = decide("human:dana", "rds:FrobnicateDBInstance", json!({}));
    assert_eq!(h.decision.outcome, Outcome::Review);
    assert_eq!(h.decision.policies[0].id, "review-human-unknown-action");
    let f = &h.findings[0];
    assert_eq!(f.id, "unknown.action");
    let said = serde_json::to_string(f).unwrap();
    assert!(
        said.contains("parapet does not know rds:FrobnicateDBInstance: misspelt, or newer than this build; unknown actions need a person"),
        "{said}"
    );
    // An unknown service too, and a name with inner whitespace (no spelling of any).
    for action in ["madeup:DoThing", "rds:Delete DBInstance"] {
        assert_eq!(
            decide("agent:kiro", action, json!({})).decision.outcome,
            Outcome::Deny,
            "{action}"
        );
    }
}

#[test]
fn reads_stay_allowed_and_api_names_read_as_their_iam_action() {
    for action in [
        "s3:GetObject",
        "s3:get_object",
        "s3:ListObjectsV2",
        "s3:list_objects_v2",
        "s3:head-object",
        "ec2:describe_instances",
        "sts:GetCallerIdentity",
    ] {
        let r = decide("agent:kiro", action, json!({"Bucket": "b"}));
        assert_eq!(
            r.decision.outcome,
            Outcome::Allow,
            "{action}: {:?}",
            r.decision
        );
        assert!(!r.writes, "{action}");
    }
}

#[test]
fn writes_parapet_cannot_place_are_reviewed_and_placed_writes_meet_criticality() {
    // ec2:CreateTags acts on dozens of kinds; the catalog does not say which.
    let r = decide(
        "agent:kiro",
        "ec2:CreateTags",
        json!({"Resources": ["i-1"]}),
    );
    assert_eq!(r.decision.outcome, Outcome::Review, "{:?}", r.decision);
    assert!(r.findings.iter().any(|f| f.id == "unknown.resource-type"));
    assert_eq!(r.decision.policies[0].id, "review-unknown-resource-type");
    // rds:ModifyDBInstance acts on a DB instance: a critical type by default.
    let m = decide(
        "agent:kiro",
        "rds:modify_db_instance",
        json!({"DBInstanceIdentifier": "orders"}),
    );
    assert_eq!(m.resource_type, "aws_db_instance");
    assert!(m.critical);
    assert_eq!(m.decision.outcome, Outcome::Review);
    assert!(!m.findings.iter().any(|f| f.id.starts_with("unknown")));
    // An ordinary placed write stays allowed.
    let p = decide(
        "agent:kiro",
        "sqs:send_message",
        json!({"QueueUrl": "https://sqs/q"}),
    );
    assert_eq!(p.resource_type, "aws_sqs_queue");
    assert_eq!(p.decision.outcome, Outcome::Allow, "{:?}", p.decision);
}
