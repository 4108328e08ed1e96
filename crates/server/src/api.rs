use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parapet_policy::PolicyEngine;
use parapet_store::{hex_sha256, Request, Role, Store, StoreError, TokenInfo};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub struct ServerConfig {
    /// How long a review waits for approvals before it expires.
    pub ttl_seconds: i64,
    pub max_body_bytes: usize,
    pub critical: parapet_aws::CriticalRules,
    /// Base of links to the web UI in chat messages.
    pub public_url: String,
    /// Incoming-webhook URL that new reviews are posted to.
    pub slack_webhook: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ttl_seconds: 24 * 3600,
            max_body_bytes: 256 * 1024 * 1024,
            critical: Default::default(),
            public_url: "http://127.0.0.1:8080".into(),
            slack_webhook: None,
        }
    }
}

pub struct App {
    pub store: Box<dyn Store>,
    pub webhooks: crate::ops::WebhookSecrets,
    pub engine: PolicyEngine,
    pub config: ServerConfig,
    pub metrics: crate::metrics::Metrics,
    /// Wakes long-polling readers in this process when a request changes.
    changed: tokio::sync::Notify,
    /// Token lookups, by secret hash: tokens are never edited, only created.
    tokens: std::sync::Mutex<std::collections::HashMap<String, (TokenInfo, std::time::Instant)>>,
    /// Incident mode and live pins as last read. Writes through this replica clear it
    /// at once; other replicas' writes are seen within `STATE_TTL`.
    state: std::sync::Mutex<Option<(std::time::Instant, DecisionState)>>,
}

/// What every decision reads besides its input.
#[derive(Clone)]
pub struct DecisionState {
    pub incident: Option<String>,
    pub pins: Vec<parapet_gate::Pin>,
}

const TOKEN_TTL: Duration = Duration::from_secs(60);
/// How stale another replica's incident or pin change may be here.
pub const STATE_TTL: Duration = Duration::from_secs(1);

impl App {
    pub fn new(
        store: Box<dyn Store>,
        engine: PolicyEngine,
        config: ServerConfig,
        webhooks: crate::ops::WebhookSecrets,
    ) -> App {
        App {
            store,
            engine,
            config,
            webhooks,
            metrics: Default::default(),
            changed: tokio::sync::Notify::new(),
            tokens: Default::default(),
            state: Default::default(),
        }
    }

    /// After an incident or pin changes here: the next decision reads it fresh.
    pub fn forget_state(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub(crate) async fn decision_state(self: &Arc<Self>) -> ApiResult<DecisionState> {
        if let Some((at, s)) = &*self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < STATE_TTL {
                return Ok(s.clone());
            }
        }
        let a = self.clone();
        let fresh = blocking(move || {
            Ok(DecisionState {
                incident: crate::ops::incident_mode(&a)?,
                pins: crate::ops::live_pins(&a)?,
            })
        })
        .await?;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

pub fn router(app: Arc<App>) -> Router {
    let limit = app.config.max_body_bytes;
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/ui") }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move { app.metrics.render() }),
        )
        .route("/v1/decisions", post(crate::decide::create).get(queue))
        .route("/v1/decisions/{id}", get(fetch))
        .route("/v1/decisions/{id}/approve", post(approve))
        .route("/v1/decisions/{id}/reject", post(reject))
        .route("/v1/audit/verify", get(verify))
        .route(
            "/v1/incidents",
            get(crate::ops::list_incidents).post(crate::ops::open_incident),
        )
        .route(
            "/v1/incidents/{id}/resolve",
            post(crate::ops::resolve_incident),
        )
        .route(
            "/v1/pins",
            get(crate::ops::list_pins).post(crate::ops::add_pin),
        )
        .route(
            "/v1/pins/{id}",
            axum::routing::delete(crate::ops::remove_pin),
        )
        .route("/v1/webhooks/pagerduty", post(crate::ops::pagerduty))
        .route("/v1/webhooks/opsgenie", post(crate::ops::opsgenie))
        .merge(crate::ui::routes())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Any error on a decision path reads as deny to a client that only looks at
        // the outcome.
        (self.0, Json(json!({"error": self.1, "outcome": "deny"}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
            StoreError::Forbidden(_) => ApiError(StatusCode::FORBIDDEN, e.to_string()),
            StoreError::Db(_) | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "store unavailable");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("decision store unavailable, failing closed: {e}"),
                )
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error, failing closed: {e}"),
        )),
    }
}

/// A write to incidents or pins: afterwards this replica reads them fresh.
pub async fn state_write<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let r = blocking(f).await;
    app.forget_state();
    r
}

pub async fn auth(app: &Arc<App>, headers: &HeaderMap, allowed: &[Role]) -> ApiResult<TokenInfo> {
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "missing bearer token (Authorization: Bearer <token>)".into(),
            )
        })?
        .to_string();
    token_for(app, secret, allowed).await
}

/// The token behind `secret`, if its role is one of `allowed`.
pub async fn token_for(app: &Arc<App>, secret: String, allowed: &[Role]) -> ApiResult<TokenInfo> {
    let key = hex_sha256(secret.as_bytes());
    let cached = app
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .filter(|(_, at)| at.elapsed() < TOKEN_TTL)
        .map(|(t, _)| t.clone());
    let token = match cached {
        Some(t) => t,
        None => {
            let a = app.clone();
            let t = blocking(move || a.store.token(&secret))
                .await?
                .ok_or_else(|| {
                    ApiError(StatusCode::UNAUTHORIZED, "unknown or revoked token".into())
                })?;
            let mut cache = app.tokens.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(key, (t.clone(), std::time::Instant::now()));
            t
        }
    };
    if !allowed.contains(&token.role) {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "this needs a token with role {}; yours is {}",
                names.join(" or "),
                token.role.as_str()
            ),
        ));
    }
    Ok(token)
}

async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    let a = app.clone();
    match blocking(move || a.store.ping()).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.1).into_response(),
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// Every finding in a stored report: a call's, or each change's of a plan, in order.
pub(crate) fn findings(report: &Value) -> Vec<&Value> {
    let changes = report["changes"].as_array().into_iter().flatten();
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(changes.flat_map(|c| c["findings"].as_array().into_iter().flatten()))
        .collect()
}

/// A request as the API shows it, without its report.
pub(crate) fn view(r: &Request) -> Value {
    let now = parapet_store::now();
    let state = r.state(now);
    let mut v = json!({
        "id": r.id,
        "state": state,
        "executable": state.executable(),
        "outcome": r.outcome,
        "kind": r.kind,
        "requester": r.requester,
        "content_hash": r.content_hash,
        "created_at": r.created_at,
        "votes": r.votes,
    });
    if r.outcome == "review" {
        v["approval"] = json!({
            "approvers_required": r.approvers_required,
            "approvals": r.votes.iter().filter(|x| x.approve).count(),
            "delay_seconds": r.delay_seconds,
            "expires_at": r.expires_at,
            "executable_at": r.executable_at(),
        });
    }
    v
}

#[derive(Deserialize)]
struct QueueQuery {
    state: Option<String>,
}

/// `GET /v1/decisions?state=pending`: the approvers' queue.
async fn queue(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Value>> {
    auth(&app, &headers, &[Role::Approver, Role::Admin]).await?;
    if q.state.as_deref().is_some_and(|s| s != "pending") {
        return Err(bad("only state=pending is listed; fetch others by id"));
    }
    let a = app.clone();
    let pending = blocking(move || a.store.pending()).await?;
    Ok(Json(Value::Array(pending.iter().map(view).collect())))
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<u64>,
    report: Option<bool>,
}

async fn fetch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Response> {
    auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(60));
    let load = |app: Arc<App>, id: String| async move {
        blocking(move || app.store.request(&id))
            .await?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such decision request".into()))
    };
    let first = load(app.clone(), id.clone()).await?;
    let start_state = first.state(parapet_store::now());
    let mut current = first;
    loop {
        let state = current.state(parapet_store::now());
        if state != start_state || state.is_final() || tokio::time::Instant::now() >= deadline {
            break;
        }
        // Wake on a change in this process, on a timer for other replicas, or when a
        // cooling-off period ends.
        let mut sleep = Duration::from_millis(500);
        if let Some(at) = current.executable_at() {
            let left = (at - parapet_store::now()).max(0) as u64;
            sleep = sleep.min(Duration::from_secs(left.max(1)));
        }
        let until = (tokio::time::Instant::now() + sleep).min(deadline);
        let _ = tokio::time::timeout_at(until, app.changed.notified()).await;
        current = load(app.clone(), id.clone()).await?;
    }
    let shown = view(&current);
    Ok(if q.report.unwrap_or(true) {
        Json(crate::decide::WithReport {
            view: shown,
            report: &current.report,
        })
        .into_response()
    } else {
        Json(shown).into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    content_hash: String,
    reason: Option<String>,
}

async fn vote(
    app: Arc<App>,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    approve: bool,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, &[Role::Approver, Role::Admin]).await?;
    let b: VoteBody = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "body must be {{\"content_hash\": \"...\", \"reason\": \"...\"}}: {e}"
        ))
    })?;
    let r = cast_vote(&app, token, id, approve, b.content_hash, b.reason).await?;
    Ok(Json(view(&r)))
}

/// Record a vote (API and web UI alike) and wake whoever waits on the request.
pub(crate) async fn cast_vote(
    app: &Arc<App>,
    token: TokenInfo,
    id: String,
    approve: bool,
    content_hash: String,
    reason: Option<String>,
) -> ApiResult<Request> {
    let a = app.clone();
    let who = token.actor.clone();
    let reason = reason.filter(|r| !r.trim().is_empty());
    let r = blocking(move || {
        a.store
            .vote(&id, &token.actor, approve, &content_hash, reason.as_deref())
    })
    .await?;
    app.changed.notify_waiters();
    let counter = if approve {
        &app.metrics.approvals
    } else {
        &app.metrics.rejections
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(id = %r.id, approver = %who, approve, "vote");
    Ok(r)
}

async fn approve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    vote(app, headers, id, body, true).await
}

async fn reject(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    vote(app, headers, id, body, false).await
}

async fn verify(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    auth(&app, &headers, &[Role::Admin]).await?;
    let a = app.clone();
    let v = blocking(move || a.store.verify()).await?;
    Ok(Json(
        json!({"entries": v.entries, "intact": v.problem.is_none(), "problem": v.problem}),
    ))
}
