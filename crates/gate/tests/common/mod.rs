#![allow(dead_code)]
use parapet_gate::{check_plan, GateOptions, Pin};
use parapet_model::{Actor, Outcome, PlanReport};
use parapet_plan::Options;
use parapet_policy::PolicyEngine;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub fn engine() -> &'static PolicyEngine {
    static E: OnceLock<PolicyEngine> = OnceLock::new();
    E.get_or_init(|| PolicyEngine::load(None).expect("built-in pack loads"))
}

/// One resource change in `terraform show -json` form.
pub fn change(address: &str, actions: &[&str], before: Value, after: Value) -> Value {
    let ty = address.rsplit('.').nth(1).unwrap_or(address);
    let ty = ty.split('[').next().unwrap();
    json!({
        "address": address, "mode": "managed", "type": ty, "name": "x",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {},
                   "before_sensitive": {}, "after_sensitive": {}}
    })
}

pub fn with_unknown(mut c: Value, unknown: Value) -> Value {
    c["change"]["after_unknown"] = unknown;
    c
}

pub fn plan(changes: Vec<Value>) -> Vec<u8> {
    plan_with(changes, json!([]), json!({"root_module": {}}))
}

pub fn plan_with(changes: Vec<Value>, drift: Value, configuration: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format_version": "1.2", "terraform_version": "1.9.8",
        "planned_values": {"root_module": {}},
        "resource_changes": changes, "resource_drift": drift, "configuration": configuration
    }))
    .unwrap()
}

pub fn run_with(bytes: &[u8], actor: &str, pins: Vec<Pin>, incident: Option<&str>) -> PlanReport {
    let opts = GateOptions {
        actor: Actor::parse(actor).unwrap(),
        incident: incident.map(String::from),
        plan: Options {
            pins,
            now: Some(1_795_329_175),
            ..Options::default()
        },
        input_name: "test.json".into(),
    };
    check_plan(bytes, &opts, engine()).expect("plan is valid")
}

pub fn run(bytes: &[u8], actor: &str) -> PlanReport {
    run_with(bytes, actor, Vec::new(), None)
}

/// Finding ids of the first change.
pub fn ids(r: &PlanReport) -> Vec<&'static str> {
    r.changes[0].findings.iter().map(|f| f.id).collect()
}

pub fn outcome(r: &PlanReport) -> Outcome {
    r.changes[0].decision.outcome
}

pub fn summaries(r: &PlanReport) -> String {
    r.changes
        .iter()
        .flat_map(|c| c.findings.iter().map(|f| f.summary.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
