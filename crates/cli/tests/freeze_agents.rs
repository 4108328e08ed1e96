//! Detection feeds enforcement: a call `parapet proxy aws` forwards names its agent in
//! the user agent AWS records; when CloudTrail shows a high alert on such a call (logging
//! stopped), `trail scan --freeze-agents` freezes that agent, and the proxy refuses its
//! next call, the incident named. A record of any other identity that claims an agent is
//! not believed.

mod common;
mod proxy_common;

use common::http;
use proxy_common::*;
use serde_json::{json, Value};

const PROXY_USER: &str = "arn:aws:iam::111122223333:user/parapet-proxy";

fn record(arn: &str, ua: &str, id: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAPROXY", "arn": arn,
            "accountId": "111122223333", "accessKeyId": "AKIAPROXY00000000001", "userName": arn.rsplit('/').next().unwrap()},
        "eventTime": "2026-12-07T10:00:00Z", "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userAgent": ua, "requestParameters": {"name": "org-trail"}, "responseElements": null,
        "eventID": id, "readOnly": false, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

#[test]
fn an_agent_behind_a_high_alert_is_frozen_at_the_proxy() {
    let stack = Stack::start("freeze-agents", Opts::default());
    // The proxy names the agent in what it forwards (what CloudTrail would record).
    stack.moto.record();
    stack.agent_ok(&["iam", "list-users"]);
    let sent = stack.moto.recorded();
    let ua = sent
        .iter()
        .filter_map(|r| {
            r["headers"]["User-Agent"]
                .as_str()
                .or(r["headers"]["user-agent"].as_str())
        })
        .collect::<Vec<_>>();
    assert!(
        ua.iter().any(|u| u.ends_with("parapet-agent/agent:kiro")),
        "{ua:?}"
    );

    let pipeline = stack
        .admin_cli(&[
            "token",
            "create",
            "--name",
            "detect",
            "--role",
            "agent",
            "--actor",
            "pipeline:parapet-detect",
        ])
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let log = stack.dir.join("trail.json");
    std::fs::write(
        &log,
        json!({"Records": [
            record(PROXY_USER, "aws-cli/2.17.0 parapet-agent/agent:kiro", "e-kiro-stop", "StopLogging"),
            // Anyone can write a user agent: a record of another identity naming an
            // agent freezes nobody.
            record("arn:aws:iam::111122223333:user/intruder", "curl/8 parapet-agent/agent:victim", "e-forged", "DeleteTrail"),
        ]})
        .to_string(),
    )
    .unwrap();
    let o = parapet()
        .args(["trail", "scan"])
        .arg(&log)
        .args([
            "--freeze-agents",
            "--proxy-identity",
            PROXY_USER,
            "--server",
            &stack.server.url(),
            "--format",
            "jsonl",
        ])
        .env("PARAPET_TOKEN", &pipeline)
        .output()
        .unwrap();
    let err = stack.keep(&o);
    assert_eq!(o.status.code(), Some(1), "the alerts are found: {err}");
    assert!(err.contains("froze agent:kiro"), "{err}");
    assert!(err.contains("--freeze-agents: 1 agent(s) frozen"), "{err}");
    assert!(
        err.contains("1 record(s) named an agent but were not of --proxy-identity"),
        "{err}"
    );

    let (_, freezes) = http(
        stack.server.port,
        "GET",
        "/v1/freezes",
        Some(&stack.admin),
        None,
    );
    let text = freezes.to_string();
    assert!(
        text.contains("agent:kiro") && !text.contains("agent:victim"),
        "{text}"
    );
    // The proxy refuses the frozen agent's next call, saying why.
    let refused = stack.agent_refused(&["iam", "list-users"]);
    assert!(refused.to_lowercase().contains("frozen"), "{refused}");

    // Without --proxy-identity nothing is trusted: a usage error.
    let o = parapet()
        .args(["trail", "scan"])
        .arg(&log)
        .args(["--freeze-agents", "--server", &stack.server.url()])
        .env("PARAPET_TOKEN", &pipeline)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stack.keep(&o));
    // A typo in it would turn the feature off quietly: refused.
    let o = parapet()
        .args(["trail", "scan"])
        .arg(&log)
        .args([
            "--freeze-agents",
            "--proxy-identity",
            "parapet-proxy",
            "--server",
            &stack.server.url(),
        ])
        .env("PARAPET_TOKEN", &pipeline)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stack.keep(&o));
    assert!(stack.keep(&o).contains("not an IAM role or user ARN"));
    stack.finish();
}
