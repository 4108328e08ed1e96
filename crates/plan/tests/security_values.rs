//! Security attributes with values parapet cannot read: never "no effect".

use parapet_model::{Certainty, Effect, ExposureScope};
use parapet_plan::{analyze_str, Options, PlanError};
use serde_json::{json, Value};

fn plan(rtype: &str, after: Value) -> String {
    json!({
        "format_version": "1.2",
        "resource_changes": [{
            "address": format!("{rtype}.x"),
            "mode": "managed",
            "type": rtype,
            "name": "x",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}}
        }]
    })
    .to_string()
}

fn sg_rule(cidrs: Value) -> String {
    plan(
        "aws_security_group_rule",
        json!({"type": "ingress", "protocol": "tcp", "from_port": 22, "to_port": 22,
               "security_group_id": "sg-1", "cidr_blocks": cidrs}),
    )
}

fn exposures(text: &str) -> Vec<(String, ExposureScope, Certainty)> {
    let a = analyze_str(text, &Options::default()).expect("plan reads");
    a.changes
        .iter()
        .flat_map(|c| c.effects.iter())
        .filter_map(|e| match e {
            Effect::NetworkExposure {
                source,
                scope,
                certainty,
                ..
            } => Some((source.clone(), *scope, *certainty)),
            _ => None,
        })
        .collect()
}

#[test]
fn unreadable_cidrs_are_unknown_exposures() {
    for bad in ["0.0.0.0/ 0", "0.0.0.0/0x0", "0.0.0.0", "::/0%eth0"] {
        let got = exposures(&sg_rule(json!([bad])));
        assert_eq!(got.len(), 1, "{bad}: {got:?}");
        assert_eq!(got[0].2, Certainty::UnknownUntilApply, "{bad}");
        assert!(got[0].0.contains(bad), "{bad}: {got:?}");
    }
}

#[test]
fn normalised_and_split_cidrs_are_the_internet() {
    for cidrs in [
        json!(["0.0.0.0/0.0.0.0"]),
        json!(["0.0.0.0/00"]),
        json!(["::ffff:0.0.0.0/96"]),
        json!(["0.0.0.0/1", "128.0.0.0/1"]),
    ] {
        let got = exposures(&sg_rule(cidrs.clone()));
        assert!(!got.is_empty(), "{cidrs}");
        assert!(
            got.iter()
                .all(|(_, s, c)| *s == ExposureScope::Internet && *c == Certainty::Known),
            "{cidrs}: {got:?}"
        );
    }
}

#[test]
fn wrong_typed_security_attributes_are_errors_naming_the_path() {
    let cases = [
        (sg_rule(json!("0.0.0.0/0")), "after.cidr_blocks"),
        (sg_rule(json!(0)), "after.cidr_blocks"),
        (sg_rule(json!({"a": "0.0.0.0/0"})), "after.cidr_blocks"),
        (sg_rule(json!([["0.0.0.0/0"]])), "after.cidr_blocks[0]"),
        (
            plan(
                "aws_security_group",
                json!({"ingress": {"cidr_blocks": ["0.0.0.0/0"]}}),
            ),
            "after.ingress",
        ),
        (
            plan(
                "aws_security_group",
                json!({"ingress": "[{\"cidr_blocks\":[\"0.0.0.0/0\"]}]"}),
            ),
            "after.ingress",
        ),
        (
            plan(
                "aws_security_group",
                json!({"ingress": [{"cidr_blocks": "0.0.0.0/0", "protocol": "-1"}]}),
            ),
            "after.ingress[0].cidr_blocks",
        ),
        (
            plan(
                "aws_vpc_security_group_ingress_rule",
                json!({"cidr_ipv4": ["0.0.0.0/0"]}),
            ),
            "after.cidr_ipv4",
        ),
    ];
    for (text, path) in cases {
        match analyze_str(&text, &Options::default()) {
            Err(e @ PlanError::BadValue { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("resource_changes[0].change.{path}")),
                    "{path}: {msg}"
                );
            }
            other => panic!("{path}: expected a BadValue error, got {other:?}"),
        }
    }
}
