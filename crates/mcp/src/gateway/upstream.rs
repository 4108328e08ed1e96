//! The gateway as a client of the upstream MCP server: a stdio child process or a
//! streamable-HTTP endpoint. What the server sends on its own (progress, log messages,
//! list changes, elicitation and sampling requests) is relayed to the agent's client.

use super::GatewayError;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientJsonRpcMessage, ClientRequest, ClientResult, ErrorData,
    Implementation, JsonRpcMessage, ProgressToken, ProtocolVersion, RequestId, ResultType,
    ServerJsonRpcMessage, ServerNotification, ServerRequest, ServerResult,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, Peer, RequestContext, RoleClient,
    RoleServer, RunningService, Service,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::process::Child;
use tokio::sync::oneshot;

/// Where the upstream server is.
#[derive(Debug, Clone)]
pub enum UpstreamSpec {
    /// A stdio server: the gateway starts it and owns it.
    Command { program: String, args: Vec<String> },
    /// A streamable-HTTP server; `bearer` (the token alone) is sent as
    /// `Authorization: Bearer <token>`.
    Url { url: String, bearer: Option<String> },
}

impl UpstreamSpec {
    /// The name used when neither --name nor the server's own name is known.
    pub fn fallback_name(&self) -> String {
        match self {
            UpstreamSpec::Command { program, .. } => std::path::Path::new(program)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| program.clone()),
            UpstreamSpec::Url { url, .. } => url.clone(),
        }
    }
}

/// Routes what the upstream sends on its own back to the agent's client.
#[derive(Default)]
pub struct Relay {
    /// The client that spoke last: where server-initiated requests and list changes go.
    downstream: Mutex<Option<Peer<RoleServer>>>,
    /// Upstream progress token -> the client and its own token for that call.
    progress: Mutex<HashMap<ProgressToken, (Peer<RoleServer>, ProgressToken)>>,
}

impl Relay {
    pub fn set_downstream(&self, peer: &Peer<RoleServer>) {
        *lock(&self.downstream) = Some(peer.clone());
    }

    fn downstream(&self) -> Option<Peer<RoleServer>> {
        lock(&self.downstream).clone()
    }

    /// Relay the upstream's progress for one call (until [`Relay::forget_progress`]).
    pub fn track_progress(
        &self,
        upstream: ProgressToken,
        peer: Peer<RoleServer>,
        downstream: ProgressToken,
    ) {
        lock(&self.progress).insert(upstream, (peer, downstream));
    }

    pub fn forget_progress(&self, upstream: &ProgressToken) {
        lock(&self.progress).remove(upstream);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding these maps leaves them usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The gateway's client side towards the upstream.
pub struct UpstreamClient {
    relay: Arc<Relay>,
}

impl Service<RoleClient> for UpstreamClient {
    async fn handle_request(
        &self,
        request: ServerRequest,
        _context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, ErrorData> {
        if let ServerRequest::PingRequest(_) = request {
            return Ok(ClientResult::empty(()));
        }
        let Some(peer) = self.relay.downstream() else {
            return Err(ErrorData::internal_error(
                "no MCP client is connected to the gateway to answer this request",
                None,
            ));
        };
        peer.send_request(request)
            .await
            .map_err(|e| ErrorData::internal_error(format!("the client did not answer: {e}"), None))
    }

    async fn handle_notification(
        &self,
        notification: ServerNotification,
        _context: NotificationContext<RoleClient>,
    ) -> Result<(), ErrorData> {
        let (peer, notification) = match notification {
            ServerNotification::ProgressNotification(mut n) => {
                let Some((peer, token)) = lock(&self.relay.progress)
                    .get(&n.params.progress_token)
                    .cloned()
                else {
                    return Ok(()); // a call that is over, or not ours
                };
                n.params.progress_token = token;
                (Some(peer), ServerNotification::ProgressNotification(n))
            }
            // Cancellations name upstream request ids the client never saw.
            ServerNotification::CancelledNotification(_) => return Ok(()),
            other => (self.relay.downstream(), other),
        };
        if let Some(peer) = peer {
            if let Err(e) = peer.send_notification(notification).await {
                tracing::debug!(error = %e, "could not relay a notification to the client");
            }
        }
        Ok(())
    }

    #[allow(deprecated)] // sampling is deprecated by SEP-2577 but still relayed
    fn get_info(&self) -> ClientConfig {
        // Elicitation and sampling are relayed to the agent's client.
        let mut caps = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .build();
        if let Some(e) = caps.elicitation.as_mut() {
            e.form = Some(Default::default());
            e.url = Some(Default::default());
        }
        ClientConfig::new(
            caps,
            Implementation::new("parapet-mcp-gateway", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// A connected upstream: the running client and, for a stdio server, the task that
/// owns its process (reaps it when it exits, kills it at shutdown).
pub struct Upstream {
    pub service: RunningService<RoleClient, UpstreamClient>,
    reaper: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// The child's process id (stdio servers).
    pub pid: Option<u32>,
}

/// Own the child: log and reap it as soon as it exits; on request, give it two
/// seconds to exit after its stdin closed, then kill it (kill also reaps).
fn reap(mut child: Child, program: String) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stop = tokio::select! {
            status = child.wait() => {
                match status {
                    Ok(s) => tracing::warn!(program, status = %s, "the upstream MCP server exited"),
                    Err(e) => tracing::warn!(program, error = %e, "waiting for the upstream MCP server failed"),
                }
                false
            }
            _ = rx => true,
        };
        if stop {
            let grace = std::time::Duration::from_secs(2);
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                tracing::warn!(program, "the upstream MCP server did not exit: killing it");
                let _ = child.kill().await;
            }
        }
    });
    (tx, task)
}

impl Upstream {
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// Stop the client (closing the child's stdin) and make sure the child is gone.
    pub async fn shutdown(mut self) {
        let _ = self
            .service
            .close_with_timeout(std::time::Duration::from_secs(2))
            .await;
        if let Some((stop, task)) = self.reaper.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// A stdio transport that drops the answer to a `server/discover` probe arriving after
/// the SDK gave up on it (10 s) and fell back to `initialize`: a legacy server slow to
/// start (the AWS API MCP server takes seconds) answers the probe late with an error,
/// which the SDK would take as an uncorrelated answer to `initialize` and fail.
struct LateDiscoverFilter<T> {
    inner: T,
    discover_ids: Vec<RequestId>,
    initialize_sent: bool,
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for LateDiscoverFilter<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(r) = &item {
            match r.request {
                ClientRequest::DiscoverRequest(_) => self.discover_ids.push(r.id.clone()),
                ClientRequest::InitializeRequest(_) => self.initialize_sent = true,
                _ => {}
            }
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            let message = self.inner.receive().await?;
            let id = match &message {
                JsonRpcMessage::Response(r) => Some(&r.id),
                JsonRpcMessage::Error(e) => e.id.as_ref(),
                _ => None,
            };
            if self.initialize_sent && id.is_some_and(|id| self.discover_ids.contains(id)) {
                tracing::debug!("dropped a late answer to the server/discover probe");
                continue;
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

fn lifecycle() -> ClientLifecycleMode {
    // Prefer the newest revision; fall back to `initialize` for older servers.
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

/// Start or reach the upstream and complete the MCP handshake with it.
pub async fn connect(
    spec: &UpstreamSpec,
    relay: Arc<Relay>,
    max_message: usize,
) -> Result<Upstream, GatewayError> {
    let client = UpstreamClient { relay };
    match spec {
        UpstreamSpec::Command { program, args } => {
            let mut command = tokio::process::Command::new(program);
            // The gateway's own settings (its database, token, key files) are not the
            // server's business: a shell or filesystem server could hand them out.
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("PARAPET_") {
                    command.env_remove(&name);
                }
            }
            let mut child = command
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .map_err(|source| GatewayError::Spawn {
                    program: program.clone(),
                    source,
                })?;
            let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                return Err(GatewayError::Upstream(
                    "the server's standard input/output could not be opened".into(),
                ));
            };
            // Not the SDK's stdio transport: it drops a line over the limit, and the
            // call that line answered would wait for the timeout.
            let transport = LateDiscoverFilter {
                inner: super::upstream_io::UpstreamIo::new(stdout, stdin, max_message),
                discover_ids: Vec::new(),
                initialize_sent: false,
            };
            let service = client
                .serve_with_lifecycle(transport, lifecycle())
                .await
                .map_err(|e| {
                    GatewayError::Upstream(format!("handshake with {program}: {}", plain(&e)))
                })?;
            Ok(Upstream {
                service,
                pid: child.id(),
                reaper: Some(reap(child, program.clone())),
            })
        }
        UpstreamSpec::Url { url, bearer } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            config.auth_header = bearer.clone();
            config.max_json_response_size = max_message;
            config.max_sse_event_size = max_message;
            let transport = StreamableHttpClientTransport::from_config(config);
            let service = client
                .serve_with_lifecycle(transport, lifecycle())
                .await
                .map_err(|e| {
                    GatewayError::Upstream(format!("handshake with {url}: {}", plain(&e)))
                })?;
            Ok(Upstream {
                service,
                pid: None,
                reaper: None,
            })
        }
    }
}

/// Send one request upstream (used for everything the gateway does not judge).
pub async fn forward(
    peer: &Peer<RoleClient>,
    request: ClientRequest,
    timeout: std::time::Duration,
) -> Result<ServerResult, ErrorData> {
    let handle = peer
        .send_request_with_option(
            request,
            rmcp::service::PeerRequestOptions::with_timeout(timeout),
        )
        .await
        .map_err(upstream_error)?;
    let result = handle.await_response().await.map_err(upstream_error)?;
    Ok(complete(result))
}

/// A legacy server's result carries no `resultType`, which 2026-07-28 clients require
/// (absent means "complete"): say so explicitly. The SDK strips it again for clients
/// on an older revision.
pub fn complete(mut result: ServerResult) -> ServerResult {
    let result_type = match &mut result {
        ServerResult::CompleteResult(r) => &mut r.result_type,
        ServerResult::GetPromptResult(r) => &mut r.result_type,
        ServerResult::ListPromptsResult(r) => &mut r.result_type,
        ServerResult::ListResourcesResult(r) => &mut r.result_type,
        ServerResult::ListResourceTemplatesResult(r) => &mut r.result_type,
        ServerResult::ReadResourceResult(r) => &mut r.result_type,
        ServerResult::ListToolsResult(r) => &mut r.result_type,
        ServerResult::CallToolResult(r) => &mut r.result_type,
        _ => return result,
    };
    result_type.get_or_insert(ResultType::COMPLETE);
    result
}

/// Fit a relayed result to the client's revision: caching hints (`ttlMs`, `cacheScope`)
/// are 2026-07-28 members an older client has no use for; the SDK strips only
/// `resultType`.
pub fn fit_to_client(result: &mut ServerResult, legacy: bool) {
    if !legacy {
        return;
    }
    let (ttl_ms, cache_scope) = match result {
        ServerResult::ListToolsResult(r) => (&mut r.ttl_ms, &mut r.cache_scope),
        ServerResult::ListPromptsResult(r) => (&mut r.ttl_ms, &mut r.cache_scope),
        ServerResult::ListResourcesResult(r) => (&mut r.ttl_ms, &mut r.cache_scope),
        ServerResult::ListResourceTemplatesResult(r) => (&mut r.ttl_ms, &mut r.cache_scope),
        ServerResult::ReadResourceResult(r) => (&mut r.ttl_ms, &mut r.cache_scope),
        _ => return,
    };
    *ttl_ms = None;
    *cache_scope = None;
}

/// A failure talking to the upstream as the client should see it.
pub fn upstream_error(e: rmcp::service::ServiceError) -> ErrorData {
    use rmcp::service::ServiceError;
    match e {
        // The server's own JSON-RPC error: pass it through unchanged.
        ServiceError::McpError(e) => e,
        ServiceError::Timeout { timeout } => ErrorData::internal_error(
            format!(
                "the upstream MCP server did not answer within {:?} (--call-timeout)",
                timeout
            ),
            None,
        ),
        ServiceError::TransportClosed => ErrorData::internal_error(
            "the upstream MCP server is gone (it exited or closed the connection)",
            None,
        ),
        // The transport's own words name SDK types and the upstream's address: for the
        // gateway's log, not for the agent.
        ServiceError::TransportSend(e) => {
            tracing::warn!(error = %plain(&e), "talking to the upstream MCP server failed");
            ErrorData::internal_error(
                "the upstream MCP server could not be reached, or its answer could not be read (an answer over the gateway's --max-message is refused); the gateway's log has the detail",
                None,
            )
        }
        other => {
            tracing::warn!(error = %plain(&other), "upstream MCP server");
            ErrorData::internal_error("the upstream MCP server's answer could not be used; the gateway's log has the detail", None)
        }
    }
}

/// An SDK error's words without the Rust type names it puts in brackets
/// (`Transport [rmcp::transport::worker::WorkerTransport<...>] error: ...`).
pub fn plain(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        let Some(close) = matching(&rest[open..]) else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if !inside.contains("::") {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.replace("  ", " ")
}

/// The offset of the `]` closing the `[` at the start of `s`.
fn matching(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}
