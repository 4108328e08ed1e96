//! The envelope of an oversized line, read while it streams past, agrees with what a
//! JSON parser reads from the whole message: the same top-level id and the same
//! "is it a request" for any member order, any nesting of look-alike `id` and `method`
//! keys inside, and any split of the bytes.

use parapet_mcp::gateway::lines::{Line, LineSplitter};
use proptest::prelude::*;
use rmcp::model::RequestId;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(json!("}\"id\":1,{")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("method".to_string()),
                    "[a-z]{1,6}".prop_map(String::from)
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..i64::MAX).prop_map(|n| json!(n)),
        "[a-zA-Z0-9_-]{1,12}".prop_map(Value::String),
    ]
}

proptest! {
    #[test]
    fn the_envelope_matches_the_parsed_message(
        id in proptest::option::of(arb_id()),
        method in proptest::option::of("[a-z/]{1,12}"),
        body in arb_json(),
        order in Just(()).prop_perturb(|_, mut rng| {
            let mut v: Vec<usize> = (0..5).collect();
            for i in (1..v.len()).rev() {
                v.swap(i, (rng.next_u32() as usize) % (i + 1));
            }
            v
        }),
        step in 1usize..64,
        spaced in any::<bool>(),
    ) {
        let sep = if spaced { " : " } else { ":" };
        let mut members = [
            Some(format!("\"jsonrpc\"{sep}\"2.0\"")),
            id.as_ref().map(|id| format!("\"id\"{sep}{id}")),
            method.as_ref().map(|m| format!("\"method\"{sep}{}", json!(m))),
            Some(format!("\"result\"{sep}{body}")),
            Some(format!("\"pad\"{sep}\"{}\"", "x".repeat(40))),
        ];
        let text = format!(
            "{{{}}}\n",
            order.iter().filter_map(|&i| members[i].take()).collect::<Vec<_>>().join(", ")
        );
        let parsed: Value = serde_json::from_str(text.trim()).unwrap();
        let mut split = LineSplitter::new(32);
        let mut got = Vec::new();
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            let (used, line) = split.push(&rest[..rest.len().min(step)]);
            prop_assert!(used > 0);
            rest = &rest[used..];
            got.extend(line);
        }
        prop_assert_eq!(got.len(), 1);
        let Line::Oversized { len, envelope } = &got[0] else {
            panic!("not oversized: {got:?}");
        };
        prop_assert_eq!(*len, text.len() - 1);
        let want: Option<RequestId> = parsed.get("id").map(|v| serde_json::from_value(v.clone()).unwrap());
        prop_assert_eq!(&envelope.id, &want);
        prop_assert_eq!(envelope.has_method, parsed.get("method").is_some());
    }
}
