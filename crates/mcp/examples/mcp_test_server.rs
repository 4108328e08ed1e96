//! A small real MCP server (rmcp) the gateway's tests run behind it: stdio by default,
//! `--http ADDR` for streamable HTTP (first stdout line `listening on http://ADDR/mcp`).
//!
//! Tools: `echo {text}`, `slow {millis}` (progress while it sleeps), `hang` (never
//! answers), `crash` (exits with status 3), `flood` (an 8 MiB answer), `calls` (how many
//! tool calls it ran), `delete_db {id}`, `put_secret {name, password}`, `admin`. One resource
//! `test://hello` and one prompt `greet`.

use rmcp::model::*;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ServerHandler, ServiceExt};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
struct TestServer {
    calls: Arc<AtomicU64>,
}

fn schema(v: Value) -> Arc<Map<String, Value>> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => unreachable!("schemas are objects"),
    }
}

fn tools() -> Vec<Tool> {
    let text = schema(json!({"type": "object", "properties": {"text": {"type": "string"}}}));
    let any = schema(json!({"type": "object"}));
    vec![
        Tool::new("echo", "Echo the text back", text),
        Tool::new("slow", "Sleep for millis, reporting progress", any.clone()),
        Tool::new("hang", "Never answer", any.clone()),
        Tool::new("crash", "Exit the server", any.clone()),
        Tool::new("flood", "Answer 8 MiB", any.clone()),
        Tool::new("calls", "How many tool calls ran", any.clone()),
        Tool::new("delete_db", "Delete a database", any.clone()),
        Tool::new("put_secret", "Store a secret", any.clone()),
        Tool::new("admin", "Anything at all", any),
    ]
}

fn text(s: impl Into<String>) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(s)]).into()
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        let caps = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_prompts()
            .build();
        ServerConfig::new(caps).with_server_info(Implementation::new("test-server", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let args = request.arguments.unwrap_or_default();
        match request.name.as_ref() {
            "echo" => Ok(text(args.get("text").and_then(Value::as_str).unwrap_or(""))),
            "slow" => {
                let millis = args.get("millis").and_then(Value::as_u64).unwrap_or(300);
                let token = ctx.meta.get_progress_token();
                for step in 0..3u32 {
                    tokio::time::sleep(std::time::Duration::from_millis(millis / 3)).await;
                    if let Some(t) = &token {
                        let p = ProgressNotificationParam::new(t.clone(), f64::from(step + 1))
                            .with_total(3.0);
                        let _ = ctx.peer.notify_progress(p).await;
                    }
                }
                Ok(text("slept"))
            }
            "hang" => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            "crash" => std::process::exit(3),
            "flood" => Ok(text("x".repeat(8 << 20))),
            "calls" => Ok(text(n.to_string())),
            "delete_db" => Ok(text(format!(
                "deleted {}",
                args.get("id").and_then(Value::as_str).unwrap_or("?")
            ))),
            "put_secret" => Ok(text("stored")),
            "admin" => Ok(text("did anything")),
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "test://hello",
            "hello",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != "test://hello" {
            return Err(ErrorData::resource_not_found(request.uri, None));
        }
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text("hello, world", "test://hello")])
                .into(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greet someone"),
            None,
        )]))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--http") {
        use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
        use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
        let addr = args.get(i + 1).map_or("127.0.0.1:0", String::as_str);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on http://{}/mcp", listener.local_addr()?);
        let service = StreamableHttpService::new(
            || Ok(TestServer::default()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
        let app = axum::Router::new().nest_service("/mcp", service);
        axum::serve(listener, app).await?;
        return Ok(());
    }
    let running = TestServer::default()
        .serve((tokio::io::stdin(), tokio::io::stdout()))
        .await?;
    running.waiting().await?;
    Ok(())
}
