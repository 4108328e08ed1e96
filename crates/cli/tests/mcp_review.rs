//! Tools parapet cannot map, and tools policy forbids, through `parapet proxy mcp` in
//! front of a small server made with the Python `mcp` SDK (server.py), on both
//! revisions of the specification.
//!
//! A tool nobody mapped is held for review, never run silently: the client gets a
//! pending answer naming the decision and its approval page, the server never sees the
//! call, a retry attaches to the same request, and once approved the retry runs, once.
//! A tool a policy forbids the agent whatever its arguments is missing from
//! `tools/list`, and refused when called anyway.

mod common;
mod mcp_common;
mod proxy_common;

use mcp_common::*;
use proxy_common::*;
use serde_json::json;

/// Added to the built-in pack: agents may never crash the deploy server. Unmapped
/// tools are judged with resource type `mcp:<server>` and address
/// `mcp://<server>/<tool>`.
const HIDE: &str = r#"
@id("deny-agents-crash-tool")
@reason("Agents may not stop the deploy server.")
forbid (principal, action, resource)
when {
  principal.kind == "agent" &&
  resource.type == "mcp:deploy" &&
  resource.address == "mcp://deploy/crash"
};
"#;

#[test]
fn an_unmapped_tool_is_held_for_review_and_runs_once_approved() {
    let m = Mcp::start("unmapped", Opts::default());
    let mut seen: Vec<String> = Vec::new();
    for (mode, version) in REVISIONS.into_iter().zip(["1.2", "1.3"]) {
        let args = json!({"service": "api", "environment": "production", "version": version});
        let call = || {
            let steps = json!([{"op": "call", "tool": "deploy_service", "args": args}]);
            m.steps(mode, Upstream::Test, &["--hold", "1s"], steps)
                .remove(0)
        };
        let held = call();
        assert_eq!(held["is_error"], true, "{mode}: nothing ran: {held}");
        assert_eq!(
            held["structured"]["parapet"]["status"], "pending",
            "{mode}: {held}"
        );
        let text = held["text"].as_str().unwrap();
        let id = decision_id(text);
        assert!(
            text.contains(&format!("{}/ui/decisions/{id}", m.s.server.url())),
            "{mode}: the approval page: {text}"
        );
        assert!(!seen.contains(&id), "{mode}: a new request");
        seen.push(id.clone());
        let d = m.s.decision(&id);
        assert_eq!(d["outcome"], "review", "{mode}: {d}");
        assert_eq!(d["state"], "pending", "{mode}: {d}");
        assert_eq!(d["requester"], "agent:kiro", "{mode}: {d}");
        assert!(
            d["report"].to_string().contains("deploy_service"),
            "{mode}: the request shows the tool: {d}"
        );
        assert!(
            m.reached_test_server()
                .iter()
                .all(|c| c["args"]["version"] != version),
            "{mode}: the server never saw it"
        );

        let again = call();
        assert_eq!(
            decision_id(again["text"].as_str().unwrap()),
            id,
            "{mode}: a retry attaches to the same request"
        );

        // As many approvers as the request wants.
        let need = d["approval"]["approvers_required"].as_u64().unwrap();
        for t in [&m.s.alice, &m.s.bob].into_iter().take(need as usize) {
            let (status, v) = m.s.vote(t, &id, "approve");
            assert_eq!(status, 200, "{mode}: {v}");
        }
        let done = call();
        assert_eq!(done["is_error"], false, "{mode}: {done}");
        assert_eq!(
            done["text"],
            format!("deployed api {version} to production"),
            "{mode}"
        );
        assert_eq!(m.s.decision(&id)["state"], "executed", "{mode}");
        let ran: Vec<_> = m
            .reached_test_server()
            .into_iter()
            .filter(|c| c["args"]["version"] == version)
            .collect();
        assert_eq!(ran.len(), 1, "{mode}: ran once: {ran:?}");
    }
    m.finish();
}

#[test]
fn a_tool_policy_forbids_is_hidden_and_refused_when_called_anyway() {
    let m = Mcp::start(
        "hidden",
        Opts {
            pack: &[("80-mcp-deploy.cedar", HIDE)],
            ..Opts::default()
        },
    );
    for mode in REVISIONS {
        let out = m.steps(
            mode,
            Upstream::Test,
            &[],
            json!([
                {"op": "list"},
                {"op": "call", "tool": "crash", "args": {}}
            ]),
        );
        let tools: Vec<&str> = out[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(!tools.contains(&"crash"), "{mode}: hidden: {tools:?}");
        assert!(
            tools.contains(&"echo") && tools.contains(&"deploy_service"),
            "{mode}: the others are listed: {tools:?}"
        );
        // Called anyway (a client that remembers it, or guesses): refused, and the
        // server (which would have exited) is still there for the session.
        let refused = &out[1];
        let text = refused["text"]
            .as_str()
            .or(refused["error"]["message"].as_str())
            .unwrap_or_default();
        assert!(
            refused["is_error"] == true || refused["error"].is_object(),
            "{mode}: refused: {refused}"
        );
        assert!(
            text.contains("Agents may not stop the deploy server"),
            "{mode}: the refusal gives the policy's reason: {refused}"
        );
        assert!(
            m.reached_test_server().iter().all(|c| c["tool"] != "crash"),
            "{mode}: never reached the server"
        );
    }
    m.finish();
}

/// A hidden tool whose mapping needs arguments is refused whatever the arguments: with
/// arguments the mapping cannot read (missing, null, of the wrong type) it is not held
/// for review, where an approval could let it run.
#[test]
fn a_hidden_tool_is_refused_whatever_its_arguments() {
    // Mapped to deleting a database, which the built-in pack refuses agents whatever
    // the database: hidden, and the action is known without the arguments.
    let m = Mcp::start("hidden-args", Opts::default());
    let mappings = m.s.dir.join("deploy.toml");
    std::fs::write(
        &mappings,
        r#"servers = ["deploy"]
[[tools]]
name = ["deploy_service"]
action = "rds:DeleteDBInstance"
resource = "arn:aws:rds:us-east-1:111122223333:db:{/service}"
"#,
    )
    .unwrap();
    let mappings = mappings.display().to_string();
    for mode in REVISIONS {
        let calls: Vec<serde_json::Value> = [
            json!({}),
            json!({"environment": null, "service": "api"}),
            json!({"environment": {"x": 1}, "service": []}),
            json!({"environment": "prod", "service": "orders-db", "version": "1.2"}),
        ]
        .into_iter()
        .map(|args| json!({"op": "call", "tool": "deploy_service", "args": args}))
        .collect();
        let mut steps = vec![json!({"op": "list"})];
        steps.extend(calls);
        let out = m.steps(
            mode,
            Upstream::Test,
            &["--mappings", &mappings],
            json!(steps),
        );
        let tools: Vec<&str> = out[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(
            !tools.contains(&"deploy_service"),
            "{mode}: hidden: {tools:?}"
        );
        for r in &out[1..] {
            let text = r["text"]
                .as_str()
                .or(r["error"]["message"].as_str())
                .unwrap_or_default();
            assert!(
                text.contains("parapet denied deploy_service"),
                "{mode}: refused, not held for review: {r}"
            );
        }
        assert!(
            m.reached_test_server()
                .iter()
                .all(|c| c["tool"] != "deploy_service"),
            "{mode}: never reached the server"
        );
    }
    m.finish();
}
