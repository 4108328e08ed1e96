//! Hostile-tester findings in the knowledge layer: writes whose risky parameters are
//! missing, null, of the wrong type or JSON in a string are never "no effects"; risky
//! calls that had no effect at all; wrong-case managed-policy ARNs.

mod common;
use common::engine;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{CallReport, Outcome};
use serde_json::{json, Value};

fn decide(action: &str, params: Value) -> CallReport {
    let call = ApiCall::new(action, None, params).unwrap();
    let opts = CallOptions {
        actor: parapet_model::Actor::parse("agent:x").unwrap(),
        incident: None,
        critical: Default::default(),
        account: Some("111122223333".into()),
    };
    check_call(&call, &opts, engine())
}

fn ids(r: &CallReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.id).collect()
}

#[test]
fn exposure_calls_without_their_parameters_are_reviewed_with_the_reason() {
    for action in [
        "ec2:AuthorizeSecurityGroupIngress",
        "s3:PutBucketPolicy",
        "lambda:AddPermission",
        "s3:PutBucketAcl",
        "ec2:ModifySnapshotAttribute",
        "ec2:CreateNetworkAclEntry",
        "kms:PutKeyPolicy",
    ] {
        for params in [json!({}), Value::Null] {
            let r = decide(action, params);
            assert_ne!(r.decision.outcome, Outcome::Allow, "{action}");
            assert!(
                ids(&r).contains(&"unknown.parameters"),
                "{action}: {:?}",
                ids(&r)
            );
            let f = r
                .findings
                .iter()
                .find(|f| f.id == "unknown.parameters")
                .unwrap();
            assert!(
                f.summary.contains("is given") || f.summary.contains("is not given"),
                "{action}: {}",
                f.summary
            );
            assert!(
                r.decision
                    .policies
                    .iter()
                    .any(|p| p.id == "review-unreadable-parameters"),
                "{action}"
            );
        }
    }
}

#[test]
fn wrongly_typed_risky_parameters_are_named() {
    let r = decide(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": 5}),
    );
    assert_ne!(r.decision.outcome, Outcome::Allow);
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "unknown.parameters")
        .unwrap();
    assert!(
        f.summary.contains("IpPermissions is a number"),
        "{}",
        f.summary
    );
    let r = decide(
        "lambda:AddPermission",
        json!({"FunctionName": "f", "Principal": ["*"]}),
    );
    assert!(ids(&r).contains(&"unknown.parameters"));
    let r = decide(
        "s3:PutBucketPolicy",
        json!({"Bucket": "b", "Policy": "not json"}),
    );
    assert!(ids(&r).contains(&"unknown.parameters"));
}

#[test]
fn readable_parameters_add_no_unknown() {
    let r = decide(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]}),
    );
    assert_eq!(r.decision.outcome, Outcome::Allow, "{:?}", ids(&r));
    // CloudTrail's `"policy": [""]` placeholder beside the real `bucketPolicy`.
    let r = decide(
        "s3:PutBucketPolicy",
        json!({"bucketName": "b", "policy": [""], "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}),
    );
    assert!(ids(&r).contains(&"exposure.public-access"), "{:?}", ids(&r));
    assert!(!ids(&r).contains(&"unknown.parameters"));
}

#[test]
fn json_strings_for_structures_are_parsed() {
    let r = decide(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": "[{\"IpProtocol\": \"tcp\", \"FromPort\": 22, \"ToPort\": 22, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"}),
    );
    assert_eq!(r.decision.outcome, Outcome::Deny, "{:?}", ids(&r));
    assert!(!ids(&r).contains(&"unknown.parameters"));
    let r = decide(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": "[{broken"}),
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "unknown.parameters")
        .unwrap();
    assert!(f.summary.contains("not JSON"), "{}", f.summary);
}

#[test]
fn replication_to_another_account_versioning_suspended_and_cross_account_groups() {
    let r = decide(
        "s3:PutBucketReplication",
        json!({"Bucket": "b", "ReplicationConfiguration": {"Role": "arn:aws:iam::111122223333:role/r", "Rules": [{"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::x", "Account": "999988887777"}}]}}),
    );
    assert_ne!(r.decision.outcome, Outcome::Allow, "{:?}", ids(&r));
    assert!(
        ids(&r).iter().any(|i| i.starts_with("share")),
        "{:?}",
        ids(&r)
    );
    let same = decide(
        "s3:PutBucketReplication",
        json!({"Bucket": "b", "ReplicationConfiguration": {"Rules": [{"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::x", "Account": "111122223333"}}]}}),
    );
    assert!(
        !ids(&same).iter().any(|i| i.starts_with("share")),
        "{:?}",
        ids(&same)
    );

    for v in [
        json!({"Bucket": "b", "VersioningConfiguration": {"Status": "Suspended"}}),
        json!({"bucketName": "b", "versioning": [""], "VersioningConfiguration": {"Status": "Suspended", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}),
    ] {
        let r = decide("s3:PutBucketVersioning", v);
        assert_eq!(r.decision.outcome, Outcome::Review, "{:?}", ids(&r));
        assert!(ids(&r).contains(&"impact.inhibit-recovery"));
    }
    let on = decide(
        "s3:PutBucketVersioning",
        json!({"Bucket": "b", "VersioningConfiguration": {"Status": "Enabled"}}),
    );
    assert_eq!(on.decision.outcome, Outcome::Allow, "{:?}", ids(&on));

    let r = decide(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"UserId": "999988887777", "GroupId": "sg-9"}]}]}),
    );
    assert_ne!(r.decision.outcome, Outcome::Allow, "{:?}", ids(&r));
}

#[test]
fn wrong_case_managed_policy_and_delete_organization() {
    let right = decide(
        "iam:AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    assert_eq!(right.decision.outcome, Outcome::Deny);
    let wrong = decide(
        "iam:AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/administratoraccess"}),
    );
    // IAM names are unique regardless of case: the same policy, denied the same way.
    assert_eq!(wrong.decision.outcome, Outcome::Deny, "{:?}", ids(&wrong));
    assert!(
        ids(&wrong).contains(&"privilege.admin"),
        "{:?}",
        ids(&wrong)
    );
    let leave = decide("organizations:LeaveOrganization", json!({}));
    let delete = decide("organizations:DeleteOrganization", json!({}));
    assert_eq!(leave.decision.outcome, Outcome::Deny);
    assert_eq!(delete.decision.outcome, Outcome::Deny, "{:?}", ids(&delete));
}

#[test]
fn skip_final_snapshot_of_the_wrong_type_is_named_and_judged_worst() {
    let r = decide(
        "rds:DeleteDBInstance",
        json!({"DBInstanceIdentifier": "db", "SkipFinalSnapshot": 1}),
    );
    let s = serde_json::to_string(&r.effects).unwrap();
    assert!(s.contains("given as 1"), "{s}");
    assert!(!s.contains("not given"), "{s}");
    assert!(ids(&r).contains(&"destroy.data-loss"), "{:?}", ids(&r));
}
