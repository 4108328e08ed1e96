//! What a reviewer reads of a changed policy document or rule list: the statements and
//! rules removed and added, in full, in the text report and the JSON report. Golden.

mod common;
use common::*;
use parapet_model::PlanReport;
use parapet_report::{render, Format, TextOptions};
use serde_json::{json, Value};

fn text(r: &PlanReport) -> String {
    let mut r = r.clone();
    r.tool.version = "test";
    render(&r, Format::Text, &TextOptions::default())
}

fn details(r: &PlanReport) -> Value {
    let d: Vec<Value> = r
        .changes
        .iter()
        .flat_map(|c| c.change.diff.iter())
        .filter(|d| d.detail.is_some())
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    Value::Array(d)
}

fn trust_and_bucket_policies() -> Vec<u8> {
    let trust_before = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    // The same statement with a one-element list, plus a cross-account one.
    let trust_after = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::777788889999:role/ci"]},
         "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Condition": {"StringEquals": {"sts:ExternalId": "partner-42"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]});
    let bucket_before = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::logs/*"}]});
    let bucket_after = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": ["s3:getobject", "s3:PutObject"], "Resource": ["arn:aws:s3:::logs/*"]},
        {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "NotAction": "s3:DeleteObject", "NotResource": "arn:aws:s3:::logs/private/*",
         "Condition": {"StringLike": {"aws:Referer": ["https://a.example.com/*", "https://b.example.com/*"]},
                       "StringEquals": {"aws:UserAgent": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ"}}}]});
    plan(vec![
        change(
            "aws_iam_role.app",
            &["update"],
            json!({"name": "app", "assume_role_policy": trust_before.to_string()}),
            json!({"name": "app", "assume_role_policy": trust_after.to_string()}),
        ),
        change(
            "aws_s3_bucket_policy.logs",
            &["update"],
            json!({"bucket": "logs", "policy": bucket_before.to_string()}),
            json!({"bucket": "logs", "policy": bucket_after.to_string()}),
        ),
        change(
            "aws_iam_role.inline",
            &["update"],
            json!({"name": "inline", "inline_policy": [{"name": "read", "policy": json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}).to_string()}]}),
            json!({"name": "inline", "inline_policy": [{"name": "read", "policy": json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}).to_string()}]}),
        ),
    ])
}

fn rules() -> Vec<u8> {
    let base = json!({"cidr_blocks": [], "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""});
    let rule = |extra: Value| {
        let mut r = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let https = rule(
        json!({"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "description": "internal"}),
    );
    plan(vec![
        change(
            "aws_security_group.web",
            &["update"],
            json!({"name": "web", "ingress": [https.clone(),
                rule(json!({"from_port": 22, "to_port": 22, "protocol": "tcp", "security_groups": ["sg-0bastion"]}))],
                "egress": [rule(json!({"from_port": 443, "to_port": 443, "protocol": "tcp", "prefix_list_ids": ["pl-63a5400a"]}))]}),
            json!({"name": "web", "ingress": [https,
                rule(json!({"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"], "description": "temporary ssh"})),
                rule(json!({"from_port": 8000, "to_port": 8080, "protocol": "6", "self": true, "prefix_list_ids": ["pl-0partner"]}))],
                "egress": [rule(json!({"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}))]}),
        ),
        change(
            "aws_network_acl.public",
            &["update"],
            json!({"ingress": [{"rule_no": 100, "action": "allow", "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": "", "icmp_type": 0, "icmp_code": 0}]}),
            json!({"ingress": [{"rule_no": 100, "action": "allow", "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": "", "icmp_type": 0, "icmp_code": 0},
                               {"rule_no": 110, "action": "allow", "protocol": "icmp", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": "", "icmp_type": 8, "icmp_code": -1}]}),
        ),
    ])
}

#[test]
fn policy_documents_text() {
    let r = run(&trust_and_bucket_policies(), "agent:kiro");
    insta::assert_snapshot!(text(&r));
}

#[test]
fn policy_documents_json() {
    let r = run(&trust_and_bucket_policies(), "agent:kiro");
    let d = details(&r);
    let s = d.to_string();
    assert!(
        !s.contains("c2VjcmV0LXNpZ25hdHVyZQ"),
        "masked inside statements: {s}"
    );
    assert!(!s.contains("JSON document"), "{s}");
    insta::assert_json_snapshot!(d);
}

#[test]
fn network_rules_text() {
    let r = run(&rules(), "agent:kiro");
    insta::assert_snapshot!(text(&r));
}

#[test]
fn network_rules_json() {
    let r = run(&rules(), "agent:kiro");
    insta::assert_json_snapshot!(details(&r));
}

fn documents() -> Vec<u8> {
    let defs = |image: &str, token: &str, cpu: u32| {
        json!([{"name": "api", "image": image, "cpu": cpu, "essential": true,
            "environment": [{"name": "API_TOKEN", "value": token}, {"name": "STAGE", "value": "prod"}],
            "portMappings": [{"containerPort": 8080}]}])
        .to_string()
    };
    plan(vec![change(
        "aws_ecs_task_definition.api",
        &["delete", "create"],
        json!({"family": "api", "container_definitions": defs("api:1.4.1", "old-secret-value", 256)}),
        json!({"family": "api", "container_definitions": defs("api:1.5.0", "new-secret-value", 512)}),
    )])
}

#[test]
fn json_documents_text() {
    let r = run(&documents(), "agent:kiro");
    let t = text(&r);
    assert!(!t.contains("secret-value"), "{t}");
    insta::assert_snapshot!(t);
}
