//! What a hostile or careless client (and a careless server) tries: a tool that does not
//! exist, an id reused while its request is in flight, another token's session, an
//! answer over the limit, and what each revision of the specification may be sent.

mod gateway_common;

use gateway_common::*;
use parapet_mcp::gateway::{Gateway, Settings};
use parapet_mcp::Caller;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::DuplexStream;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines, ReadHalf, WriteHalf};

/// The gateway on pipes and a client that writes lines and reads answers.
struct Raw {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    write: WriteHalf<DuplexStream>,
    gate: Arc<Scripted>,
}

impl Raw {
    async fn start(set: Settings) -> Raw {
        let gate = Arc::new(Scripted::default());
        let gateway = Gateway::start(gate.clone(), &stdio_server(), None, set)
            .await
            .unwrap();
        let (client_io, gateway_io) = tokio::io::duplex(1 << 16);
        let (read, write) = tokio::io::split(gateway_io);
        let caller = Caller {
            actor: "agent:test".into(),
        };
        tokio::spawn(gateway.serve_stdio(caller, read, write));
        let (cr, cw) = tokio::io::split(client_io);
        Raw {
            lines: BufReader::new(cr).lines(),
            write: cw,
            gate,
        }
    }

    async fn send(&mut self, v: Value) {
        let mut line = v.to_string().into_bytes();
        line.push(b'\n');
        self.write.write_all(&line).await.unwrap();
    }

    /// The next answer (notifications skipped); a hang guard, not a timing.
    async fn answer(&mut self) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .expect("the gateway answers")
                .unwrap()
                .expect("the gateway is still there");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    async fn initialize(&mut self, version: &str) -> Value {
        self.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .await;
        let reply = self.answer().await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        reply
    }
}

#[tokio::test]
async fn a_tool_the_server_does_not_have_is_unknown_and_never_judged() {
    let s = stdio_session(stdio_server(), Rev::V2025, false, settings()).await;
    let e = s
        .client
        .call_tool(call("drop_everything", json!({"id": "prod"})))
        .await
        .expect_err("an unknown tool is an error");
    let text = e.to_string();
    assert!(
        text.contains("unknown tool") && text.contains("drop_everything"),
        "{text}"
    );
    assert!(
        text.contains("-32602") || text.contains("Invalid params") || text.contains("invalid"),
        "{text}"
    );
    assert_eq!(
        s.gate.judged.load(Ordering::SeqCst),
        0,
        "nothing judged, no approval opened"
    );
    // A real tool is still judged and runs (the list was read once, on demand).
    let r = s
        .client
        .call_tool(call("echo", json!({"text": "here"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "here");
    assert_eq!(s.gate.judged.load(Ordering::SeqCst), 1);
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_id_reused_while_its_request_is_in_flight_is_refused() {
    let mut raw = Raw::start(settings()).await;
    raw.initialize("2025-11-25").await;
    let slow = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "slow", "arguments": {"millis": 1500}}})
    };
    raw.send(slow(7)).await;
    raw.send(slow(7)).await;
    let first = raw.answer().await;
    assert_eq!(first["id"], 7);
    assert_eq!(first["error"]["code"], -32600, "{first}");
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{first}"
    );
    let second = raw.answer().await;
    assert_eq!(second["id"], 7);
    assert!(
        second["result"].is_object(),
        "the first request still runs: {second}"
    );
    assert_eq!(
        raw.gate.judged.load(Ordering::SeqCst),
        1,
        "the duplicate was never judged"
    );
    // Once answered, the id may be used again.
    raw.send(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}))
        .await;
    let again = raw.answer().await;
    assert!(again["result"].is_object(), "{again}");
}

#[tokio::test]
async fn errors_name_json_rpc_not_the_sdk_types() {
    let mut raw = Raw::start(settings()).await;
    raw.initialize("2025-11-25").await;
    for (bad, says) in [
        (
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            "\"jsonrpc\" must be \"2.0\"",
        ),
        (
            json!({"jsonrpc": "2.0", "id": true, "method": "ping"}),
            "\"id\" must be",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 2, "method": 5}),
            "\"method\" must be a string",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 3}),
            "a message needs a \"method\"",
        ),
    ] {
        raw.send(bad.clone()).await;
        let reply = raw.answer().await;
        let message = reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(reply["error"]["code"], -32600, "{bad} -> {reply}");
        assert!(message.contains(says), "{bad} -> {message}");
        for sdk in ["JsonRpc", "ClientRequest", "untagged", "enum", "struct"] {
            assert!(!message.contains(sdk), "{bad} -> {message}");
        }
    }
}

#[tokio::test]
async fn an_answer_over_the_limit_fails_its_call_at_once_with_the_reason() {
    let set = Settings {
        // Long enough that a timeout could not be mistaken for the limit.
        call_timeout: Duration::from_secs(60),
        max_message: 1 << 20,
        ..settings()
    };
    let s = stdio_session(stdio_server(), Rev::V2026, false, set).await;
    let e = s
        .client
        .call_tool(call("flood", json!({})))
        .await
        .expect_err("an 8 MiB answer over a 1 MiB limit is an error");
    let text = e.to_string();
    assert!(
        text.contains("exceeds the gateway's limit of 1048576 bytes"),
        "{text}"
    );
    let r = s
        .client
        .call_tool(call("echo", json!({"text": "ok"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "ok", "the session goes on");
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn each_revision_gets_its_own_shape_and_no_subscriptions_are_promised() {
    // The upstream speaks 2026-07-28 with the gateway, so its lists carry caching hints.
    let mut raw = Raw::start(settings()).await;
    let init = raw.initialize("2025-11-25").await;
    let caps = &init["result"]["capabilities"];
    assert!(caps["resources"].is_object(), "{init}");
    assert!(
        caps["resources"].get("subscribe").is_none(),
        "not relayed, not promised: {init}"
    );
    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    let list = raw.answer().await;
    let result = list["result"].as_object().expect("a result");
    for member in ["ttlMs", "cacheScope", "resultType"] {
        assert!(
            !result.contains_key(member),
            "2026-07-28 member {member} sent to a 2025-11-25 client: {list}"
        );
    }
    raw.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe",
        "params": {"uri": "test://hello"}}),
    )
    .await;
    let sub = raw.answer().await;
    assert_eq!(sub["error"]["code"], -32601, "{sub}");

    // A 2026-07-28 client: the list is filtered for its caller, so private.
    let s = stdio_session(stdio_server(), Rev::V2026, false, settings()).await;
    let tools = s.client.list_tools(None).await.unwrap();
    let v = serde_json::to_value(&tools).unwrap();
    assert_eq!(v["cacheScope"], "private", "{v}");
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_session_id_is_no_use_with_another_token() {
    let gate = Arc::new(Scripted::default());
    let gateway = Gateway::start(gate, &stdio_server(), None, settings())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.serve_http(listener, async move {
        let _ = stopped.await;
    }));
    let result = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let post = |token: &str, session: Option<&str>, body: Value| {
            let mut req = agent
                .post(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream");
            if let Some(s) = session {
                req = req.header("Mcp-Session-Id", s);
            }
            let mut res = req.send(body.to_string()).unwrap();
            let session = res
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let status = res.status().as_u16();
            let text = res.body_mut().read_to_string().unwrap_or_default();
            (status, session, text)
        };
        let (status, session, text) = post(
            "agent-token",
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}}),
        );
        assert_eq!(status, 200, "{text}");
        let session = session.expect("a session id");
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _, text) = post("agent-token", Some(&session), initialized);
        assert!(status < 300, "{status} {text}");
        let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
        let (status, _, text) = post("other-token", Some(&session), ping.clone());
        assert_eq!(status, 404, "another token cannot use the session: {text}");
        assert!(text.contains("session not found"), "{text}");
        let (status, _, text) = post("agent-token", Some(&session), ping);
        assert_eq!(status, 200, "its own token still can: {text}");
    })
    .await;
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
    result.unwrap();
}
