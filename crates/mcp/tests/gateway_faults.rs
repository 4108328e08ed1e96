//! Bad input and bad upstreams: garbage, oversized and unknown messages from the
//! client; a server that hangs, floods or crashes; the child reaped; bearer tokens on
//! the HTTP side.

mod gateway_common;

use gateway_common::*;
use parapet_mcp::gateway::{Gateway, Settings};
use parapet_mcp::Caller;
use rmcp::service::ServiceExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn garbage_oversized_and_unknown_messages_get_json_rpc_errors() {
    let gate = Arc::new(Scripted::default());
    let gateway = Gateway::start(gate, &stdio_server(), None, settings())
        .await
        .unwrap();
    let pid = gateway.upstream_pid().expect("a child");
    let (client_io, gateway_io) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(gateway_io);
    let caller = Caller {
        actor: "agent:test".into(),
    };
    let served = tokio::spawn(gateway.serve_stdio(caller, read, write));
    let (cr, mut cw) = tokio::io::split(client_io);
    let mut lines = BufReader::new(cr).lines();
    let send = |v: String| {
        let mut line = v.into_bytes();
        line.push(b'\n');
        line
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    cw.write_all(&send(init.to_string())).await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["result"]["serverInfo"]["name"], "test-server");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    cw.write_all(&send(initialized.to_string())).await.unwrap();

    cw.write_all(b"this is not json\n").await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");

    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(2 << 20)
    );
    cw.write_all(&send(big)).await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit"));

    let unknown =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/destroy_everything", "params": {}});
    cw.write_all(&send(unknown.to_string())).await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["error"]["code"], -32601, "{reply}");

    let shape =
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"arguments": 5}});
    cw.write_all(&send(shape.to_string())).await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["id"], 4, "{reply}");
    assert!(reply["error"]["code"].as_i64().unwrap() < 0, "{reply}");

    // Still serving after all that.
    let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});
    cw.write_all(&send(ping.to_string())).await.unwrap();
    let reply: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(reply["id"], 5, "{reply}");
    assert!(reply.get("result").is_some(), "{reply}");

    // The client closes: the gateway ends and the child is gone (reaped, not a zombie).
    drop(cw);
    drop(lines);
    served.await.unwrap().expect("clean end");
    assert!(wait_gone(pid).await, "child {pid} still there");
}

#[tokio::test]
async fn a_hanging_tool_times_out_and_the_gateway_keeps_serving() {
    let set = Settings {
        call_timeout: Duration::from_millis(400),
        ..settings()
    };
    let s = stdio_session(stdio_server(), Rev::V2025, false, set).await;
    let e = s
        .client
        .call_tool(call("hang", json!({})))
        .await
        .expect_err("a hang is an error");
    assert!(e.to_string().contains("did not answer within"), "{e}");
    let r = s
        .client
        .call_tool(call("echo", json!({"text": "still here"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "still here");
    s.client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_crashing_server_gives_clear_errors_and_is_reaped() {
    let s = stdio_session(stdio_server(), Rev::V2025, false, settings()).await;
    let pid = s.upstream_pid.expect("a child");
    let e = s
        .client
        .call_tool(call("crash", json!({})))
        .await
        .expect_err("the call that crashed the server is an error");
    assert!(e.to_string().contains("upstream MCP server"), "{e}");
    let e = s
        .client
        .call_tool(call("echo", json!({"text": "x"})))
        .await
        .expect_err("later calls fail too");
    assert!(e.to_string().contains("upstream MCP server"), "{e}");
    assert!(wait_gone(pid).await, "crashed child {pid} not reaped");
    s.client.cancel().await.unwrap();
    let ended = s.served.await.unwrap();
    assert!(
        matches!(&ended, Err(e) if e.to_string().contains("during the session")),
        "a session whose server died ends in an error: {ended:?}"
    );
}

#[tokio::test]
async fn http_listen_needs_a_valid_bearer_token() {
    // The client's reqwest needs a TLS provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gate = Arc::new(Scripted::default());
    let gateway = Gateway::start(gate.clone(), &stdio_server(), None, settings())
        .await
        .unwrap();
    let pid = gateway.upstream_pid().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.serve_http(listener, async move {
        let _ = stopped.await;
    }));

    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    let connect = |token: Option<&str>| {
        let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
        config.auth_header = token.map(str::to_string); // sent as "Bearer <token>"
        let client = TestClient {
            seen: Default::default(),
            gate: gate.clone(),
            elicit: false,
        };
        client.serve(StreamableHttpClientTransport::from_config(config))
    };
    assert!(connect(None).await.is_err(), "no token: refused");
    assert!(connect(Some("forged")).await.is_err(), "bad token: refused");
    let client = connect(Some("agent-token"))
        .await
        .expect("a valid token connects");
    let r = client
        .call_tool(call("echo", json!({"text": "authenticated"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "authenticated");
    let r = client
        .call_tool(call("delete_db", json!({"id": "prod"})))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    client.cancel().await.unwrap();
    stop.send(()).unwrap();
    served.await.unwrap().expect("stops cleanly");
    assert!(wait_gone(pid).await, "child {pid} still there");
}
