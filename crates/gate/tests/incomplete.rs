//! Issue 19: incomplete or mistyped plans are never read as complete or empty.

mod common;
use common::*;
use parapet_gate::{check_plan, GateOptions};
use parapet_model::{Actor, Outcome, PlanReport};
use parapet_plan::{Options, PlanError};
use serde_json::{json, Value};

fn check(v: &Value) -> Result<PlanReport, PlanError> {
    let opts = GateOptions {
        actor: Actor::parse("agent:kiro").unwrap(),
        incident: None,
        plan: Options::default(),
        input_name: "p.json".into(),
    };
    check_plan(&serde_json::to_vec(v).unwrap(), &opts, engine())
}

fn err(v: &Value) -> String {
    match check(v) {
        Ok(r) => panic!("accepted, decision {:?}", r.decision.outcome),
        Err(e) => e.to_string(),
    }
}

fn plan_value(changes: Vec<Value>) -> Value {
    serde_json::from_slice(&plan(changes)).unwrap()
}

#[test]
fn an_errored_plan_is_refused() {
    // What Terraform 1.5+ writes when planning failed half-way: nothing listed yet.
    let mut p = plan_value(vec![]);
    p["errored"] = json!(true);
    let e = err(&p);
    assert!(e.contains("incomplete") && e.contains("errored"), "{e}");
    assert!(matches!(check(&p), Err(PlanError::Errored)));
    // With the changes planned before the failure, too.
    let mut p = plan_value(vec![change(
        "aws_s3_bucket.a",
        &["create"],
        json!(null),
        json!({"bucket": "a"}),
    )]);
    p["errored"] = json!(true);
    assert!(matches!(check(&p), Err(PlanError::Errored)));
    // `errored: false` is an ordinary plan; a non-boolean is an error naming it.
    p["errored"] = json!(false);
    assert_eq!(check(&p).unwrap().decision.outcome, Outcome::Allow);
    p["errored"] = json!("true");
    assert!(err(&p).contains("errored"));
}

#[test]
fn incomplete_plans_say_so() {
    let mut p = plan_value(vec![]);
    p["complete"] = json!(false);
    let r = check(&p).unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("incomplete")),
        "{:?}",
        r.notes
    );
}

#[test]
fn values_of_the_wrong_type_are_errors_naming_the_path() {
    let cases = [
        ("after", json!("{\"bucket\": \"a\"}"), "a string"),
        ("after", json!(42), "a number"),
        ("after", json!([{"bucket": "a"}]), "an array"),
        ("before", json!("x"), "a string"),
        ("after_unknown", json!("true"), "a string"),
        ("before_sensitive", json!(1), "a number"),
        ("after_sensitive", json!([]), "an array"),
    ];
    for (field, value, found) in cases {
        let mut c = change(
            "aws_db_instance.db",
            &["delete"],
            json!({"identifier": "db"}),
            json!(null),
        );
        c["change"][field] = value;
        let e = err(&plan_value(vec![c]));
        assert!(
            e.contains(&format!("resource_changes[0].change.{field}"))
                && e.contains("aws_db_instance.db")
                && e.contains(found),
            "{field}: {e}"
        );
    }
    // The same for drift entries.
    let drift = json!([{"address": "aws_s3_bucket.a", "mode": "managed", "type": "aws_s3_bucket", "name": "a",
        "change": {"actions": ["update"], "before": {}, "after": "nope"}}]);
    let p: Value = serde_json::from_slice(&plan_with(vec![], drift, json!({}))).unwrap();
    assert!(err(&p).contains("resource_drift[0].change.after"));
    // Markers may be booleans, as Terraform writes them.
    let mut c = change(
        "aws_s3_bucket.a",
        &["create"],
        json!(null),
        json!({"bucket": "a"}),
    );
    c["change"]["before_sensitive"] = json!(false);
    c["change"]["after_unknown"] = json!(true);
    assert!(check(&plan_value(vec![c])).is_ok());
}

#[test]
fn terraform_1_0_drift_entries_without_address_are_read() {
    // Terraform 0.15.4 to 1.0.0 wrote resource_drift entries without `address`
    // (hashicorp/terraform#28975): the address is built from the parts.
    let drift = json!([{
        "module_address": "module.net", "mode": "managed", "type": "aws_security_group_rule",
        "name": "ssh", "index": 0, "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["update"],
            "before": {"cidr_blocks": ["10.0.0.0/8"], "from_port": 22, "to_port": 22, "protocol": "tcp", "type": "ingress"},
            "after": {"cidr_blocks": ["192.0.2.10/32"], "from_port": 22, "to_port": 22, "protocol": "tcp", "type": "ingress"}}
    }]);
    let mut c = change(
        "module.net.aws_security_group_rule.ssh[0]",
        &["update"],
        json!({"cidr_blocks": ["192.0.2.10/32"], "from_port": 22, "to_port": 22, "protocol": "tcp", "type": "ingress"}),
        json!({"cidr_blocks": ["10.0.0.0/8"], "from_port": 22, "to_port": 22, "protocol": "tcp", "type": "ingress"}),
    );
    c["type"] = json!("aws_security_group_rule");
    let mut p: Value = serde_json::from_slice(&plan_with(vec![c], drift, json!({}))).unwrap();
    p["format_version"] = json!("0.2");
    p["terraform_version"] = json!("1.0.0");
    let r = check(&p).unwrap();
    let ids: Vec<&str> = r.changes[0].findings.iter().map(|f| f.id).collect();
    assert!(ids.contains(&"reverts.manual-change"), "{ids:?}");
    // A drift entry with nothing to build an address from is an error.
    let bad = json!([{"mode": "managed", "change": {"actions": ["update"]}}]);
    let p: Value = serde_json::from_slice(&plan_with(vec![], bad, json!({}))).unwrap();
    assert!(err(&p).contains("resource_drift[0]"));
    // resource_changes entries must have an address.
    let mut c = change("aws_s3_bucket.a", &["create"], json!(null), json!({}));
    c.as_object_mut().unwrap().remove("address");
    assert!(err(&plan_value(vec![c])).contains("resource_changes[0].address"));
}

#[test]
fn changes_parapet_cannot_place_are_reviewed() {
    let mut c = change(
        "aws_s3_bucket.a",
        &["update"],
        json!({"bucket": "a"}),
        json!({"bucket": "b"}),
    );
    c["mode"] = json!("ephemeral-ish");
    let r = check(&plan_value(vec![c])).unwrap();
    assert_eq!(r.decision.outcome, Outcome::Review, "{:?}", r.decision);
    assert_eq!(r.changes[0].findings[0].id, "unknown.resource-type");
    let mut c = change(
        "aws_s3_bucket.a",
        &["create"],
        json!(null),
        json!({"bucket": "a"}),
    );
    c["type"] = json!("");
    assert_eq!(
        check(&plan_value(vec![c])).unwrap().decision.outcome,
        Outcome::Review
    );
}

mod value_types {
    use super::*;
    use proptest::prelude::*;

    fn any_kind() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z{}\\[\\]\"]{0,6}".prop_map(Value::from),
            Just(json!([])),
            Just(json!([{"from_port": 22}])),
            Just(json!({"cidr_blocks": ["0.0.0.0/0"]})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever type each value has, the plan is either read (the types Terraform
        /// writes) or refused naming the first mistyped value's path; never read as empty.
        #[test]
        fn every_value_type_is_accepted_or_named(
            kinds in prop::collection::vec(any_kind(), 5),
        ) {
            let fields = ["before", "after", "after_unknown", "before_sensitive", "after_sensitive"];
            let mut c = change("aws_security_group.web", &["update"], json!({}), json!({}));
            for (f, v) in fields.iter().zip(&kinds) {
                c["change"][*f] = v.clone();
            }
            let bad = fields.iter().zip(&kinds).find(|(f, v)| match v {
                Value::Null | Value::Object(_) => false,
                Value::Bool(_) => matches!(**f, "before" | "after"),
                _ => true,
            });
            match (check(&plan_value(vec![c])), bad) {
                (Ok(_), None) => {}
                (Err(e), Some((f, _))) => {
                    let e = e.to_string();
                    prop_assert!(e.contains(&format!("resource_changes[0].change.{f} (aws_security_group.web)")), "{}", e);
                }
                (r, bad) => prop_assert!(false, "{:?} for {:?}", r.map(|r| r.decision.outcome), bad),
            }
        }
    }
}
