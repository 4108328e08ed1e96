//! The index against the algorithm it replaced (kept here as the oracle), on generated
//! plans with modules, `count`/`for_each` instances and keys holding dots and brackets;
//! and module references (outputs, variables) that the old algorithm could not follow.

use super::PlanIndex;
use crate::raw;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// The quadratic algorithm as it was: every reference scans every change.
mod oracle {
    use serde_json::Value;
    use std::collections::HashMap;

    fn collect_module(m: Option<&Value>, prefix: &str, out: &mut HashMap<String, Value>) {
        let Some(m) = m else { return };
        for r in m
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(addr), Some(expr)) = (
                r.get("address").and_then(Value::as_str),
                r.get("expressions"),
            ) {
                out.insert(format!("{prefix}{addr}"), expr.clone());
            }
        }
        if let Some(calls) = m.get("module_calls").and_then(Value::as_object) {
            for (name, call) in calls {
                collect_module(call.get("module"), &format!("{prefix}module.{name}."), out);
            }
        }
    }

    pub fn strip_keys(address: &str) -> String {
        let mut out = String::with_capacity(address.len());
        let mut depth = 0;
        let mut in_str = false;
        for ch in address.chars() {
            match ch {
                '"' if depth > 0 => in_str = !in_str,
                '[' if !in_str => depth += 1,
                ']' if !in_str && depth > 0 => depth -= 1,
                _ if depth == 0 => out.push(ch),
                _ => {}
            }
        }
        out
    }

    fn module_prefix(address: &str) -> String {
        let parts: Vec<&str> = address.split('.').collect();
        let mut prefix = String::new();
        let mut i = 0;
        while i + 1 < parts.len() && parts[i] == "module" {
            prefix.push_str("module.");
            prefix.push_str(parts[i + 1]);
            prefix.push('.');
            i += 2;
        }
        prefix
    }

    pub fn references(
        addresses: &[String],
        config: &Value,
        address: &str,
        attr: &str,
    ) -> Vec<String> {
        let mut cfg = HashMap::new();
        collect_module(config.get("root_module"), "", &mut cfg);
        let Some(expr) = cfg.get(&strip_keys(address)).and_then(|e| e.get(attr)) else {
            return Vec::new();
        };
        let module = module_prefix(&strip_keys(address));
        let mut out: Vec<String> = Vec::new();
        let refs = expr.get("references").and_then(Value::as_array);
        for r in refs.into_iter().flatten().filter_map(Value::as_str) {
            let mut parts = r.splitn(3, '.');
            let (Some(t), Some(n)) = (parts.next(), parts.next()) else {
                continue;
            };
            let target = format!("{module}{t}.{n}");
            for c in addresses {
                if strip_keys(c) == target && !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

fn change(address: &str, rtype: &str) -> Value {
    json!({"address": address, "type": rtype, "name": "n", "change": {"actions": ["create"], "after": {}}})
}

fn plan(changes: Vec<Value>, root_module: Value) -> String {
    json!({"format_version": "1.2", "resource_changes": changes,
           "configuration": {"root_module": root_module}})
    .to_string()
}

/// Addresses `references` returns for each change, as sets.
fn new_answers(text: &str, attr: &str) -> Vec<(String, BTreeSet<String>)> {
    let p = raw::parse(text).unwrap();
    let changes = p.resource_changes.as_deref().unwrap_or_default();
    let index = PlanIndex::new(changes, &[], p.configuration);
    changes
        .iter()
        .map(|c| {
            let got = index
                .references(&c.address, attr)
                .iter()
                .map(|r| r.address.clone())
                .collect();
            (c.address.clone(), got)
        })
        .collect()
}

const TYPES: [&str; 3] = [
    "aws_iam_policy",
    "aws_iam_role",
    "aws_iam_role_policy_attachment",
];
const KEYS: [&str; 5] = ["", "[0]", "[1]", r#"["x.y"]"#, r#"["k]["]"#];

/// A generated plan: module instances (module calls `a`/`b`, up to two deep, with or
/// without instance keys), resources in each (some with `count`/`for_each` keys), and
/// configuration whose `policy_arn` expressions refer to resources by Terraform's
/// reference strings (plus ones nothing resolves: `var.x`, `local.y`, `count.index`).
fn arb_plan() -> impl Strategy<Value = String> {
    let module = prop::collection::vec((0..2usize, 0..KEYS.len()), 0..3);
    let resource = (module, 0..TYPES.len(), 0..2usize, 0..KEYS.len());
    let refs = prop::collection::vec((0..TYPES.len() + 3, 0..2usize, any::<bool>()), 0..4);
    (
        prop::collection::vec(resource, 1..40),
        prop::collection::vec(refs, 16),
    )
        .prop_map(|(resources, refs)| {
            let mut changes = Vec::new();
            let mut seen = BTreeSet::new();
            // Configuration per module path (no keys): resource address -> expressions.
            let mut modules: HashMap<String, BTreeSet<String>> = HashMap::new();
            for (path, t, n, k) in resources {
                let mut inst = String::new();
                let mut cfg = String::new();
                for (call, key) in &path {
                    let call = ["a", "b"][*call];
                    inst.push_str(&format!("module.{call}{}.", KEYS[*key]));
                    cfg.push_str(&format!("module.{call}."));
                }
                let rel = format!("{}.{}", TYPES[t], ["p", "q"][n]);
                let addr = format!("{inst}{rel}{}", KEYS[k]);
                if seen.insert(addr.clone()) {
                    changes.push(change(&addr, TYPES[t]));
                    modules.entry(cfg).or_default().insert(rel);
                }
            }
            let mut r = 0;
            let mut next_refs = || {
                r += 1;
                let list: Vec<Value> = refs[r % refs.len()]
                    .iter()
                    .flat_map(|&(t, n, attr)| {
                        let target = match t {
                            t if t < TYPES.len() => format!("{}.{}", TYPES[t], ["p", "q"][n]),
                            t => ["var.x", "local.y", "count.index"][t - TYPES.len()].to_string(),
                        };
                        if attr && t < TYPES.len() {
                            vec![json!(format!("{target}.arn")), json!(target)]
                        } else {
                            vec![json!(target)]
                        }
                    })
                    .collect();
                json!({"policy_arn": {"references": list}})
            };
            fn module(
                path: &str,
                modules: &HashMap<String, BTreeSet<String>>,
                next: &mut dyn FnMut() -> Value,
            ) -> Value {
                let resources: Vec<Value> = modules
                    .get(path)
                    .into_iter()
                    .flatten()
                    .map(|rel| json!({"address": rel, "expressions": next()}))
                    .collect();
                let mut calls = serde_json::Map::new();
                for call in ["a", "b"] {
                    let child = format!("{path}module.{call}.");
                    if modules.keys().any(|k| k.starts_with(&child)) {
                        calls.insert(
                            call.into(),
                            json!({"module": module(&child, modules, next)}),
                        );
                    }
                }
                json!({"resources": resources, "module_calls": calls})
            }
            let root = module("", &modules, &mut next_refs);
            plan(changes, root)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Same answers as the old algorithm, except that a reference now stays inside its
    /// own module instance (`module.a[0]`'s `aws_iam_policy.p` is not `module.a[1]`'s).
    #[test]
    fn index_answers_like_the_old_scan(text in arb_plan()) {
        let v: Value = serde_json::from_str(&text).unwrap();
        let addresses: Vec<String> = v["resource_changes"].as_array().unwrap().iter()
            .map(|c| c["address"].as_str().unwrap().to_string()).collect();
        let module_of = |a: &str| super::address::instance(a).unwrap().module.to_string();
        for (address, got) in new_answers(&text, "policy_arn") {
            let want: BTreeSet<String> = oracle::references(&addresses, &v["configuration"], &address, "policy_arn")
                .into_iter()
                .filter(|c| module_of(c) == module_of(&address))
                .collect();
            prop_assert_eq!(&got, &want, "references of {}", address);
        }
    }
}

#[test]
fn the_old_scan_mixed_module_instances_up() {
    // The case where the answers differ on purpose: two instances of one module call.
    let text = plan(
        vec![
            change(r#"module.a["x"].aws_iam_policy.p"#, "aws_iam_policy"),
            change(r#"module.a["y"].aws_iam_policy.p"#, "aws_iam_policy"),
            change(
                r#"module.a["x"].aws_iam_role_policy_attachment.t"#,
                "aws_iam_role_policy_attachment",
            ),
        ],
        json!({"module_calls": {"a": {"module": {"resources": [
            {"address": "aws_iam_role_policy_attachment.t",
             "expressions": {"policy_arn": {"references": ["aws_iam_policy.p.arn", "aws_iam_policy.p"]}}}]}}}}),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let addresses: Vec<String> = v["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    let attachment = r#"module.a["x"].aws_iam_role_policy_attachment.t"#;
    assert_eq!(
        oracle::references(&addresses, &v["configuration"], attachment, "policy_arn").len(),
        2
    );
    let answers: HashMap<_, _> = new_answers(&text, "policy_arn").into_iter().collect();
    assert_eq!(
        answers[attachment],
        BTreeSet::from([r#"module.a["x"].aws_iam_policy.p"#.to_string()])
    );
}

/// A service module called with `for_each`, a nested `logs` module with an output, a
/// variable set by the root module, and `count` instances referred to by key.
fn module_plan() -> String {
    let svc = |k: &str, rel: &str, t: &str| change(&format!(r#"module.svc["{k}"].{rel}"#), t);
    plan(
        vec![
            change("aws_iam_policy.shared[0]", "aws_iam_policy"),
            change("aws_iam_policy.shared[1]", "aws_iam_policy"),
            svc("a", "aws_iam_policy.this", "aws_iam_policy"),
            svc("b", "aws_iam_policy.this", "aws_iam_policy"),
            svc(
                "a",
                "aws_iam_role_policy_attachment.this",
                "aws_iam_role_policy_attachment",
            ),
            svc(
                "a",
                "aws_iam_role_policy_attachment.shared",
                "aws_iam_role_policy_attachment",
            ),
            svc(
                "a",
                "aws_iam_role_policy_attachment.logs",
                "aws_iam_role_policy_attachment",
            ),
            svc(
                "a",
                "aws_iam_role_policy_attachment.all",
                "aws_iam_role_policy_attachment",
            ),
            svc("a", "module.logs.aws_iam_policy.this", "aws_iam_policy"),
            svc("b", "module.logs.aws_iam_policy.this", "aws_iam_policy"),
            svc("a", "aws_instance.w[0]", "aws_instance"),
            svc("a", "aws_instance.w[1]", "aws_instance"),
            svc(
                "a",
                "aws_cloudwatch_metric_alarm.cpu",
                "aws_cloudwatch_metric_alarm",
            ),
            change(
                "aws_iam_role_policy_attachment.root",
                "aws_iam_role_policy_attachment",
            ),
            change(
                "aws_iam_role_policy_attachment.loop",
                "aws_iam_role_policy_attachment",
            ),
        ],
        json!({
            "resources": [
                {"address": "aws_iam_role_policy_attachment.root", "expressions": {"policy_arn": {"references": [
                    "module.svc[\"b\"].logs_policy_arn", "module.svc[\"b\"]", "module.svc"]}}},
                {"address": "aws_iam_role_policy_attachment.loop", "expressions": {"policy_arn": {"references": [
                    "module.svc.loop", "module.svc"]}}}
            ],
            "module_calls": {"svc": {
                "for_each_expression": {"references": ["local.services"]},
                "expressions": {"shared_policy_arn": {"references": [
                    "aws_iam_policy.shared[1].arn", "aws_iam_policy.shared[1]", "aws_iam_policy.shared"]}},
                "module": {
                    "outputs": {"logs_policy_arn": {"expression": {"references": ["module.logs.policy_arn", "module.logs"]}},
                                "loop": {"expression": {"references": ["var.loop"]}}},
                    "resources": [
                        {"address": "aws_iam_role_policy_attachment.this", "expressions": {"policy_arn": {"references": ["aws_iam_policy.this.arn", "aws_iam_policy.this"]}}},
                        {"address": "aws_iam_role_policy_attachment.shared", "expressions": {"policy_arn": {"references": ["var.shared_policy_arn"]}}},
                        {"address": "aws_iam_role_policy_attachment.logs", "expressions": {"policy_arn": {"references": ["module.logs.policy_arn", "module.logs"]}}},
                        {"address": "aws_iam_role_policy_attachment.all", "expressions": {"policy_arn": {"references": ["module.logs"]}}},
                        {"address": "aws_cloudwatch_metric_alarm.cpu", "expressions": {"dimensions": {"instance": {"references": [
                            "aws_instance.w[1].id", "aws_instance.w[1]", "aws_instance.w"]}}}}
                    ],
                    "module_calls": {"logs": {"module": {
                        "outputs": {"policy_arn": {"expression": {"references": ["aws_iam_policy.this.arn", "aws_iam_policy.this"]}},
                                    "name": {"expression": {"constant_value": "x"}}},
                        "resources": [{"address": "aws_iam_policy.this", "expressions": {"name": {"constant_value": "l"}}}]}}}
                }
            }}
        }),
    )
}

#[test]
fn follows_module_outputs_variables_and_instance_keys() {
    let text = module_plan();
    let p = raw::parse(&text).unwrap();
    let changes = p.resource_changes.as_deref().unwrap();
    let index = PlanIndex::new(changes, &[], p.configuration);
    let refs = |a: &str, attr: &str| -> Vec<String> {
        index
            .references(a, attr)
            .iter()
            .map(|c| c.address.clone())
            .collect()
    };
    // Same module instance only.
    assert_eq!(
        refs(
            r#"module.svc["a"].aws_iam_role_policy_attachment.this"#,
            "policy_arn"
        ),
        [r#"module.svc["a"].aws_iam_policy.this"#]
    );
    // A variable set by the root module, to one `count` instance.
    assert_eq!(
        refs(
            r#"module.svc["a"].aws_iam_role_policy_attachment.shared"#,
            "policy_arn"
        ),
        ["aws_iam_policy.shared[1]"]
    );
    // A child module's output, in this instance's child.
    assert_eq!(
        refs(
            r#"module.svc["a"].aws_iam_role_policy_attachment.logs"#,
            "policy_arn"
        ),
        [r#"module.svc["a"].module.logs.aws_iam_policy.this"#]
    );
    // The whole module object: every output.
    assert_eq!(
        refs(
            r#"module.svc["a"].aws_iam_role_policy_attachment.all"#,
            "policy_arn"
        ),
        [r#"module.svc["a"].module.logs.aws_iam_policy.this"#]
    );
    // Output of one named instance, through two modules.
    assert_eq!(
        refs("aws_iam_role_policy_attachment.root", "policy_arn"),
        [r#"module.svc["b"].module.logs.aws_iam_policy.this"#]
    );
    // A keyed reference inside a nested block.
    assert_eq!(
        refs(
            r#"module.svc["a"].aws_cloudwatch_metric_alarm.cpu"#,
            "dimensions"
        ),
        [r#"module.svc["a"].aws_instance.w[1]"#]
    );
    // Through every instance of `svc`, back to the root: found once each, and it ends.
    assert_eq!(
        refs("aws_iam_role_policy_attachment.loop", "policy_arn"),
        Vec::<String>::new()
    );
    // Nothing written, nothing found.
    assert!(refs("aws_iam_policy.shared[0]", "policy").is_empty());
    assert!(index
        .expression(
            r#"module.svc["b"].aws_iam_role_policy_attachment.this"#,
            "policy_arn"
        )
        .is_some());
}

#[test]
fn an_attachment_in_a_module_is_judged_by_the_policy_its_variable_names() {
    // The policy document comes from the root module through `var.shared_policy_arn`;
    // before module references were followed this was "a policy whose ARN is known
    // only after apply".
    let mut v: Value = serde_json::from_str(&module_plan()).unwrap();
    for c in v["resource_changes"].as_array_mut().unwrap() {
        if c["address"] == "aws_iam_policy.shared[1]" {
            c["change"]["after"] = json!({"name": "shared-admin", "policy":
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#});
        }
        if c["type"] == "aws_iam_role_policy_attachment" {
            c["change"]["after"] = json!({"role": "svc-a"});
            c["change"]["after_unknown"] = json!({"policy_arn": true});
        }
    }
    let out = crate::analyze_str(&v.to_string(), &crate::Options::default()).unwrap();
    let c = out
        .changes
        .iter()
        .find(|c| c.address == r#"module.svc["a"].aws_iam_role_policy_attachment.shared"#)
        .unwrap();
    let text = format!("{:?}", c.effects);
    assert!(text.contains("policy aws_iam_policy.shared[1]"), "{text}");
    assert!(text.contains("iam:*"), "{text}");
}

#[test]
fn a_reference_that_leads_to_no_policy_leaves_the_grant_unknown() {
    // `policy_arn = module.roles.arn` where the output is a role's ARN, not a policy's:
    // the reference resolves, but to no policy created here. That was no grant at all.
    let text = plan(
        vec![
            json!({"address": "module.roles.aws_iam_role.r", "type": "aws_iam_role", "name": "r",
                   "change": {"actions": ["create"], "after": {"name": "r", "assume_role_policy": "{}"}}}),
            json!({"address": "aws_iam_role_policy_attachment.a", "type": "aws_iam_role_policy_attachment", "name": "a",
                   "change": {"actions": ["create"], "after": {"role": "ci"}, "after_unknown": {"policy_arn": true}}}),
        ],
        json!({
            "resources": [{"address": "aws_iam_role_policy_attachment.a", "expressions": {
                "policy_arn": {"references": ["module.roles.arn", "module.roles"]}}}],
            "module_calls": {"roles": {"module": {
                "outputs": {"arn": {"expression": {"references": ["aws_iam_role.r.arn", "aws_iam_role.r"]}}},
                "resources": [{"address": "aws_iam_role.r", "expressions": {"name": {"constant_value": "r"}}}]}}}
        }),
    );
    let out = crate::analyze_str(&text, &crate::Options::default()).unwrap();
    let c = out
        .changes
        .iter()
        .find(|c| c.address == "aws_iam_role_policy_attachment.a")
        .unwrap();
    let text = format!("{:?}", c.effects);
    assert!(
        text.contains("a policy whose ARN is known only after apply"),
        "{text}"
    );
}
