//! Property tests: the parser never panics, never allows what it could not read, and
//! exposure detection agrees with a direct statement of the rule.

mod common;
use common::*;
use parapet_model::Outcome;
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parapet_plan::analyze(&bytes, &parapet_plan::Options::default());
    }

    #[test]
    fn mutated_plans_error_or_decide(cut in 0usize..4000, flip in any::<u8>(), at in 0usize..4000) {
        let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/incident-plan.json")).unwrap();
        let at = at % bytes.len();
        bytes[at] ^= flip;
        let cut = bytes.len() - (cut % bytes.len());
        bytes.truncate(cut);
        // Either an error (exit 2) or a full decision; a decision on a damaged plan that
        // still denies what the intact plan denies is fine, but it must never panic.
        let _ = parapet_plan::analyze(&bytes, &parapet_plan::Options::default());
    }

    #[test]
    fn exposure_matches_the_rule(from in 0i64..65536, span in 0i64..2000, proto in prop::sample::select(vec!["tcp", "udp", "-1", "icmp", "6"]),
                                 octet in 0u8..=255, len in prop::sample::select(vec![0u8, 4, 8, 16, 24, 32])) {
        let to = (from + span).min(65535);
        let cidr = format!("{octet}.0.0.0/{len}");
        let rule = json!({"type": "ingress", "from_port": from, "to_port": to, "protocol": proto, "cidr_blocks": [cidr]});
        let r = run(&plan(vec![change("aws_security_group_rule.r", &["create"], json!(null), rule)]), "agent:a");
        let internet = len == 0;
        let all = proto == "-1";
        let tcp = proto == "tcp" || proto == "6";
        let admin = all || (tcp && [22, 3389, 5985, 5986, 2375, 2376, 6443, 10250].iter().any(|p| from <= *p && *p <= to));
        let ids = ids(&r);
        if internet {
            prop_assert!(!ids.is_empty(), "internet rule not reported");
            if admin {
                prop_assert_eq!(outcome(&r), Outcome::Deny);
            }
        }
        if ids.is_empty() {
            prop_assert!(!internet);
        }
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9:/*.%{}\\[\\]\" -]{0,24}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "GroupId",
                    "IpPermissions",
                    "ipRanges",
                    "items",
                    "CidrIp",
                    "FromPort",
                    "ToPort",
                    "IpProtocol",
                    "PolicyDocument",
                    "UserName",
                    "Principal",
                    "Add",
                    "Group",
                    "UserId",
                    "Policy",
                    "SkipFinalSnapshot"
                ])
                .prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn api_params_of_any_shape_never_panic(params in arb_json(), action in prop::sample::select(vec![
        "ec2:AuthorizeSecurityGroupIngress", "ec2:ModifySnapshotAttribute", "iam:PutRolePolicy", "iam:CreateRole",
        "s3:PutBucketPolicy", "lambda:AddPermission", "rds:DeleteDBInstance", "cloudtrail:StopLogging", "x:Y"])) {
        if let Ok(call) = parapet_gate::ApiCall::new(action, None, params) {
            let _ = parapet_aws::api::analyze_call(&call, None);
        }
    }

    #[test]
    fn an_internet_ingress_is_found_however_it_is_wrapped(port in 0u16..=65535, wrap in any::<bool>()) {
        let ranges = if wrap { json!({"items": [{"cidrIp": "0.0.0.0/0"}]}) } else { json!([{"CidrIp": "0.0.0.0/0"}]) };
        let params = json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": ranges}]});
        let a = parapet_aws::api::analyze_call(&parapet_gate::ApiCall::new("ec2:AuthorizeSecurityGroupIngress", None, params).unwrap(), None);
        prop_assert_eq!(a.effects.len(), 1);
    }

    #[test]
    fn pins_files_of_any_text_never_panic(text in "(\\[\\[pin\\]\\]\n|resource = \"[a-z_.]{0,12}\"\n|attribute = \"[a-z_.\\[\\]0-9]{0,12}\"\n|reason = \"r\"\n|value = [0-9]{1,3}\n|mode = \"[a-z]{0,8}\"\n|expires = \"[0-9T:Z-]{0,22}\"\n|[^\n]{0,20}\n){0,12}") {
        let _ = parapet_plan::parse_pins(&text, "p.toml");
    }
}
