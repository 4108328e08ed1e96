//! Resource-based policies are found by their shape, not by a list of resource types:
//! every kind of resource IAM Access Analyzer reports external access for, plus a made-up
//! future type, is judged public, cross-account or pinned, through the whole gate with the
//! built-in Cedar pack and an agent as the actor.

mod common;
use common::*;
use parapet_model::{Outcome, PlanReport};
use serde_json::{json, Value};

const OWN: &str = "111122223333";
const OTHER: &str = "999988887777";

/// A no-op resource whose ARN tells the plan which account it works in.
fn own_marker() -> Value {
    let q = json!({"arn": format!("arn:aws:sqs:us-east-1:{OWN}:marker"), "name": "marker"});
    change("aws_sqs_queue.marker", &["no-op"], q.clone(), q)
}

fn doc(principal: Value, condition: Value) -> Value {
    let mut st =
        json!({"Effect": "Allow", "Principal": principal, "Action": "svc:Get*", "Resource": "*"});
    if !condition.is_null() {
        st["Condition"] = condition;
    }
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        st]})
}

/// Where each resource kind keeps its policy: (address, attributes around it, where the
/// document goes). `/` separates nesting; `[]` a single-element block list.
const KINDS: &[(&str, &str)] = &[
    ("aws_s3_bucket.b", "policy"),
    ("aws_s3_bucket_policy.b", "policy"),
    ("aws_s3_bucket_policy.directory", "policy"),
    ("aws_s3_access_point.ap", "policy"),
    ("aws_s3control_access_point_policy.ap", "policy"),
    (
        "aws_s3control_multi_region_access_point_policy.m",
        "details[]/policy",
    ),
    (
        "aws_s3control_object_lambda_access_point_policy.o",
        "policy",
    ),
    ("aws_kms_key.k", "policy"),
    ("aws_kms_key_policy.k", "policy"),
    ("aws_sqs_queue.q", "policy"),
    ("aws_sqs_queue_policy.q", "policy"),
    ("aws_sns_topic.t", "policy"),
    ("aws_sns_topic_policy.t", "policy"),
    ("aws_secretsmanager_secret.s", "policy"),
    ("aws_secretsmanager_secret_policy.s", "policy"),
    ("aws_ecr_repository_policy.r", "policy"),
    ("aws_ecr_registry_policy.r", "policy"),
    ("aws_efs_file_system_policy.f", "policy"),
    ("aws_dynamodb_resource_policy.t", "policy"),
    ("aws_kinesis_resource_policy.k", "policy"),
    (
        "aws_codeartifact_domain_permissions_policy.d",
        "policy_document",
    ),
    (
        "aws_codeartifact_repository_permissions_policy.r",
        "policy_document",
    ),
    ("aws_s3tables_table_bucket_policy.t", "resource_policy"),
    ("aws_s3tables_table_policy.t", "resource_policy"),
    ("aws_opensearch_domain.d", "access_policies"),
    ("aws_opensearch_domain_policy.d", "access_policies"),
    ("aws_elasticsearch_domain_policy.d", "access_policies"),
    ("aws_glacier_vault.v", "access_policy"),
    ("aws_api_gateway_rest_api.a", "policy"),
    ("aws_api_gateway_rest_api_policy.a", "policy"),
    ("aws_cloudwatch_event_bus_policy.e", "policy"),
    ("aws_backup_vault_policy.v", "policy"),
    ("aws_cloudwatch_log_destination_policy.d", "access_policy"),
    ("aws_cloudwatch_log_resource_policy.r", "policy_document"),
    ("aws_newservice_thing_policy.x", "policy"),
    ("aws_newservice_thing.x", "settings[]/sharing/document"),
];

/// The resource's after-values with `document` placed at `path` (as a JSON string, the
/// form `jsonencode` and `aws_iam_policy_document` give, except where `raw`).
fn place(path: &str, document: &Value, raw: bool) -> Value {
    let leaf = if raw {
        document.clone()
    } else {
        Value::String(document.to_string())
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    let last = parts.pop().unwrap();
    let mut v = json!({ last: leaf });
    while let Some(p) = parts.pop() {
        v = match p.strip_suffix("[]") {
            Some(name) => json!({ name: [v] }),
            None => json!({ p: v }),
        };
    }
    v["name"] = json!("thing");
    v
}

fn check(address: &str, after: Value) -> PlanReport {
    run(
        &plan(vec![
            change(address, &["create"], json!(null), after),
            own_marker(),
        ]),
        "agent:kiro",
    )
}

fn exposure_ids(r: &PlanReport) -> Vec<&'static str> {
    ids(r)
        .into_iter()
        .filter(|i| i.starts_with("exposure") || i.starts_with("share"))
        .collect()
}

#[test]
fn public_resource_policies_are_found_in_every_kind() {
    for (addr, path) in KINDS {
        for principal in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["*"]})] {
            // Nested documents in the made-up type are plain objects, not strings.
            let raw = path.contains('/');
            let r = check(addr, place(path, &doc(principal.clone(), json!(null)), raw));
            assert!(
                exposure_ids(&r).contains(&"exposure.public-access"),
                "{addr} {principal}: {:?}",
                ids(&r)
            );
            assert!(
                summaries(&r).contains("lets anyone (svc:Get*)"),
                "{addr}: {}",
                summaries(&r)
            );
            assert_ne!(outcome(&r), Outcome::Allow, "{addr}");
        }
    }
}

#[test]
fn cross_account_resource_policies_are_found_in_every_kind() {
    for (addr, path) in KINDS {
        for principal in [
            json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}),
            json!({"AWS": [format!("arn:aws:iam::{OWN}:role/app"), OTHER]}),
            // `*` pinned to another account is that account.
            json!("*"),
        ] {
            let cond = if principal == json!("*") {
                json!({"StringEquals": {"aws:PrincipalAccount": OTHER}})
            } else {
                json!(null)
            };
            let raw = path.contains('/');
            let r = check(addr, place(path, &doc(principal.clone(), cond), raw));
            assert_eq!(
                exposure_ids(&r),
                ["share.external-account"],
                "{addr} {principal}"
            );
            assert!(summaries(&r).contains(&format!("with AWS account {OTHER}")));
            assert_eq!(outcome(&r), Outcome::Review, "{addr}");
        }
    }
}

#[test]
fn pinned_and_own_account_policies_are_not_findings() {
    let pinned = [
        (
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
        ),
        (
            json!({"AWS": "*"}),
            json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}),
        ),
        (
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalAccount": OWN}}),
        ),
        (
            json!("*"),
            json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWN}:role/ci-*")}}),
        ),
        (
            json!("*"),
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        ),
        (
            json!({"AWS": format!("arn:aws:iam::{OWN}:root")}),
            json!(null),
        ),
        (json!({"AWS": OWN}), json!(null)),
        (
            json!({"Service": "events.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceAccount": OWN}}),
        ),
        (
            json!({"Service": "cloudtrail.amazonaws.com"}),
            json!({"ArnLike": {"aws:SourceArn": format!("arn:aws:cloudtrail:us-east-1:{OWN}:trail/*")}}),
        ),
    ];
    for (addr, path) in KINDS {
        for (p, c) in &pinned {
            let raw = path.contains('/');
            let r = check(addr, place(path, &doc(p.clone(), c.clone()), raw));
            assert!(
                exposure_ids(&r).is_empty(),
                "{addr} {p} {c}: {}",
                summaries(&r)
            );
        }
    }
}

#[test]
fn conditions_that_do_not_pin_leave_it_public() {
    let open = [
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}),
        json!({"StringNotEquals": {"aws:PrincipalAccount": OTHER}}),
        json!({"StringLike": {"aws:PrincipalOrgID": "*"}}),
        json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
        json!({"Null": {"aws:SourceVpce": "false"}}),
        json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}),
    ];
    for c in open {
        let r = check(
            "aws_dynamodb_resource_policy.t",
            place("policy", &doc(json!("*"), c.clone()), false),
        );
        assert_eq!(exposure_ids(&r), ["exposure.public-access"], "{c}");
    }
    // NotPrincipal with Allow is everyone but the named ones; a wildcard ARN is anyone.
    for st in [
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "kinesis:*", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "kinesis:*", "Resource": "*"}),
    ] {
        let d = json!({"Statement": st});
        let r = check("aws_kinesis_resource_policy.k", place("policy", &d, false));
        assert_eq!(exposure_ids(&r), ["exposure.public-access"], "{st}");
    }
}

#[test]
fn unpinned_service_principals_are_confused_deputies() {
    for (addr, path) in KINDS {
        let raw = path.contains('/');
        let d = doc(json!({"Service": "events.amazonaws.com"}), json!(null));
        let r = check(addr, place(path, &d, raw));
        assert_eq!(exposure_ids(&r), ["share.external-account"], "{addr}");
        assert!(
            summaries(&r).contains("any account that uses events.amazonaws.com"),
            "{}",
            summaries(&r)
        );
    }
    // A service pinned to another account is a grant to that account.
    let d = doc(
        json!({"Service": "sns.amazonaws.com"}),
        json!({"StringEquals": {"aws:SourceAccount": OTHER}}),
    );
    let r = check("aws_sqs_queue_policy.q", place("policy", &d, false));
    assert!(summaries(&r).contains(&format!("with AWS account {OTHER}")));
}

#[test]
fn identity_policies_are_not_resource_policies() {
    let d = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    for (addr, path) in KINDS {
        let r = check(addr, place(path, &d, path.contains('/')));
        assert!(exposure_ids(&r).is_empty(), "{addr}: {}", summaries(&r));
    }
}

#[test]
fn only_new_grants_count() {
    let d = doc(json!({"AWS": OTHER}), json!(null)).to_string();
    let before =
        json!({"resource_arn": "arn:aws:dynamodb:us-east-1:111122223333:table/t", "policy": d});
    let r = run(
        &plan(vec![
            change(
                "aws_dynamodb_resource_policy.t",
                &["update"],
                before.clone(),
                before.clone(),
            ),
            own_marker(),
        ]),
        "agent:kiro",
    );
    assert!(exposure_ids(&r).is_empty(), "{}", summaries(&r));
    // Deleting a public policy opens nothing.
    let p = doc(json!("*"), json!(null)).to_string();
    let r = run(
        &plan(vec![
            change(
                "aws_newservice_thing_policy.x",
                &["delete"],
                json!({"policy": p}),
                json!(null),
            ),
            own_marker(),
        ]),
        "agent:kiro",
    );
    assert!(exposure_ids(&r).is_empty(), "{}", summaries(&r));
}

#[test]
fn unreadable_policies_fail_closed() {
    // Malformed JSON that carries a principal is unknown, never clean.
    let r = check(
        "aws_newservice_thing_policy.x",
        json!({"policy": "{\"Statement\": [{\"Effect\": \"Allow\", \"Principal\": \"*\", "}),
    );
    assert_eq!(exposure_ids(&r), ["exposure.public-access"]);
    assert!(
        summaries(&r).contains("cannot be read"),
        "{}",
        summaries(&r)
    );
    assert_ne!(outcome(&r), Outcome::Allow);
    // A policy known only after apply, written in the configuration.
    let c = with_unknown(
        change(
            "aws_kinesis_resource_policy.k",
            &["create"],
            json!(null),
            json!({"resource_arn": "arn:aws:kinesis:us-east-1:111122223333:stream/s"}),
        ),
        json!({"policy": true}),
    );
    let config = json!({"root_module": {"resources": [{"address": "aws_kinesis_resource_policy.k", "mode": "managed",
        "type": "aws_kinesis_resource_policy", "name": "k",
        "expressions": {"policy": {"references": ["data.aws_iam_policy_document.p.json"]}}}]}});
    let r = run(
        &plan_with(vec![c, own_marker()], json!([]), config),
        "agent:kiro",
    );
    assert!(
        summaries(&r).contains("its policy document is known only after apply"),
        "{}",
        summaries(&r)
    );
    assert_ne!(outcome(&r), Outcome::Allow);
    // Nesting deeper than any Terraform value is unknown, not searched forever.
    let mut deep = doc(json!("*"), json!(null));
    for _ in 0..200 {
        deep = json!({"inner": deep});
    }
    let r = check(
        "aws_newservice_thing.x",
        json!({"settings": deep.to_string()}),
    );
    assert!(
        summaries(&r).contains("cannot be read"),
        "{}",
        summaries(&r)
    );
}

#[test]
fn lambda_permissions_by_attributes() {
    let perm = |principal: &str, extra: Value| {
        let mut v = json!({"function_name": "f", "action": "lambda:InvokeFunction", "principal": principal,
                           "statement_id": "s"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        check("aws_lambda_permission.p", v)
    };
    let r = perm("*", json!({}));
    assert_eq!(exposure_ids(&r), ["exposure.public-access"]);
    assert_ne!(outcome(&r), Outcome::Allow);
    let r = perm(OTHER, json!({}));
    assert_eq!(exposure_ids(&r), ["share.external-account"]);
    assert_eq!(outcome(&r), Outcome::Review);
    let r = perm("s3.amazonaws.com", json!({}));
    assert_eq!(
        exposure_ids(&r),
        ["share.external-account"],
        "{}",
        summaries(&r)
    );
    assert!(summaries(&r).contains("any account that uses s3.amazonaws.com"));
    for extra in [
        json!({"source_account": OWN}),
        json!({"source_arn": "arn:aws:s3:::uploads"}),
    ] {
        assert!(
            exposure_ids(&perm("s3.amazonaws.com", extra.clone())).is_empty(),
            "{extra}"
        );
    }
    assert!(exposure_ids(&perm("*", json!({"principal_org_id": "o-abc123"}))).is_empty());
    assert!(exposure_ids(&perm(OWN, json!({}))).is_empty());
}

#[test]
fn role_trust_to_anyone_or_another_account() {
    let role = |p: Value| {
        let d =
            json!({"Statement": [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}]});
        check(
            "aws_iam_role.r",
            json!({"name": "r", "assume_role_policy": d.to_string()}),
        )
    };
    let r = role(json!({"AWS": "*"}));
    assert!(ids(&r).contains(&"privilege.trust-opened"));
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = role(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}));
    assert!(ids(&r).contains(&"privilege.trust-opened"));
    assert_ne!(outcome(&r), Outcome::Allow);
    // Trust policies are judged once, by the IAM analysis, not again as resource policies.
    assert!(exposure_ids(&r).is_empty());
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        "[a-zA-Z0-9:/*.{}\\[\\]\" -]{0,24}".prop_map(Value::String),
        Just(json!("*")),
        Just(json!("Allow")),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "Statement",
                    "Principal",
                    "NotPrincipal",
                    "Effect",
                    "Action",
                    "AWS",
                    "Service",
                    "Condition",
                    "StringEquals",
                    "aws:SourceAccount",
                    "policy",
                    "items",
                ])
                .prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, .. Default::default() })]

    /// Values of any shape, as objects or as JSON text, never panic the walk, and a public
    /// policy placed anywhere among them is always found.
    #[test]
    fn a_public_policy_is_found_wherever_it_sits(noise in arb_json(), as_text in proptest::prelude::any::<bool>(),
                                                  depth in 0usize..6) {
        let r = check("aws_newservice_thing.x", json!({"a": noise.clone(), "b": noise.to_string()}));
        let _ = summaries(&r);
        let mut v = doc(json!("*"), json!(null));
        for i in 0..depth {
            v = if i % 2 == 0 { json!([noise.clone(), v]) } else { json!({"wrap": v, "noise": noise.clone()}) };
        }
        let v = if as_text { Value::String(v.to_string()) } else { v };
        let r = check("aws_newservice_thing.x", json!({"config": v, "other": noise}));
        proptest::prop_assert!(exposure_ids(&r).contains(&"exposure.public-access"), "{}", summaries(&r));
    }
}

#[test]
fn kms_grants_and_acl_grants_to_other_accounts() {
    let grant = |grantee: &str| {
        check(
            "aws_kms_grant.g",
            json!({"name": "g", "key_id": "k-1", "grantee_principal": grantee, "operations": ["Decrypt"]}),
        )
    };
    let r = grant(&format!("arn:aws:iam::{OTHER}:role/reader"));
    assert_eq!(exposure_ids(&r), ["share.external-account"]);
    assert!(summaries(&r).contains(&format!("with AWS account {OTHER}")));
    assert_ne!(outcome(&r), Outcome::Allow);
    assert!(exposure_ids(&grant(&format!("arn:aws:iam::{OWN}:role/reader"))).is_empty());

    let acl = |grantee: Value| {
        json!({"bucket": "b", "access_control_policy": [{
            "owner": [{"id": "owner-canonical-id"}],
            "grant": [
                {"permission": "FULL_CONTROL", "grantee": [{"type": "CanonicalUser", "id": "owner-canonical-id"}]},
                {"permission": "READ", "grantee": [grantee]}]}]})
    };
    let r = check(
        "aws_s3_bucket_acl.a",
        acl(json!({"type": "CanonicalUser", "id": "other-canonical-id"})),
    );
    assert_eq!(
        exposure_ids(&r),
        ["share.external-account"],
        "{}",
        summaries(&r)
    );
    assert!(summaries(&r).contains("canonical user other-canonical-id"));
    assert_ne!(outcome(&r), Outcome::Allow);
    let r = check(
        "aws_s3_bucket_acl.a",
        acl(json!({"type": "CanonicalUser", "id": "owner-canonical-id"})),
    );
    assert!(exposure_ids(&r).is_empty(), "{}", summaries(&r));
}

#[test]
fn templates_are_searched_and_trust_statements_are_no_confused_deputy() {
    // A CloudFormation template in a string holds a public topic policy and a role trusting
    // a service: the topic policy is found, the service trust is not a confused deputy.
    let template = json!({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "*"}]}}}}});
    let r = check(
        "aws_cloudformation_stack.s",
        json!({"name": "s", "template_body": template.to_string()}),
    );
    assert_eq!(
        exposure_ids(&r),
        ["exposure.public-access"],
        "{}",
        summaries(&r)
    );
    assert!(summaries(&r).contains("template_body.Resources.TopicPolicy.Properties.PolicyDocument lets anyone (sns:Publish)"), "{}", summaries(&r));
}
