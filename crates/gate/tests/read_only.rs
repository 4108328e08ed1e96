//! Issue 22 point 4: AWS-managed read-only and audit policies are not escalation, in the
//! call gate and in a plan; the explanation names the sensitive reads instead.

mod common;
use common::*;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{Actor, Effect};
use serde_json::json;

/// AWS's read-only and audit policies (their documents as AWS publishes them, in
/// crates/aws/data/managed-policies.toml), with reads that return data each grants and
/// reads it does not: ReadOnlyAccess reads objects, parameters and items, but no
/// secret values; the audit policies read configuration only.
const READ_ONLY: [(&str, &[&str], &[&str]); 3] = [
    (
        "ReadOnlyAccess",
        &["s3:GetObject", "ssm:GetParameter", "dynamodb:GetItem"],
        &["secretsmanager:GetSecretValue", "kms:Decrypt"],
    ),
    (
        "SecurityAudit",
        &[],
        &[
            "s3:GetObject",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
        ],
    ),
    (
        "ViewOnlyAccess",
        &[],
        &[
            "s3:GetObject",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
        ],
    ),
];

fn no_escalation(findings: &[parapet_model::Finding], what: &str) {
    let ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
    for bad in [
        "privilege.escalation",
        "privilege.admin",
        "privilege.permissions-management",
        "privilege.unknown",
    ] {
        assert!(!ids.contains(&bad), "{what}: {ids:?}");
    }
}

#[test]
fn read_only_attachment_in_a_call_is_not_escalation() {
    for (name, reads, not) in READ_ONLY {
        let call = ApiCall::new(
            "iam:AttachRolePolicy",
            None,
            json!({"RoleName": "auditor", "PolicyArn": format!("arn:aws:iam::aws:policy/{name}")}),
        )
        .unwrap();
        let opts = CallOptions {
            actor: Actor::parse("agent:kiro").unwrap(),
            incident: None,
            critical: Default::default(),
            account: None,
        };
        let r = check_call(&call, &opts, engine());
        no_escalation(&r.findings, name);
        let Some(Effect::PrivilegeGrant(g)) = r.effects.first() else {
            panic!("{name}: {:?}", r.effects)
        };
        assert_eq!(g.added_by_level[3], 0, "{name}");
        for a in reads {
            assert!(
                g.sensitive_reads.iter().any(|x| x == a),
                "{name} {a}: {:?}",
                g.sensitive_reads
            );
        }
        for a in not {
            assert!(
                !g.sensitive_reads.iter().any(|x| x == a),
                "{name} {a}: {:?}",
                g.sensitive_reads
            );
        }
        // Where it reads data, the explanation says which, and that it is not escalation.
        let why = &r.findings[0].explanation;
        if let Some(a) = reads.first() {
            assert!(
                why.contains("Not escalation") && why.contains(a),
                "{name}: {why}"
            );
        }
    }
}

#[test]
fn read_only_attachment_in_a_plan_is_not_escalation() {
    for (name, reads, not) in READ_ONLY {
        let att = change(
            "aws_iam_role_policy_attachment.audit",
            &["create"],
            json!(null),
            json!({"role": "auditor", "policy_arn": format!("arn:aws:iam::aws:policy/{name}")}),
        );
        let r = run(&plan(vec![att]), "agent:kiro");
        no_escalation(&r.changes[0].findings, name);
        let why = &r.changes[0].findings[0].explanation;
        for a in reads.iter().take(1) {
            assert!(why.contains(a), "{name}: {why}");
        }
        for a in not {
            assert!(!why.contains(a), "{name}: {why}");
        }
    }
}

#[test]
fn permissions_management_still_counts() {
    // iam:* is permissions management and escalation, whatever read names it includes.
    let call = ApiCall::new(
        "iam:PutRolePolicy",
        None,
        json!({"RoleName": "r", "PolicyName": "p", "PolicyDocument": json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}).to_string()}),
    )
    .unwrap();
    let opts = CallOptions {
        actor: Actor::parse("agent:kiro").unwrap(),
        incident: None,
        critical: Default::default(),
        account: None,
    };
    let r = check_call(&call, &opts, engine());
    assert_eq!(r.findings[0].id, "privilege.escalation");
}
