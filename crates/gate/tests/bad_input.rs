//! Every kind of bad input is a clear error naming what and where; none is "allow".

mod common;
use common::*;
use parapet_gate::{check_plan, GateOptions};
use parapet_model::Actor;
use parapet_plan::{Options, PlanError};

fn check(bytes: &[u8]) -> Result<parapet_model::PlanReport, PlanError> {
    let opts = GateOptions {
        actor: Actor::parse("agent:kiro").unwrap(),
        incident: None,
        plan: Options::default(),
        input_name: "bad.json".into(),
    };
    check_plan(bytes, &opts, engine())
}

fn err(bytes: &[u8]) -> String {
    match check(bytes) {
        Ok(r) => panic!("accepted bad input, decision {:?}", r.decision.outcome),
        Err(e) => e.to_string(),
    }
}

#[test]
fn not_json() {
    let e = err(b"this is not json");
    assert!(e.contains("line 1, column 2"), "{e}");
    assert_eq!(e.matches("line").count(), 1, "{e}");
}

#[test]
fn empty_and_whitespace() {
    assert_eq!(err(b""), "the plan is empty");
    assert_eq!(err(b"\n\n  \t"), "the plan is empty");
}

#[test]
fn binary_plan_file() {
    let e = err(b"PK\x03\x04\x14\x00\x00\x00tfplan");
    assert!(e.contains("terraform show -json"), "{e}");
}

#[test]
fn random_binary() {
    let e = err(&[0x00, 0x01, 0xff, 0xfe, 0x80, 0x00, 0x02]);
    assert!(e.contains("not text") || e.contains("encoding"), "{e}");
}

#[test]
fn invalid_utf8_names_the_byte() {
    let e = err(b"{\"format_version\": \"1.2\", \"x\": \"\xc3\x28\"}");
    assert!(e.contains("byte 32"), "{e}");
}

#[test]
fn utf16_with_bom_is_read() {
    let text = String::from_utf8(plan(vec![])).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    assert!(check(&bytes).is_ok());
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/plans/checkov/plan_with_utf_16_encoding/tfplan.json"
    ))
    .unwrap();
    let r = check(&bytes).unwrap();
    assert_eq!(
        r.decision.outcome,
        parapet_model::Outcome::Deny,
        "the UTF-16 plan grants * on *"
    );
}

#[test]
fn unknown_major_format_version() {
    let e = err(br#"{"format_version": "2.0", "resource_changes": []}"#);
    assert!(e.contains("format_version 2.0 is not supported"), "{e}");
    let e = err(br#"{"resource_changes": []}"#);
    assert!(e.contains("no format_version"), "{e}");
}

#[test]
fn truncated_says_so_with_position() {
    let full = plan(vec![change(
        "aws_s3_bucket.b",
        &["create"],
        serde_json::json!(null),
        serde_json::json!({"bucket": "b"}),
    )]);
    let cut = &full[..full.len() / 2];
    match check(cut) {
        Err(PlanError::Json {
            truncated, line, ..
        }) => {
            assert!(truncated);
            assert_eq!(line, 1);
        }
        other => panic!("expected a truncation error, got {other:?}"),
    }
}

#[test]
fn missing_keys_name_the_json_path() {
    let e = err(br#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "change": {"before": null}}]}"#);
    assert!(e.contains("resource_changes[0].change"), "{e}");
    assert!(e.contains("actions"), "{e}");
    let e = err(br#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "change": {"actions": "create"}}]}"#);
    assert!(e.contains("resource_changes[0].change.actions"), "{e}");
}

#[test]
fn unknown_action_combination_is_rejected() {
    let e = err(br#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "change": {"actions": ["explode"]}}]}"#);
    assert!(e.contains("resource_changes[0] (a.b)"), "{e}");
}

#[test]
fn deeply_nested() {
    let head = r#"{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "change": {"actions": ["create"], "after": {"x": "#;
    // Truncated inside the nesting: located error.
    let mut s = String::from(head);
    s.push_str(&"[".repeat(100_000));
    let e = err(s.as_bytes());
    assert!(e.contains("resource_changes[0].change.after"), "{e}");
    // Complete but hostile: stopped by the nesting limit, not the stack.
    let mut s = String::from(head);
    s.push_str(&"[".repeat(100_000));
    s.push_str(&"]".repeat(100_000));
    s.push_str("}}}]}");
    let e = err(s.as_bytes());
    assert!(e.contains("recursion limit"), "{e}");
    assert!(e.contains("a.b"), "{e}");
}

#[test]
fn state_file_and_shapeless_json() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/plans/checkov/plan/corrupted-tfplan.json"
    ))
    .unwrap();
    assert!(err(&bytes).contains("state file"));
    assert!(err(br#"{"format_version": "1.0"}"#).contains("not a Terraform plan"));
    let array = err(b"[]");
    assert!(
        array.contains("a Terraform plan is a JSON object") && array.contains("an array"),
        "{array}"
    );
}

#[test]
fn malformed_policy_document_is_unknown_not_fine() {
    let p = plan(vec![change(
        "aws_iam_role_policy.p",
        &["create"],
        serde_json::json!(null),
        serde_json::json!({"role": "r", "policy": "{not json"}),
    )]);
    let r = check(&p).unwrap();
    assert_eq!(r.changes[0].findings[0].id, "privilege.unknown");
    assert_ne!(r.decision.outcome, parapet_model::Outcome::Allow);
    assert!(r.notes.iter().any(|n| n.contains("not valid JSON")));
}

#[test]
fn large_plan_is_read() {
    // ~25 MB: thousands of changes with bulky attributes.
    let blob = "x".repeat(5_000);
    let changes = (0..5_000)
        .map(|i| {
            change(
                &format!("aws_s3_object.o{i}"),
                &["create"],
                serde_json::json!(null),
                serde_json::json!({"key": i, "content": blob}),
            )
        })
        .collect();
    let r = check(&plan(changes)).unwrap();
    assert_eq!(r.counts.changes, 5_000);
}
