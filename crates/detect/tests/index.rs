//! The rule index must never hide a match: a rule whose `or` needs different fields is
//! found through each and reported once when both hold; flags, error codes, prefixes
//! and fields that must be there place rules too; a rule the index cannot place is
//! still evaluated on every event; and on random events the index finds exactly what
//! evaluating every rule finds.

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
title: needs a user agent
id: agent
logsource: {product: aws, service: cloudtrail}
detection:
    agent:
        userAgent|contains: 'evil'
    condition: agent
---
title: not indexable
id: everywhere
logsource: {product: aws, service: cloudtrail}
detection:
    keywords: ['xyzzy-marker']
    condition: keywords
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
    assert_eq!(matches(&engine, evil, none.clone()), ["agent"]);
    let mut marked = call("GetObject", "s3.amazonaws.com");
    marked["requestParameters"] = json!({"key": "xyzzy-marker"});
    assert_eq!(matches(&engine, marked, none), ["everywhere"]);
}

/// Rules with no event name at all, each placed by something else it cannot match
/// without: the matcher's semantics (case, booleans and numbers as text, arrays at any
/// depth) hold through the index.
const OTHER_KEYS: &str = r#"
title: flag
id: flag
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        parapet.newSourceIp: true
    condition: selection
---
title: error code
id: denied
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        errorCode: ['AccessDenied', 'UnauthorizedOperation']
    condition: selection
---
title: prefix
id: prefix
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName|startswith: ['List', 'Describe']
    filter:
        eventSource: sts.amazonaws.com
    condition: selection and not filter
---
title: number
id: number
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        requestParameters.port: '22'
    condition: selection
---
title: both effects
id: both
logsource: {product: aws, service: cloudtrail}
detection:
    admin:
        parapet.effects: privilege.admin
    open:
        parapet.effects|startswith: 'exposure.'
    condition: admin and open
---
title: via
id: via
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        parapet.via|contains: 'its role'
    condition: selection
"#;

#[test]
fn flags_errors_prefixes_and_presence_place_rules() {
    let engine = Engine::new(parse_file("t", OTHER_KEYS).unwrap(), StateLimits::default()).unwrap();
    assert!(
        engine.evaluated_on_every_event().is_empty(),
        "every rule here is indexed"
    );
    let plain = json!({"parapet": {"effects": [], "newSourceIp": false, "via": null}});
    let ev = |name: &str| json!({"eventName": name, "eventSource": "ec2.amazonaws.com"});
    assert!(matches(&engine, ev("RunInstances"), plain.clone()).is_empty());

    // A boolean flag, as a boolean or as the texts the matcher reads as true.
    for flag in [json!(true), json!("YES"), json!("1")] {
        let extra = json!({"parapet": {"newSourceIp": flag}});
        assert_eq!(matches(&engine, ev("RunInstances"), extra), ["flag"]);
    }
    let mut denied = ev("RunInstances");
    denied["errorCode"] = json!("accessdenied");
    assert_eq!(matches(&engine, denied, plain.clone()), ["denied"]);

    assert_eq!(
        matches(&engine, ev("describeInstances"), plain.clone()),
        ["prefix"]
    );
    let mut sts = ev("ListRoles");
    sts["eventSource"] = json!("sts.amazonaws.com");
    assert!(matches(&engine, sts, plain.clone()).is_empty());

    // A number is matched as its text, inside arrays at any depth.
    let mut port = ev("AuthorizeSecurityGroupIngress");
    port["requestParameters"] = json!({"port": [[22]]});
    assert_eq!(matches(&engine, port, plain.clone()), ["number"]);

    // Two branches met by two different values of one field.
    let effects = json!({"parapet": {"effects": ["exposure.network", "privilege.admin"]}});
    assert_eq!(matches(&engine, ev("RunInstances"), effects), ["both"]);

    let via = json!({"parapet": {"via": "changed the function, then ran as its role"}});
    assert_eq!(matches(&engine, ev("RunInstances"), via), ["via"]);
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec![
                "ListUsers",
                "listusers",
                "DescribeInstances",
                "GetObject",
                "CreateUser",
                "CREATEUSER",
                "StopLogging",
                "AccessDenied",
                "accessdenied",
                "automation",
                "iam.amazonaws.com",
                "sts.amazonaws.com",
                "exposure.network",
                "privilege.admin",
                "privilege.escalation",
                "defense-evasion",
                "true",
                "yes",
                "0",
                "22",
                "p4d.24xlarge",
                "then ran as its role",
                "Evil-Scanner/1.0",
                "",
                "İstanbul",
                "GetCallerIdentity",
                "PutObject",
                "RunInstances",
            ])
            .prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            prop::sample::select(vec![0i64, 1, 22, 443]).prop_map(Value::from),
            Just(Value::Null),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        word().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::vec(inner, 0..2).prop_map(|vs| {
                    let m: serde_json::Map<String, Value> = ["instanceType", "port"]
                        .iter()
                        .map(|k| k.to_string())
                        .zip(vs)
                        .collect();
                    Value::Object(m)
                }),
            ]
        })
    }

    /// An object with some of `keys`, each a random value.
    fn record(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
        prop::collection::vec(prop::option::of(value()), keys.len()).prop_map(move |vs| {
            let m: serde_json::Map<String, Value> = keys
                .iter()
                .zip(vs)
                .filter_map(|(k, v)| Some((k.to_string(), v?)))
                .collect();
            Value::Object(m)
        })
    }

    const RAW: &[&str] = &[
        "eventName",
        "eventSource",
        "errorCode",
        "userAgent",
        "requestParameters",
        "sourceIPAddress",
    ];
    const EXTRA: &[&str] = &[
        "actor",
        "actorType",
        "eventName",
        "effects",
        "newSourceIp",
        "newUserAgent",
        "revertsHumanChange",
        "via",
    ];

    fn engine() -> Engine {
        let mut rules = parapet_detect::pack::builtin();
        rules.extend(parse_file("index", RULES).unwrap());
        rules.extend(parse_file("other", OTHER_KEYS).unwrap());
        Engine::new(rules, StateLimits::default()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn the_index_finds_what_every_rule_finds(
            raw in record(RAW),
            extra in record(EXTRA),
        ) {
            thread_local!(static ENGINE: Engine = engine());
            let extra = json!({"parapet": extra});
            let doc = Doc { raw: &raw, extra: Some(&extra) };
            let (mut indexed, mut every) = (Vec::new(), Vec::new());
            ENGINE.with(|e| {
                e.evaluate(&doc, &mut indexed);
                e.evaluate_every_rule(&doc, &mut every);
            });
            prop_assert_eq!(indexed, every);
        }
    }
}
