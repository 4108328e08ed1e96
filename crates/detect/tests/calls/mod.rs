//! CloudTrail records built by hand for technique tests, and a detector to run them
//! through (shared by `techniques.rs` and `more_techniques.rs`).
#![allow(dead_code)]

use parapet_detect::{Config, Detector};
use serde_json::{json, Value};

pub const T0: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z

pub fn event(i: i64, who: &Value, source: &str, name: &str, req: Value, extra: Value) -> Value {
    let mut v = json!({
        "eventVersion": "1.10", "userIdentity": who,
        "eventTime": parapet_model::time::rfc3339_ms(T0 + i * 1_000),
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "Boto3/1.35.0",
        "requestParameters": req, "responseElements": null,
        "eventID": format!("t-{i:06}"), "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    });
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            v.insert(k.clone(), x.clone());
        }
    }
    v
}

/// A call with no fields beyond the usual ones.
pub fn call(i: i64, who: &Value, source: &str, name: &str, req: Value) -> Value {
    event(i, who, source, name, req, json!({}))
}

pub fn rules_raised(events: Vec<Value>) -> Vec<String> {
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut out = Vec::new();
    for v in events {
        let e = parapet_trail::Event::from_value(v).unwrap();
        out.extend(d.process(&e).into_iter().map(|a| a.rule_id));
    }
    out
}

pub fn user(name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::111122223333:user/{name}"),
           "accountId": "111122223333", "accessKeyId": format!("AKIA{:0>16}", name.len()), "userName": name})
}

pub fn pipeline() -> Value {
    json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/gha-terraform/GitHubActions",
           "accountId": "111122223333", "accessKeyId": "ASIAPIPELINE",
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/gha-terraform", "userName": "gha-terraform"}}})
}

pub fn raised(events: Vec<Value>, rule: &str) -> bool {
    rules_raised(events).iter().any(|r| r == rule)
}
