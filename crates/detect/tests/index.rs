//! The event-name index must never hide a match: a rule whose `or` needs different
//! fields is found through each, is reported once when both hold, and a rule the index
//! cannot place is still evaluated on every event.

use parapet_detect::sigma::{rule::parse_file, Doc, Engine, StateLimits};
use serde_json::{json, Value};

const RULES: &str = r#"
title: either field
id: either
logsource: {product: aws, service: cloudtrail}
detection:
    effect:
        parapet.effects: 'defense-evasion'
    names:
        eventName: ['StopLogging', 'DeleteTrail']
    condition: effect or names
---
title: and of an or
id: and-or
logsource: {product: aws, service: cloudtrail}
detection:
    source:
        eventSource: iam.amazonaws.com
    names:
        eventName: CreateUser
    error:
        errorCode: null
    condition: error and (source or names)
---
title: not indexable
id: everywhere
logsource: {product: aws, service: cloudtrail}
detection:
    agent:
        userAgent|contains: 'evil'
    condition: agent
"#;

fn matches(engine: &Engine, raw: Value, extra: Value) -> Vec<String> {
    let mut out = Vec::new();
    engine.evaluate(
        &Doc {
            raw: &raw,
            extra: Some(&extra),
        },
        &mut out,
    );
    out.iter()
        .map(|&i| engine.rules()[i].meta.id.clone())
        .collect()
}

#[test]
fn an_or_across_fields_is_found_through_each() {
    let engine = Engine::new(parse_file("t", RULES).unwrap(), StateLimits::default()).unwrap();
    let everywhere: Vec<&str> = engine
        .evaluated_on_every_event()
        .iter()
        .map(|&i| engine.rules()[i].meta.id.as_str())
        .collect();
    assert_eq!(everywhere, ["everywhere"], "the others are indexed");
    let none = json!({"parapet": {"effects": []}});
    let evasion = json!({"parapet": {"effects": ["defense-evasion"]}});
    let call = |name: &str, source: &str| json!({"eventName": name, "eventSource": source});

    assert_eq!(
        matches(
            &engine,
            call("StopLogging", "cloudtrail.amazonaws.com"),
            none.clone()
        ),
        ["either"]
    );
    assert_eq!(
        matches(&engine, call("DescribeTrails", "x"), evasion.clone()),
        ["either"]
    );
    // Both branches hold: one match, not two.
    assert_eq!(
        matches(&engine, call("deletetrail", "x"), evasion),
        ["either"]
    );
    assert!(matches(&engine, call("DescribeTrails", "x"), none.clone()).is_empty());

    assert_eq!(
        matches(
            &engine,
            call("ListUsers", "iam.amazonaws.com"),
            none.clone()
        ),
        ["and-or"]
    );
    assert_eq!(
        matches(&engine, call("CreateUser", "other"), none.clone()),
        ["and-or"]
    );
    let mut failed = call("CreateUser", "iam.amazonaws.com");
    failed["errorCode"] = json!("AccessDenied");
    assert!(matches(&engine, failed, none.clone()).is_empty());

    let mut evil = call("GetObject", "s3.amazonaws.com");
    evil["userAgent"] = json!("Evil-Scanner/1.0");
    assert_eq!(matches(&engine, evil, none), ["everywhere"]);
}
