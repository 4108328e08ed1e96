//! Calls through the gateway on both specification revisions: forwarding, hidden tools,
//! deny, review with elicitation (2025-11-25 request, 2026-07-28 input_required),
//! progress, pending, and passthrough of resources and prompts.

mod gateway_common;

use gateway_common::*;
use rmcp::model::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn allowed_hidden_and_passthrough(rev: Rev) {
    let s = stdio_session(stdio_server(), rev, false, settings()).await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert!(names.contains(&"echo".to_string()), "{names:?}");
    assert!(
        !names.contains(&"admin".to_string()),
        "admin must be hidden: {names:?}"
    );

    let r = s
        .client
        .call_tool(call("echo", json!({"text": "hi"})))
        .await
        .expect("echo");
    assert_eq!(text_of(&r), "hi");
    assert_ne!(r.is_error, Some(true));

    // A hidden tool called anyway is refused, and never reaches the server.
    let r = s
        .client
        .call_tool(call("admin", json!({})))
        .await
        .expect("admin");
    assert_eq!(r.is_error, Some(true));
    assert!(text_of(&r).contains("dec_hidden"), "{}", text_of(&r));

    let r = s.client.call_tool(call("calls", json!({}))).await.unwrap();
    assert_eq!(text_of(&r), "2", "only echo and calls ran upstream");

    let res = s.client.list_all_resources().await.expect("resources/list");
    assert_eq!(res[0].uri, "test://hello");
    let read = s
        .client
        .read_resource(ReadResourceRequestParams::new("test://hello"))
        .await
        .expect("resources/read");
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => assert_eq!(text, "hello, world"),
        other => panic!("unexpected {other:?}"),
    }
    let prompts = s.client.list_all_prompts().await.expect("prompts/list");
    assert_eq!(prompts[0].name, "greet");
    s.client.cancel().await.unwrap();
    s.served.await.unwrap().expect("gateway ends cleanly");
}

#[tokio::test]
async fn allowed_hidden_and_passthrough_2025() {
    allowed_hidden_and_passthrough(Rev::V2025).await;
}

#[tokio::test]
async fn allowed_hidden_and_passthrough_2026() {
    allowed_hidden_and_passthrough(Rev::V2026).await;
}

async fn deny_names_the_decision(rev: Rev) {
    let s = stdio_session(stdio_server(), rev, true, settings()).await;
    let r = s
        .client
        .call_tool(call("delete_db", json!({"id": "prod"})))
        .await
        .expect("a denied call is a tool result, not a protocol error");
    assert_eq!(r.is_error, Some(true));
    let t = text_of(&r);
    assert!(t.contains("dec_deny1"), "{t}");
    assert!(
        t.contains("deleting the production database is forbidden"),
        "{t}"
    );
    let r = s.client.call_tool(call("calls", json!({}))).await.unwrap();
    assert_eq!(text_of(&r), "1", "the denied call never reached the server");
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn deny_names_the_decision_2025() {
    deny_names_the_decision(Rev::V2025).await;
}

#[tokio::test]
async fn deny_names_the_decision_2026() {
    deny_names_the_decision(Rev::V2026).await;
}

/// Without elicitation the call waits (--hold), then answers pending with the
/// decision and the approval URL; once approved, the same call retried runs.
async fn review_pending_then_retry(rev: Rev) {
    let mut set = settings();
    set.hold = Duration::from_millis(300);
    let s = stdio_session(stdio_server(), rev, false, set).await;
    let r = s
        .client
        .call_tool(call("delete_db", json!({"id": "staging"})))
        .await
        .expect("pending is a tool result");
    assert_eq!(r.is_error, Some(true));
    let t = text_of(&r);
    assert!(t.contains("dec_review1") && t.contains(APPROVAL_URL), "{t}");
    let status = r.structured_content.as_ref().unwrap()["parapet"]["status"].clone();
    assert_eq!(status, "pending");
    assert!(
        s.seen.progress.load(Ordering::SeqCst) > 0,
        "progress while it waited"
    );

    s.gate.approved.store(true, Ordering::SeqCst);
    let r = s
        .client
        .call_tool(call("delete_db", json!({"id": "staging"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "deleted staging");
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn review_pending_then_retry_2025() {
    review_pending_then_retry(Rev::V2025).await;
}

#[tokio::test]
async fn review_pending_then_retry_2026() {
    review_pending_then_retry(Rev::V2026).await;
}

/// With elicitation the client is shown the approval link (URL mode); the approval
/// arrives while the call waits and the call runs.
async fn review_with_elicitation(rev: Rev) {
    let s = stdio_session(stdio_server(), rev, true, settings()).await;
    let r = s
        .client
        .call_tool(call("delete_db", json!({"id": "staging"})))
        .await
        .expect("the call completes after approval");
    assert_eq!(text_of(&r), "deleted staging");
    let shown = s.seen.elicitations.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    match &shown[0] {
        ElicitRequestParams::UrlElicitationParams { url, message, .. } => {
            assert_eq!(url, APPROVAL_URL);
            assert!(message.contains("dec_review1"), "{message}");
            assert!(message.contains("would be destroyed"), "{message}");
        }
        other => panic!("expected URL mode: {other:?}"),
    }
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn review_with_elicitation_2025() {
    review_with_elicitation(Rev::V2025).await;
}

#[tokio::test]
async fn review_with_elicitation_2026() {
    review_with_elicitation(Rev::V2026).await;
}

#[tokio::test]
async fn upstream_progress_reaches_the_client() {
    let s = stdio_session(stdio_server(), Rev::V2025, false, settings()).await;
    let r = s
        .client
        .call_tool(call("slow", json!({"millis": 150})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "slept");
    // Notifications may trail the result by a moment.
    for _ in 0..100 {
        if s.seen.progress.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.seen.progress.load(Ordering::SeqCst), 3);
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn http_upstream_works_on_both_revisions() {
    let (url, _server) = http_server().await;
    for rev in [Rev::V2025, Rev::V2026] {
        let spec = parapet_mcp::gateway::UpstreamSpec::Url {
            url: url.clone(),
            bearer: None,
        };
        let s = stdio_session(spec, rev, false, settings()).await;
        let r = s
            .client
            .call_tool(call("echo", json!({"text": "over http"})))
            .await
            .unwrap();
        assert_eq!(text_of(&r), "over http", "{rev:?}");
        let r = s
            .client
            .call_tool(call("delete_db", json!({"id": "prod"})))
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(true), "{rev:?}");
        s.client.cancel().await.unwrap();
    }
}
