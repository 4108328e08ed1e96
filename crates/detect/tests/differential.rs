//! Differential test: the SigmaHQ `rules/cloud/aws/cloudtrail` set, loaded by parapet's
//! engine and by rsigma (crates.io), must give the same matches on the same events:
//! the real Stratus Red Team detonations plus events built from every rule's own
//! selections (each field set, then each field left out or changed), so every rule is
//! exercised on both sides of its condition.

mod common;

use parapet_detect::sigma::{self, Doc, Engine, StateLimits};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Events that exercise the rules: for each selection map, one event with every field
/// set to a value the rule names, and variants with one field removed or changed.
fn synthesized(rules_dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for f in common::files(rules_dir, "yml") {
        let y: yaml_serde::Value =
            yaml_serde::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let det = y.get("detection").unwrap().as_mapping().unwrap();
        let mut maps = Vec::new();
        for (k, v) in det {
            if k.as_str() == Some("condition") {
                continue;
            }
            match v {
                yaml_serde::Value::Mapping(m) => maps.push(m.clone()),
                yaml_serde::Value::Sequence(xs) => {
                    maps.extend(xs.iter().filter_map(|x| x.as_mapping().cloned()))
                }
                _ => {}
            }
        }
        // Combine the first selection with each other one, so `a and b` can match.
        let base = maps.first().cloned().unwrap_or_default();
        let mut combos = vec![base.clone()];
        for m in maps.iter().skip(1) {
            let mut c = base.clone();
            c.extend(m.clone());
            combos.push(c);
        }
        for m in combos {
            let fields: Vec<(String, Value)> = m
                .iter()
                .map(|(k, v)| {
                    let key = k.as_str().unwrap();
                    let (field, mods) = key.split_once('|').unwrap_or((key, ""));
                    let first = match v {
                        yaml_serde::Value::Sequence(xs) => xs.first().cloned().unwrap_or_default(),
                        other => other.clone(),
                    };
                    let value = match first {
                        yaml_serde::Value::String(s) => {
                            let s = s.replace('*', "");
                            let s = if mods.contains("contains") {
                                format!("x{s}y")
                            } else if mods.contains("startswith") {
                                format!("{s}tail")
                            } else if mods.contains("endswith") {
                                format!("head{s}")
                            } else if mods.contains("re") {
                                "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1".to_string()
                            } else {
                                s
                            };
                            Value::String(s)
                        }
                        yaml_serde::Value::Null => Value::Null,
                        yaml_serde::Value::Bool(b) => Value::Bool(b),
                        yaml_serde::Value::Number(n) => json!(n.as_f64()),
                        _ => Value::Null,
                    };
                    (field.to_string(), value)
                })
                .collect();
            let make = |skip: Option<usize>, alter: Option<usize>| {
                let mut ev = json!({
                    "eventTime": "2024-08-01T13:52:02Z",
                    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice"},
                    "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15"
                });
                for (i, (f, v)) in fields.iter().enumerate() {
                    if Some(i) == skip || v.is_null() {
                        continue;
                    }
                    let v = if Some(i) == alter {
                        Value::String("SomethingElse".into())
                    } else {
                        v.clone()
                    };
                    set(&mut ev, f, v);
                }
                ev
            };
            out.push(make(None, None));
            for i in 0..fields.len() {
                out.push(make(Some(i), None));
                out.push(make(None, Some(i)));
            }
            // The same with a failure and a role session.
            let mut failed = make(None, None);
            failed["errorCode"] = json!("AccessDenied");
            failed["userIdentity"] = json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"});
            out.push(failed);
        }
    }
    out
}

fn set(ev: &mut Value, path: &str, v: Value) {
    let mut cur = ev;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            cur.as_object_mut().unwrap().insert(p.to_string(), v);
            return;
        }
        let obj = cur.as_object_mut().unwrap();
        if !obj.get(*p).is_some_and(Value::is_object) {
            obj.insert(p.to_string(), Value::Object(Map::new()));
        }
        cur = obj.get_mut(*p).unwrap();
    }
}

#[test]
fn sigmahq_cloudtrail_rules_match_like_rsigma() {
    let dir = root().join("tests/data/sigmahq");
    let ours = sigma::load_dir(&dir).expect("every SigmaHQ CloudTrail rule loads");
    assert_eq!(ours.len(), 57);
    let engine = Engine::new(ours, StateLimits::default()).unwrap();

    let theirs = common::rsigma(&dir);
    assert_eq!(theirs.rule_count(), 57);

    let mut events = common::stratus_records(&root().join("../../testdata/cloudtrail/stratus"));
    let real = events.len();
    events.extend(synthesized(&dir));

    let (mut agree, mut matched_rules, mut hits) = (0, BTreeSet::new(), 0);
    let mut scratch = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        engine.evaluate(
            &Doc {
                raw: ev,
                extra: None,
            },
            &mut scratch,
        );
        let mine: BTreeSet<String> = scratch
            .iter()
            .map(|&r| engine.rules()[r].meta.id.clone())
            .collect();
        let event = rsigma_eval::JsonEvent::borrow(ev);
        let other: BTreeSet<String> = theirs
            .evaluate(&event)
            .into_iter()
            .filter_map(|r| r.header.rule_id)
            .collect();
        assert_eq!(
            mine,
            other,
            "event {i} ({}): parapet vs rsigma\n{ev:#}",
            if i < real { "stratus" } else { "synthesized" }
        );
        agree += 1;
        hits += mine.len();
        matched_rules.extend(mine);
    }
    // The corpus must exercise the rules, or agreement means nothing.
    assert!(events.len() > 500, "{}", events.len());
    assert!(
        matched_rules.len() >= 50,
        "only {} rules ever matched: {matched_rules:?}",
        matched_rules.len()
    );
    eprintln!(
        "{agree} events agree; {hits} matches over {} rules",
        matched_rules.len()
    );
}
