//! `parapet proxy mcp` in front of the real AWS API MCP server (PyPI
//! awslabs.aws-api-mcp-server) pointed at moto server, driven by the Python MCP SDK's
//! client over stdio on both revisions of the specification. The AWS server speaks
//! only the initialize handshake (it needs mcp<2), so on 2026-07-28 the gateway is what
//! bridges the revisions: that client cannot talk to the server directly (checked).
//!
//! An allowed describe reaches moto; an agent's delete of a production database is
//! denied with a tool error naming the decision, never reaches moto, and the database
//! is still there. Every test ends with the no-leak check of the AWS server's
//! credentials ([`proxy_common::Stack::finish`]).

mod common;
mod mcp_common;
mod proxy_common;

use mcp_common::*;
use proxy_common::*;
use serde_json::{json, Value};

fn seed(m: &Mcp) -> String {
    m.s.moto.aws(&["s3", "mb", "s3://agent-data"]);
    m.s.moto.aws(&[
        "rds",
        "create-db-instance",
        "--db-instance-identifier",
        "prod-orders",
        "--engine",
        "postgres",
        "--db-instance-class",
        "db.t3.micro",
        "--master-username",
        "app",
        "--master-user-password",
        "not-a-real-password-1",
        "--allocated-storage",
        "20",
        "--tags",
        "Key=Environment,Value=production",
    ]);
    let i = m.s.moto.aws(&[
        "ec2",
        "run-instances",
        "--image-id",
        "ami-12c6146b",
        "--instance-type",
        "t3.micro",
    ]);
    i["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Requests moto received for this operation (by the query or JSON target).
fn reached(m: &Mcp, operation: &str) -> Vec<Value> {
    m.s.moto
        .recorded()
        .into_iter()
        .filter(|r| {
            let body = r["body"].as_str().unwrap_or("");
            let target = r["headers"]["X-Amz-Target"].as_str().unwrap_or("");
            body.contains(&format!("Action={operation}")) || target.ends_with(operation)
        })
        .collect()
}

#[test]
fn the_aws_server_answers_the_sdk_client_directly_on_the_handshake_revision_only() {
    let m = Mcp::start("direct", Opts::default());
    m.s.moto.aws(&["s3", "mb", "s3://direct-bucket"]);
    let steps = json!([
        {"op": "list"},
        {"op": "call", "tool": "call_aws", "args": {"cli_command": "aws s3api list-buckets"}}
    ]);
    let args = client_args("legacy", &steps, None, &Upstream::Aws.argv());
    let out = lines(&m.finished(m.run(&args), &args));
    assert_eq!(out[0]["protocol"], "2025-11-25", "{out:?}");
    let tools = out[0]["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t == "call_aws"), "{tools:?}");
    let buckets = aws_response(&out[1]);
    assert_eq!(buckets["Buckets"][0]["Name"], "direct-bucket", "{buckets}");

    // The 2026-07-28 client gets nowhere with it (the server refuses its requests):
    // the gateway has to bridge.
    let args = client_args("2026-07-28", &steps, None, &Upstream::Aws.argv());
    let out = lines(&m.finished(m.run(&args), &args));
    assert!(
        out.iter().all(|step| step["error"].is_object()),
        "every request refused: {out:?}"
    );
    m.finish();
}

#[test]
fn an_allowed_describe_reaches_moto_on_both_revisions() {
    let m = Mcp::start("allow", Opts::default());
    let instance = seed(&m);
    for mode in REVISIONS {
        m.s.moto.record();
        let out = m.steps(
            mode,
            Upstream::Aws,
            &[],
            json!([
                {"op": "list"},
                {"op": "call", "tool": "call_aws",
                 "args": {"cli_command": "aws ec2 describe-instances"}},
                {"op": "call", "tool": "call_aws",
                 "args": {"cli_command": "aws s3api list-buckets"}}
            ]),
        );
        let want = if mode == "legacy" { "2025-11-25" } else { mode };
        assert_eq!(out[0]["protocol"], want, "{mode}: {out:?}");
        let tools = out[0]["tools"].as_array().unwrap();
        assert!(tools.iter().any(|t| t == "call_aws"), "{mode}: {tools:?}");
        let ec2 = aws_response(&out[1]);
        assert_eq!(
            ec2["Reservations"][0]["Instances"][0]["InstanceId"], instance,
            "{mode}: {ec2}"
        );
        let s3 = aws_response(&out[2]);
        assert_eq!(s3["Buckets"][0]["Name"], "agent-data", "{mode}: {s3}");
        assert_eq!(reached(&m, "DescribeInstances").len(), 1, "{mode}");
    }
    m.finish();
}

#[test]
fn a_delete_of_the_production_database_is_denied_and_never_reaches_moto() {
    let m = Mcp::start("deny", Opts::default());
    seed(&m);
    let mut ids = Vec::new();
    for mode in REVISIONS {
        m.s.moto.record();
        let out = m.aws(
            mode,
            "aws rds delete-db-instance --db-instance-identifier prod-orders --skip-final-snapshot",
        );
        assert_eq!(out["is_error"], true, "{mode}: a tool error: {out}");
        let text = out["text"].as_str().unwrap();
        assert!(text.to_lowercase().contains("denied"), "{mode}: {text}");
        let id = decision_id(text);
        let d = m.s.decision(&id);
        assert_eq!(d["outcome"], "deny", "{mode}: {d}");
        assert_eq!(d["requester"], "agent:kiro", "{mode}: {d}");
        assert!(
            d["report"].to_string().contains("DeleteDBInstance"),
            "{mode}: the decision's report names the operation: {d}"
        );
        // The built-in pack's rule (10-destruction.cedar), in plain language.
        assert!(
            text.contains("Automation may not destroy"),
            "{mode}: the tool error gives the reason: {text}"
        );
        assert!(reached(&m, "DeleteDBInstance").is_empty(), "{mode}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "each call is its own decision");
    let dbs = m.s.moto.aws(&["rds", "describe-db-instances"]);
    assert_eq!(
        dbs["DBInstances"][0]["DBInstanceIdentifier"], "prod-orders",
        "{dbs}"
    );
    m.finish();
}

#[test]
fn the_gateway_as_a_service_judges_by_the_bearer_token_on_both_revisions() {
    let m = Mcp::start("http", Opts::default());
    let instance = seed(&m);
    // `--listen` with in-process judging on the decision service's database: the AWS
    // credentials live with the gateway, the agent has only its parapet token.
    let gw = m.listen(
        Upstream::Aws,
        &[
            "--database",
            m.s.db.to_str().unwrap(),
            "--public-url",
            &m.s.server.url(),
        ],
    );
    let url = format!("{}/mcp", gw.url());

    for mode in REVISIONS {
        let steps = json!([
            {"op": "call", "tool": "call_aws",
             "args": {"cli_command": "aws ec2 describe-instances"}},
            {"op": "call", "tool": "call_aws",
             "args": {"cli_command": "aws rds delete-db-instance --db-instance-identifier prod-orders --skip-final-snapshot"}}
        ]);
        let mut args = client_args(mode, &steps, None, &[]);
        args.pop(); // no command: the URL instead
        args.extend([
            "--url".into(),
            url.clone(),
            "--token".into(),
            m.token.clone(),
        ]);
        let out = lines(&m.finished(m.run(&args), &args));
        let ec2 = aws_response(&out[0]);
        assert_eq!(
            ec2["Reservations"][0]["Instances"][0]["InstanceId"], instance,
            "{mode}: {ec2}"
        );
        assert_eq!(out[1]["is_error"], true, "{mode}: {}", out[1]);
        let d = m.s.decision(&decision_id(out[1]["text"].as_str().unwrap()));
        assert_eq!(
            d["requester"], "agent:kiro",
            "{mode}: identity from the token"
        );

        // No token, or one nobody issued: refused (401) before anything is judged. On
        // the handshake revision the client cannot even start; on 2026-07-28 (no
        // handshake) every request fails on its own.
        for token in ["", "ppt_not-a-real-token"] {
            let mut args = client_args(mode, &steps, None, &[]);
            args.pop();
            args.extend(["--url".into(), url.clone(), "--token".into(), token.into()]);
            let o = m.run(&args);
            let refused = !o.status.success() || {
                let out = lines(&o);
                out.len() == 2 && out.iter().all(|step| step["error"].is_object())
            };
            assert!(
                refused,
                "{mode}: refused without a valid token: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
    let dbs = m.s.moto.aws(&["rds", "describe-db-instances"]);
    assert_eq!(dbs["DBInstances"].as_array().unwrap().len(), 1, "{dbs}");
    keep_text(&m.s, gw.output());
    drop(gw);
    m.finish();
}
