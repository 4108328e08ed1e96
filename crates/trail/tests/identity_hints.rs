//! The identity pass remembers where `userIdentity.type` and
//! `userIdentity.sessionContext.sessionIssuer.type` lie, so rules asking for them skip a
//! scan. What such a lookup finds must be exactly what a scan of the record finds, for
//! any shape of `userIdentity`: duplicate keys, escaped keys, arrays and scalars on the
//! path, missing parts.

use parapet_trail::lazy::LazyRecord;
use parapet_trail::Nested;
use proptest::prelude::*;

const PATHS: [&str; 3] = [
    "userIdentity.type",
    "userIdentity.sessionContext.sessionIssuer.type",
    "userIdentity.sessionContext.sessionIssuer.arn",
];

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"Role\"",
        "\"AssumedRole\"",
        "\"IAMUser\"",
        "1",
        "null",
        "[\"Role\"]",
        "{\"type\": \"Role\"}",
    ])
    .prop_map(String::from)
}

fn key(name: &'static str) -> impl Strategy<Value = String> {
    // The key as written, or with its first letter escaped.
    any::<bool>().prop_map(move |escaped| {
        if escaped {
            format!("\"\\u{:04x}{}\"", name.as_bytes()[0], &name[1..])
        } else {
            format!("\"{name}\"")
        }
    })
}

fn object(entries: Vec<String>) -> String {
    format!("{{{}}}", entries.join(", "))
}

fn issuer() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![
                (key("type"), value()).prop_map(|(k, v)| format!("{k}: {v}")),
                (key("arn"), value()).prop_map(|(k, v)| format!("{k}: {v}")),
                value().prop_map(|v| format!("\"userName\": {v}")),
            ],
            0..4,
        )
        .prop_map(object),
        1 => value(),
        1 => Just("[{\"type\": \"Role\"}]".to_string()),
    ]
}

fn session_context() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![
                (key("sessionIssuer"), issuer()).prop_map(|(k, v)| format!("{k}: {v}")),
                Just("\"attributes\": {\"mfaAuthenticated\": \"false\"}".to_string()),
            ],
            0..3,
        )
        .prop_map(object),
        1 => value(),
        1 => Just("[{\"sessionIssuer\": {\"type\": \"Role\"}}]".to_string()),
    ]
}

fn user_identity() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(
            prop_oneof![
                (key("type"), value()).prop_map(|(k, v)| format!("{k}: {v}")),
                (key("sessionContext"), session_context()).prop_map(|(k, v)| format!("{k}: {v}")),
                Just("\"arn\": \"arn:aws:sts::1:assumed-role/r/s\"".to_string()),
            ],
            0..5,
        )
        .prop_map(object),
        1 => value(),
    ]
}

fn found(n: Nested) -> String {
    match n {
        Nested::Found(v) => format!("found {v}"),
        Nested::Missing => "missing".into(),
        Nested::Unresolved => "unresolved".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    #[test]
    fn hinted_lookups_equal_a_scan(ui in user_identity()) {
        let text = format!(
            r#"{{"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "eventTime": "2026-11-02T09:00:00Z", "userIdentity": {ui}}}"#
        );
        let (events, skipped) = parapet_trail::read_all("t", text.as_bytes());
        prop_assert!(skipped.is_empty(), "{:?}", skipped);
        let event = &events[0];
        let scanned = LazyRecord::parse(&text).unwrap();
        for path in PATHS {
            let parts: Vec<&str> = path.split('.').collect();
            prop_assert_eq!(
                found(event.record.nested(path, &parts)),
                found(scanned.nested(path, &parts)),
                "{} in {}", path, ui
            );
        }
    }
}
