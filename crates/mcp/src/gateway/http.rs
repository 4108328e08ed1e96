//! Streamable HTTP for clients (`--listen`): every request authenticated by its
//! parapet bearer token before the SDK sees it; the caller rides in the request's
//! extensions to the handler. Identity only from the token.

use super::handler::GatewayHandler;
use super::{GatewayError, Shared};
use crate::Caller;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": {"code": -32001, "message": message},
    });
    (
        status,
        [
            (header::WWW_AUTHENTICATE, "Bearer realm=\"parapet\""),
            (header::CONTENT_TYPE, "application/json"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn authenticate(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "send your parapet token as Authorization: Bearer <token>",
        );
    };
    match shared.gate.authenticate(token).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            tracing::info!(error = %e, "refused a request with a bad parapet token");
            refuse(StatusCode::UNAUTHORIZED, "the parapet token is not valid")
        }
    }
}

/// Which actor's token opened each MCP session, and when it was last used. A session id
/// is not a credential: a request naming another actor's session is answered as if the
/// session did not exist (404, after which a client starts its own), so one token cannot
/// answer another's elicitations or read its stream. One token holds at most
/// [`MAX_SESSIONS_PER_TOKEN`] sessions used within the SDK's idle timeout.
#[derive(Default)]
struct Sessions(std::sync::Mutex<std::collections::HashMap<String, (String, Instant)>>);

type SessionMap = std::collections::HashMap<String, (String, Instant)>;

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, SessionMap> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const SESSION_HEADER: &str = "mcp-session-id";
/// Sessions one token may hold open at once.
pub const MAX_SESSIONS_PER_TOKEN: usize = 64;
/// The SDK closes a session idle this long (its default keep-alive).
const SESSION_IDLE: Duration = Duration::from_secs(300);

/// A JSON-RPC error as the whole HTTP answer (`"id": null`: the request's id is not
/// read), the shape MCP clients read errors in.
fn json_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn bind_session(State(sessions): State<Arc<Sessions>>, req: Request, next: Next) -> Response {
    let actor = req.extensions().get::<Caller>().map(|c| c.actor.clone());
    let claimed = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(actor) = &actor {
        let mut map = sessions.lock();
        map.retain(|_, (_, used)| used.elapsed() < SESSION_IDLE);
        match &claimed {
            Some(id) => match map.get_mut(id) {
                Some((owner, _)) if owner != actor => {
                    drop(map);
                    tracing::warn!(
                        actor,
                        "refused a request naming another token's MCP session"
                    );
                    return json_error(
                        StatusCode::NOT_FOUND,
                        -32001,
                        "session not found for this parapet token; start a new session",
                    );
                }
                Some((_, used)) => *used = Instant::now(),
                None => {}
            },
            None if req.method() == axum::http::Method::POST => {
                let held = map.values().filter(|(owner, _)| owner == actor).count();
                if held >= MAX_SESSIONS_PER_TOKEN {
                    drop(map);
                    tracing::warn!(
                        actor,
                        held,
                        "refused a new MCP session: too many open for this token"
                    );
                    return json_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        -32000,
                        &format!("this parapet token already holds {held} open MCP sessions (at most {MAX_SESSIONS_PER_TOKEN}); close one (DELETE with its Mcp-Session-Id) or let one go idle for five minutes"),
                    );
                }
            }
            None => {}
        }
    }
    let deleting = req.method() == axum::http::Method::DELETE;
    let res = next.run(req).await;
    let opened = res
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok());
    if let (Some(id), Some(actor)) = (opened, actor) {
        sessions
            .lock()
            .entry(id.to_string())
            .or_insert((actor, Instant::now()));
    }
    if let Some(id) = claimed {
        if res.status() == StatusCode::NOT_FOUND || (deleting && res.status().is_success()) {
            sessions.lock().remove(&id); // over: forget it
        }
    }
    res
}

/// The SDK answers an over-limit body with a bare 413; MCP clients read errors as
/// JSON-RPC, so say it in that shape, naming the limit.
async fn explain_too_large(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    if matches!(
        res.status(),
        StatusCode::BAD_REQUEST
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::NOT_ACCEPTABLE
            | StatusCode::NOT_FOUND
    ) {
        return explain_refusal(res).await;
    }
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        -32600,
        &format!(
            "request body over the gateway's limit of {} bytes (--max-message)",
            shared.settings.max_message
        ),
    )
}

/// The SDK refuses a body it cannot read (not JSON, a batch, the wrong content type)
/// with plain text; say it as JSON-RPC, as stdio does: a body that is not a JSON-RPC
/// message is a 400 Parse error or Invalid Request, a wrong content type or Accept
/// header keeps its status with the SDK's words.
async fn explain_refusal(res: Response) -> Response {
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"));
    if json {
        return res;
    }
    let status = res.status();
    let text = match axum::body::to_bytes(res.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let unreadable = text.contains("deserialize");
    let (status, code, message) = if unreadable {
        (
            StatusCode::BAD_REQUEST,
            -32700,
            // The SDK's words name its Rust types: say what MCP expects instead.
            "the request body is not one JSON-RPC message MCP accepts: a JSON object with \"jsonrpc\": \"2.0\", a \"method\" string and, for a request, an \"id\" that is a string or an integer (JSON-RPC batches are not part of MCP)".to_string(),
        )
    } else {
        (status, -32600, text)
    };
    json_error(status, code, &message)
}

pub(super) async fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let ct = tokio_util::sync::CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(shared.settings.max_message);
    config.cancellation_token = ct.clone();
    // Host validation guards unauthenticated local servers against DNS rebinding; every
    // request here carries a token a rebinding page cannot have, and a gateway behind a
    // reverse proxy is reached by other names.
    config.allowed_hosts = Vec::new();
    let handler = GatewayHandler {
        shared: shared.clone(),
        caller: None,
    };
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            explain_too_large,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(Sessions::default()),
            bind_session,
        ))
        .layer(axum::middleware::from_fn_with_state(shared, authenticate));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            ct.cancel();
        })
        .await
        .map_err(|source| GatewayError::Io {
            what: "serving HTTP".into(),
            source,
        })
}
