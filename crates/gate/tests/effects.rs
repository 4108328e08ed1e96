//! One test (or more) per effect kind, through the whole gate: plan JSON in, findings
//! and decisions out, with the built-in Cedar pack.

mod common;
use common::*;
use parapet_model::Outcome;
use serde_json::json;

fn sg_rule(port: i64, to: i64, proto: &str, v4: &[&str], v6: &[&str]) -> serde_json::Value {
    json!({"from_port": port, "to_port": to, "protocol": proto, "cidr_blocks": v4, "ipv6_cidr_blocks": v6,
           "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""})
}

#[test]
fn destroy_with_skip_final_snapshot_loses_data_and_agents_are_denied() {
    let p = plan(vec![change(
        "aws_db_instance.orders",
        &["delete"],
        json!({"id": "db-1", "skip_final_snapshot": true, "deletion_protection": false}),
        json!(null),
    )]);
    let r = run(&p, "agent:kiro");
    assert!(ids(&r).contains(&"destroy.data-loss"), "{:?}", ids(&r));
    assert!(summaries(&r).contains("skip_final_snapshot is true, so its data is lost"));
    assert_eq!(outcome(&r), Outcome::Deny);
    // A human gets review with two approvers and a cooling-off delay.
    let h = run(&p, "human:alice");
    assert_eq!(outcome(&h), Outcome::Review);
    let a = h.changes[0].decision.approval.unwrap();
    assert_eq!(a.approvers, 2);
    assert_eq!(a.delay_seconds, 1800);
}

#[test]
fn destroy_data_fates() {
    let cases = [
        (
            "aws_db_instance.a",
            json!({"skip_final_snapshot": false, "final_snapshot_identifier": "final-a"}),
            "a final snapshot final-a is taken",
        ),
        (
            "aws_db_instance.b",
            json!({"deletion_protection": true, "skip_final_snapshot": true}),
            "deletion_protection is true",
        ),
        (
            "aws_s3_bucket.c",
            json!({"force_destroy": true}),
            "force_destroy is true",
        ),
        (
            "aws_s3_bucket.d",
            json!({"force_destroy": false}),
            "refuses to delete a bucket",
        ),
        (
            "aws_secretsmanager_secret.e",
            json!({"recovery_window_in_days": 0}),
            "deleted at once",
        ),
        ("aws_ebs_volume.f", json!({}), "no final snapshot"),
        (
            "aws_dynamodb_table.g",
            json!({"deletion_protection_enabled": false}),
            "deletes every item",
        ),
        (
            "aws_kms_key.h",
            json!({"deletion_window_in_days": 7}),
            "waits 7 days",
        ),
    ];
    for (addr, before, words) in cases {
        let r = run(
            &plan(vec![change(addr, &["delete"], before, json!(null))]),
            "human:a",
        );
        assert!(summaries(&r).contains(words), "{addr}: {}", summaries(&r));
    }
    // A stateless resource is destroyed without a data clause.
    let r = run(
        &plan(vec![change(
            "aws_instance.web",
            &["delete"],
            json!({"id": "i-1"}),
            json!(null),
        )]),
        "agent:a",
    );
    assert_eq!(ids(&r), ["destroy"]);
    assert_eq!(outcome(&r), Outcome::Review);
}

#[test]
fn replace_says_why_and_in_which_order() {
    let mut c = change(
        "aws_db_instance.orders",
        &["delete", "create"],
        json!({"engine_version": "14", "skip_final_snapshot": true}),
        json!({"engine_version": "16", "skip_final_snapshot": true}),
    );
    c["change"]["replace_paths"] = json!([["engine_version"]]);
    let r = run(&plan(vec![c]), "agent:kiro");
    let s = summaries(&r);
    assert!(
        s.contains("replaces aws_db_instance.orders because engine_version forces replacement"),
        "{s}"
    );
    assert!(s.contains("destroyed before the new one exists"));
    assert!(s.contains("so its data is lost"));
    assert_eq!(outcome(&r), Outcome::Deny);
    let mut c = change(
        "aws_instance.a",
        &["create", "delete"],
        json!({"ami": "1"}),
        json!({"ami": "2"}),
    );
    c["action_reason"] = json!("replace_because_tainted");
    let r = run(&plan(vec![c]), "agent:kiro");
    assert!(summaries(&r).contains("the object is tainted"));
    assert!(summaries(&r).contains("new one created first"));
}

#[test]
fn exposure_ipv4_ipv6_ranges_and_all_protocols() {
    let sg = |rules: serde_json::Value| {
        change(
            "aws_security_group.web",
            &["create"],
            json!(null),
            json!({"name": "web", "ingress": rules}),
        )
    };
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            22,
            22,
            "tcp",
            &["0.0.0.0/0"],
            &[]
        )]))]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.admin-port"]);
    assert!(summaries(&r)
        .contains("opens TCP 22 on aws_security_group.web to the whole internet (0.0.0.0/0)"));
    assert_eq!(outcome(&r), Outcome::Deny);
    // IPv6 only.
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            3389,
            3389,
            "tcp",
            &[],
            &["::/0"]
        )]))]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.admin-port"]);
    // A port range that contains 22.
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            0,
            1024,
            "tcp",
            &["0.0.0.0/0"],
            &[]
        )]))]),
        "agent:kiro",
    );
    assert!(ids(&r).contains(&"exposure.admin-port"));
    // All protocols.
    let r = run(
        &plan(vec![sg(json!([sg_rule(0, 0, "-1", &["0.0.0.0/0"], &[])]))]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.all-ports"]);
    assert!(summaries(&r).contains("all protocols and ports"));
    // A database port.
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            5432,
            5432,
            "tcp",
            &["0.0.0.0/0"],
            &[]
        )]))]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.database-port"]);
    // HTTPS to the internet is a finding held for review, not a denial.
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            443,
            443,
            "tcp",
            &["0.0.0.0/0"],
            &[]
        )]))]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.port"]);
    assert_eq!(outcome(&r), Outcome::Review);
    // A private range is not exposure.
    let r = run(
        &plan(vec![sg(json!([sg_rule(
            22,
            22,
            "tcp",
            &["10.0.0.0/8"],
            &[]
        )]))]),
        "agent:kiro",
    );
    assert!(ids(&r).is_empty());
    assert_eq!(outcome(&r), Outcome::Allow);
}

#[test]
fn exposure_counts_only_what_the_change_opens() {
    let before = json!({"id": "sg-1", "ingress": [sg_rule(443, 443, "tcp", &["0.0.0.0/0"], &[])]});
    let after = json!({"id": "sg-1", "ingress": [sg_rule(443, 443, "tcp", &["0.0.0.0/0"], &[]), sg_rule(22, 22, "tcp", &["0.0.0.0/0"], &[])]});
    let r = run(
        &plan(vec![change(
            "aws_security_group.web",
            &["update"],
            before.clone(),
            after,
        )]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["exposure.admin-port"]);
    // Re-applying the same rules finds nothing.
    let r = run(
        &plan(vec![change(
            "aws_security_group.web",
            &["update"],
            before.clone(),
            before,
        )]),
        "agent:kiro",
    );
    assert!(ids(&r).is_empty());
}

#[test]
fn exposure_rule_resources_and_nacls() {
    let rule = change(
        "aws_security_group_rule.ssh",
        &["create"],
        json!(null),
        json!({"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "security_group_id": "sg-0abc"}),
    );
    let r = run(&plan(vec![rule]), "agent:kiro");
    assert!(
        summaries(&r).contains("opens TCP 22 on sg-0abc"),
        "{}",
        summaries(&r)
    );
    let egress = change(
        "aws_security_group_rule.out",
        &["create"],
        json!(null),
        json!({"type": "egress", "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}),
    );
    assert!(ids(&run(&plan(vec![egress]), "agent:kiro")).is_empty());
    let v2 = change(
        "aws_vpc_security_group_ingress_rule.db",
        &["create"],
        json!(null),
        json!({"ip_protocol": "tcp", "from_port": 3306, "to_port": 3306, "cidr_ipv6": "::/0", "security_group_id": "sg-1"}),
    );
    assert_eq!(
        ids(&run(&plan(vec![v2]), "agent:kiro")),
        ["exposure.database-port"]
    );
    let v2all = change(
        "aws_vpc_security_group_ingress_rule.all",
        &["create"],
        json!(null),
        json!({"ip_protocol": "-1", "from_port": null, "to_port": null, "cidr_ipv4": "0.0.0.0/0"}),
    );
    assert_eq!(
        ids(&run(&plan(vec![v2all]), "agent:kiro")),
        ["exposure.all-ports"]
    );
    let nacl = change(
        "aws_network_acl_rule.in",
        &["create"],
        json!(null),
        json!({"egress": false, "rule_action": "allow", "protocol": "6", "from_port": 3389, "to_port": 3389, "cidr_block": "0.0.0.0/0"}),
    );
    assert_eq!(
        ids(&run(&plan(vec![nacl]), "agent:kiro")),
        ["exposure.admin-port"]
    );
    let deny = change(
        "aws_network_acl_rule.block",
        &["create"],
        json!(null),
        json!({"egress": false, "rule_action": "deny", "protocol": "-1", "cidr_block": "0.0.0.0/0"}),
    );
    assert!(ids(&run(&plan(vec![deny]), "agent:kiro")).is_empty());
}

#[test]
fn unknown_sources_are_a_third_outcome() {
    let c = with_unknown(
        change(
            "aws_security_group_rule.ssh",
            &["create"],
            json!(null),
            json!({"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp"}),
        ),
        json!({"cidr_blocks": true, "id": true}),
    );
    let r = run(&plan(vec![c]), "agent:kiro");
    assert_eq!(ids(&r), ["exposure.unknown"]);
    assert!(summaries(&r).contains("may open TCP 22"));
    assert_eq!(outcome(&r), Outcome::Review);
}

#[test]
fn iam_wildcards_admin_and_escalation() {
    let doc = |a: &str| {
        json!({"Statement": [{"Effect": "Allow", "Action": a, "Resource": "*"}]}).to_string()
    };
    let p = |a: &str| {
        plan(vec![change(
            "aws_iam_role_policy.p",
            &["create"],
            json!(null),
            json!({"role": "ci", "policy": doc(a)}),
        )])
    };
    let r = run(&p("*"), "agent:kiro");
    assert_eq!(ids(&r), ["privilege.admin"]);
    assert!(summaries(&r).contains("grants role ci full administrator access"));
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = run(&p("iam:*"), "agent:kiro");
    assert_eq!(ids(&r), ["privilege.escalation"]);
    let s = summaries(&r);
    assert!(s.contains("iam:* = "), "{s}");
    assert!(s.contains("iam-create-policy-version"));
    assert_eq!(outcome(&r), Outcome::Deny);
    assert_eq!(outcome(&run(&p("iam:*"), "human:alice")), Outcome::Review);
    let r = run(&p("s3:GetObject"), "agent:kiro");
    assert_eq!(ids(&r), ["privilege.grant"]);
    assert_eq!(outcome(&r), Outcome::Review);
    // PassRole alone is not an escalation; with RunInstances it is.
    let two = json!({"Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}).to_string();
    let r = run(
        &plan(vec![change(
            "aws_iam_policy.p",
            &["create"],
            json!(null),
            json!({"name": "p", "policy": two}),
        )]),
        "agent:kiro",
    );
    assert!(summaries(&r).contains("passrole-ec2-run-instances"));
}

#[test]
fn iam_update_reports_added_and_removed() {
    let before = json!({"role": "ci", "policy": json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]}).to_string()});
    let after = json!({"role": "ci", "policy": json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": "*"}]}).to_string()});
    let r = run(
        &plan(vec![change(
            "aws_iam_role_policy.p",
            &["update"],
            before,
            after,
        )]),
        "agent:kiro",
    );
    let s = summaries(&r);
    assert!(s.contains("grants role ci 1 action(s) (1 write)"), "{s}");
    assert!(s.contains("removes 1"), "{s}");
}

#[test]
fn trust_policies() {
    let role = |principal: serde_json::Value, cond: serde_json::Value| {
        let doc = json!({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", "Condition": cond}]}).to_string();
        plan(vec![change(
            "aws_iam_role.r",
            &["create"],
            json!(null),
            json!({"name": "deploy", "assume_role_policy": doc}),
        )])
    };
    let r = run(&role(json!("*"), json!({})), "agent:kiro");
    assert_eq!(ids(&r), ["privilege.trust-opened"]);
    assert!(summaries(&r).contains("lets anyone"));
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = run(
        &role(json!({"AWS": "arn:aws:iam::999988887777:root"}), json!({})),
        "agent:kiro",
    );
    assert!(summaries(&r).contains("another AWS account (arn:aws:iam::999988887777:root)"));
    assert_eq!(outcome(&r), Outcome::Review);
    let gh = json!({"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"});
    let r = run(
        &role(
            gh.clone(),
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
        ),
        "agent:kiro",
    );
    assert!(
        summaries(&r).contains("with no condition on who"),
        "{}",
        summaries(&r)
    );
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = run(
        &role(
            gh,
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}}),
        ),
        "agent:kiro",
    );
    assert!(ids(&r).is_empty(), "{:?}", ids(&r));
    let r = run(
        &role(json!({"Service": "lambda.amazonaws.com"}), json!({})),
        "agent:kiro",
    );
    assert!(ids(&r).is_empty());
}

#[test]
fn attachments_resolve_managed_and_referenced_policies() {
    let att = change(
        "aws_iam_role_policy_attachment.a",
        &["create"],
        json!(null),
        json!({"role": "ci", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    );
    let r = run(&plan(vec![att]), "agent:kiro");
    assert_eq!(ids(&r), ["privilege.admin"]);
    assert!(summaries(&r).contains("through AWS managed policy AdministratorAccess"));
    // policy_arn unknown: follow the configuration reference to the policy in the plan.
    let pol = change(
        "aws_iam_policy.wide",
        &["create"],
        json!(null),
        json!({"name": "wide", "policy": json!({"Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}]}).to_string()}),
    );
    let att = with_unknown(
        change(
            "aws_iam_user_policy_attachment.b",
            &["create"],
            json!(null),
            json!({"user": "bob"}),
        ),
        json!({"policy_arn": true}),
    );
    let cfg = json!({"root_module": {"resources": [{"address": "aws_iam_user_policy_attachment.b", "expressions": {"policy_arn": {"references": ["aws_iam_policy.wide.arn", "aws_iam_policy.wide"]}}}]}});
    let r = run(&plan_with(vec![att, pol], json!([]), cfg), "agent:kiro");
    assert!(
        r.changes[0].findings[0]
            .summary
            .contains("user bob through policy aws_iam_policy.wide"),
        "{}",
        summaries(&r)
    );
    assert!(summaries(&r).contains("iam-create-access-key"));
}

#[test]
fn new_credentials_and_memberships() {
    let r = run(
        &plan(vec![change(
            "aws_iam_access_key.k",
            &["create"],
            json!(null),
            json!({"user": "bob"}),
        )]),
        "agent:kiro",
    );
    assert_eq!(ids(&r), ["privilege.new-credential"]);
    assert!(summaries(&r).contains("long-lived access key for IAM user bob"));
    assert_eq!(outcome(&r), Outcome::Review);
    let r = run(
        &plan(vec![change(
            "aws_iam_user_login_profile.p",
            &["create"],
            json!(null),
            json!({"user": "bob"}),
        )]),
        "agent:kiro",
    );
    assert!(summaries(&r).contains("console password"));
    let r = run(
        &plan(vec![change(
            "aws_iam_user_group_membership.m",
            &["create"],
            json!(null),
            json!({"user": "bob", "groups": ["admins"]}),
        )]),
        "agent:kiro",
    );
    assert!(
        summaries(&r).contains("user bob through membership of group admins"),
        "{}",
        summaries(&r)
    );
}

#[test]
fn defense_evasion() {
    let r = run(
        &plan(vec![change(
            "aws_cloudtrail.main",
            &["update"],
            json!({"enable_logging": true}),
            json!({"enable_logging": false}),
        )]),
        "agent:kiro",
    );
    assert!(ids(&r).contains(&"defense-evasion"));
    assert!(summaries(&r).contains("stops logging"));
    assert_eq!(outcome(&r), Outcome::Deny);
    assert_eq!(
        outcome(&run(
            &plan(vec![change(
                "aws_cloudtrail.main",
                &["update"],
                json!({"enable_logging": true}),
                json!({"enable_logging": false})
            )]),
            "human:a"
        )),
        Outcome::Review
    );
    let r = run(
        &plan(vec![change(
            "aws_guardduty_detector.d",
            &["delete"],
            json!({"enable": true}),
            json!(null),
        )]),
        "pipeline:tf",
    );
    assert!(summaries(&r).contains("turns off threat detection"));
    let r = run(
        &plan(vec![change(
            "aws_bedrock_model_invocation_logging_configuration.l",
            &["delete"],
            json!({}),
            json!(null),
        )]),
        "agent:a",
    );
    assert!(summaries(&r).contains("LLMjacking"));
    let r = run(
        &plan(vec![change(
            "aws_guardduty_filter.f",
            &["create"],
            json!(null),
            json!({"action": "ARCHIVE"}),
        )]),
        "agent:a",
    );
    assert!(summaries(&r).contains("auto-archives"));
}

#[test]
fn sharing_and_public_access() {
    let r = run(
        &plan(vec![change(
            "aws_ebs_snapshot_create_volume_permission.p",
            &["create"],
            json!(null),
            json!({"snapshot_id": "snap-1", "account_id": "999988887777"}),
        )]),
        "agent:a",
    );
    assert_eq!(ids(&r), ["share.external-account"]);
    assert!(summaries(&r).contains("EBS snapshot snap-1 with AWS account 999988887777"));
    let r = run(
        &plan(vec![change(
            "aws_ami_launch_permission.p",
            &["create"],
            json!(null),
            json!({"image_id": "ami-1", "group": "all"}),
        )]),
        "agent:a",
    );
    assert_eq!(ids(&r), ["share.public"]);
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = run(
        &plan(vec![change(
            "aws_db_snapshot.s",
            &["update"],
            json!({"shared_accounts": []}),
            json!({"shared_accounts": ["all"]}),
        )]),
        "agent:a",
    );
    assert_eq!(ids(&r), ["share.public"]);
    let r = run(
        &plan(vec![change(
            "aws_s3_bucket_acl.a",
            &["create"],
            json!(null),
            json!({"acl": "public-read"}),
        )]),
        "agent:a",
    );
    assert_eq!(ids(&r), ["exposure.public-access"]);
    let pol = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}).to_string();
    let r = run(
        &plan(vec![change(
            "aws_s3_bucket_policy.p",
            &["create"],
            json!(null),
            json!({"bucket": "b", "policy": pol}),
        )]),
        "agent:a",
    );
    assert!(summaries(&r).contains("lets anyone (s3:GetObject)"));
    let r = run(
        &plan(vec![change(
            "aws_lambda_function_url.u",
            &["create"],
            json!(null),
            json!({"function_name": "f", "authorization_type": "NONE"}),
        )]),
        "agent:a",
    );
    assert!(summaries(&r).contains("anyone on the internet can invoke it"));
    let r = run(
        &plan(vec![change(
            "aws_s3_bucket_public_access_block.b",
            &["update"],
            json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}),
            json!({"block_public_acls": true, "block_public_policy": false, "ignore_public_acls": true, "restrict_public_buckets": true}),
        )]),
        "agent:a",
    );
    assert!(summaries(&r).contains("block_public_policy = false"));
}

#[test]
fn lambda_code_change_is_a_finding_but_allowed() {
    let r = run(
        &plan(vec![change(
            "aws_lambda_function.f",
            &["update"],
            json!({"source_code_hash": "a", "role": "arn:aws:iam::1:role/r"}),
            json!({"source_code_hash": "b", "role": "arn:aws:iam::1:role/r"}),
        )]),
        "pipeline:deploy",
    );
    assert_eq!(ids(&r), ["code.change"]);
    assert_eq!(outcome(&r), Outcome::Allow);
}

#[test]
fn critical_by_tag() {
    let c = change(
        "aws_instance.api",
        &["update"],
        json!({"instance_type": "t3.small", "tags": {"Environment": "prod"}}),
        json!({"instance_type": "t3.large", "tags": {"Environment": "prod"}}),
    );
    let r = run(&plan(vec![c]), "agent:kiro");
    assert_eq!(ids(&r), ["critical-resource"]);
    assert!(summaries(&r).contains("tag Environment=prod"));
    assert_eq!(outcome(&r), Outcome::Review);
    let c = change(
        "aws_instance.api",
        &["delete"],
        json!({"tags": {"Environment": "prod"}}),
        json!(null),
    );
    assert_eq!(outcome(&run(&plan(vec![c]), "agent:kiro")), Outcome::Deny);
}

fn drifted_sg() -> (serde_json::Value, serde_json::Value) {
    let open = json!({"id": "sg-9", "ingress": [sg_rule(8443, 8443, "tcp", &["0.0.0.0/0"], &[])]});
    let closed =
        json!({"id": "sg-9", "ingress": [sg_rule(8443, 8443, "tcp", &["10.0.0.0/8"], &[])]});
    (open, closed)
}

#[test]
fn reverts_a_manual_change_seen_as_drift() {
    let (open, closed) = drifted_sg();
    let drift = json!([change(
        "aws_security_group.api",
        &["update"],
        open.clone(),
        closed.clone()
    )]);
    let p = plan_with(
        vec![change("aws_security_group.api", &["update"], closed, open)],
        drift,
        json!({"root_module": {}}),
    );
    let r = run(&p, "pipeline:drift-bot");
    assert!(ids(&r).contains(&"reverts.manual-change"), "{:?}", ids(&r));
    assert!(summaries(&r).contains("puts back the values they had before a change made outside Terraform to aws_security_group.api (ingress)"));
    assert_eq!(outcome(&r), Outcome::Review);
    assert_eq!(r.changes[0].decision.approval.unwrap().approvers, 2);
}

#[test]
fn recreating_something_deleted_by_hand_is_a_revert() {
    let drift = json!([change(
        "aws_iam_access_key.leaked",
        &["delete"],
        json!({"user": "bob"}),
        json!(null)
    )]);
    let p = plan_with(
        vec![change(
            "aws_iam_access_key.leaked",
            &["create"],
            json!(null),
            json!({"user": "bob"}),
        )],
        drift,
        json!({"root_module": {}}),
    );
    let r = run(&p, "pipeline:drift-bot");
    assert!(
        summaries(&r).contains("the whole resource, deleted outside Terraform"),
        "{}",
        summaries(&r)
    );
}

#[test]
fn reverting_a_pin_is_denied_even_for_humans_and_expired_pins_do_not_count() {
    let (open, closed) = drifted_sg();
    let p = plan(vec![change(
        "aws_security_group.api",
        &["update"],
        closed,
        open,
    )]);
    let pins = |expires: &str| {
        parapet_gate::parse_pins(
            &format!(
                r#"
[[pin]]
id = "INC-9"
resource = "sg-9"
attribute = "ingress"
value = {{ from_port = 8443, cidr_blocks = ["0.0.0.0/0"] }}
mode = "excludes"
reason = "closed during the incident"
incident = "INC-9"
expires = "{expires}"
"#
            ),
            "pins.toml",
        )
        .unwrap()
    };
    let r = run_with(&p, "human:dana", pins("2030-01-01T00:00:00Z"), None);
    assert!(ids(&r).contains(&"reverts.pin"));
    assert!(summaries(&r)
        .contains("undoes pinned emergency change INC-9 to aws_security_group.api.ingress"));
    assert_eq!(outcome(&r), Outcome::Deny);
    let r = run_with(&p, "human:dana", pins("2020-01-01T00:00:00Z"), None);
    assert!(!ids(&r).contains(&"reverts.pin"));
    assert!(r.notes.iter().any(|n| n.contains("INC-9 expired")));
}

#[test]
fn pin_without_value_protects_the_current_value_and_unknown_is_possible() {
    let pins = parapet_gate::parse_pins("[[pin]]\nresource = \"aws_kms_key.k\"\nattribute = \"enable_key_rotation\"\nreason = \"r\"\n", "p").unwrap();
    let p = plan(vec![change(
        "aws_kms_key.k",
        &["update"],
        json!({"enable_key_rotation": true}),
        json!({"enable_key_rotation": false}),
    )]);
    assert!(ids(&run_with(&p, "agent:a", pins.clone(), None)).contains(&"reverts.pin"));
    let p = plan(vec![with_unknown(
        change(
            "aws_kms_key.k",
            &["update"],
            json!({"enable_key_rotation": true}),
            json!({}),
        ),
        json!({"enable_key_rotation": true}),
    )]);
    let r = run_with(&p, "agent:a", pins, None);
    assert!(summaries(&r).contains("may undo"), "{}", summaries(&r));
}

#[test]
fn incident_mode_stops_automation_and_names_the_incident() {
    let p = plan(vec![change(
        "aws_cloudwatch_log_group.l",
        &["create"],
        json!(null),
        json!({"name": "x"}),
    )]);
    assert_eq!(outcome(&run(&p, "agent:kiro")), Outcome::Allow);
    let r = run_with(&p, "agent:kiro", Vec::new(), Some("INC-4711"));
    assert_eq!(outcome(&r), Outcome::Deny);
    assert!(r.changes[0]
        .decision
        .policies
        .iter()
        .any(|p| p.reason.contains("Incident INC-4711 is open")));
    assert_eq!(
        outcome(&run_with(&p, "human:dana", Vec::new(), Some("INC-4711"))),
        Outcome::Review
    );
    // Reads are not writes.
    let mut read = change(
        "data.aws_iam_policy_document.d",
        &["read"],
        json!(null),
        json!({}),
    );
    read["mode"] = json!("data");
    assert_eq!(
        outcome(&run_with(
            &plan(vec![read]),
            "agent:kiro",
            Vec::new(),
            Some("INC-1")
        )),
        Outcome::Allow
    );
}

#[test]
fn sensitive_values_never_reach_the_report() {
    let mut c = change(
        "aws_db_instance.db",
        &["update"],
        json!({"password": "old-Secret-1", "instance_class": "a"}),
        json!({"password": "new-Secret-2", "instance_class": "b"}),
    );
    c["change"]["before_sensitive"] = json!({"password": true});
    c["change"]["after_sensitive"] = json!({"password": true});
    let unmarked = change(
        "aws_ssm_parameter.p",
        &["update"],
        json!({"value": "x", "api_key": "unmarked-Secret-3"}),
        json!({"value": "y", "api_key": "unmarked-Secret-4"}),
    );
    let r = run(&plan(vec![c, unmarked]), "human:a");
    let json = serde_json::to_string(&r).unwrap();
    for secret in [
        "old-Secret-1",
        "new-Secret-2",
        "unmarked-Secret-3",
        "unmarked-Secret-4",
    ] {
        assert!(!json.contains(secret), "{secret} leaked");
    }
    assert!(json.contains("(sensitive value)"));
}

#[test]
fn plan_decision_is_the_strictest() {
    let p = plan(vec![
        change(
            "aws_cloudwatch_log_group.l",
            &["create"],
            json!(null),
            json!({"name": "x"}),
        ),
        change("aws_instance.a", &["delete"], json!({}), json!(null)),
    ]);
    let r = run(&p, "agent:a");
    assert_eq!(r.decision.outcome, Outcome::Review);
    assert_eq!((r.counts.allow, r.counts.review, r.counts.deny), (1, 1, 0));
}
