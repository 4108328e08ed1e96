use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parapet_policy::PolicyEngine;
use parapet_store::{Request, Role, Store, StoreError, TokenInfo};
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
    /// The operator's credential key (`--credential-key-file`): with it the service
    /// issues agent AWS keys (`POST /v1/tokens` with `"aws": true`), whose secrets are
    /// derived from it and never stored. Never logged or shown.
    pub credential_key: Option<Vec<u8>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ttl_seconds: 24 * 3600,
            max_body_bytes: 256 * 1024 * 1024,
            critical: Default::default(),
            public_url: "http://127.0.0.1:8080".into(),
            slack_webhook: None,
            credential_key: None,
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
    /// Token (and web UI session) lookups by secret hash, kept at most `TOKEN_TTL`:
    /// a revoke through another replica is seen here within that time.
    pub(crate) tokens:
        std::sync::Mutex<std::collections::HashMap<String, (TokenInfo, std::time::Instant)>>,
    /// When this replica last recorded each token's use (token id).
    used: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Incident mode and live pins as last read. Writes through this replica clear it
    /// at once; other replicas' writes are seen within `STATE_TTL`.
    state: std::sync::Mutex<Option<(std::time::Instant, DecisionState)>>,
}

/// What every decision reads besides its input (freezes are read fresh instead:
/// [`App::frozen_now`]).
#[derive(Clone)]
pub struct DecisionState {
    pub incident: Option<String>,
    pub pins: Vec<parapet_gate::Pin>,
}

/// How stale another replica's revoke may be here (as incidents and pins).
pub const TOKEN_TTL: Duration = Duration::from_secs(1);
/// A token's last use is written at most this often per replica.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
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
            used: Default::default(),
            state: Default::default(),
        }
    }

    /// After a token is revoked or a session ends here: every lookup reads fresh.
    pub fn forget_tokens(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Record a token's use, at most once per `TOUCH_EVERY` per replica, off the
    /// request's path: a failure to record it changes no answer.
    pub(crate) fn touch(self: &Arc<Self>, token: &TokenInfo) {
        {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            if used
                .get(&token.id)
                .is_some_and(|at| at.elapsed() < TOUCH_EVERY)
            {
                return;
            }
            if used.len() >= 10_000 {
                used.clear();
            }
            used.insert(token.id.clone(), std::time::Instant::now());
        }
        let (a, id) = (self.clone(), token.id.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(e) = a.store.touch_token(&id, parapet_store::now()) {
                tracing::warn!(token = %id, error = %e, "could not record a token's use");
            }
        });
    }

    /// Wake long-polling readers: requests changed other than by a vote.
    pub(crate) fn notify_changed(&self) {
        self.changed.notify_waiters();
    }

    /// After an incident or pin changes here: the next decision reads it fresh.
    pub fn forget_state(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub(crate) async fn decision_state(self: &Arc<Self>) -> Result<DecisionState, StoreError> {
        if let Some((at, s)) = &*self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < STATE_TTL {
                return Ok(s.clone());
            }
        }
        let a = self.clone();
        let fresh = off_thread(move || {
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

impl App {
    /// The freeze in force now that covers `actor`, read from the database on every
    /// call (one indexed lookup): a freeze made through any replica or proxy applies
    /// from the next request on. `parapet proxy aws` asks before every request, reads
    /// included; every decision asks before any policy runs.
    pub async fn frozen_now(
        self: &Arc<Self>,
        actor: &str,
    ) -> Result<Option<parapet_store::Freeze>, StoreError> {
        if let Some(r) = self
            .store
            .try_freeze_covering_now(actor, parapet_store::now())
        {
            return r;
        }
        let (a, actor) = (self.clone(), actor.to_string());
        off_thread(move || a.store.freeze_covering(&actor, parapet_store::now())).await
    }
}

/// Store work on the blocking pool; a task that died is a database error (fail closed).
pub(crate) async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Db(format!("the store task failed: {e}"))))
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
        .route("/v1/decisions/{id}/execute", post(crate::tool_api::execute))
        .route("/v1/whoami", get(crate::tool_api::whoami))
        .route("/v1/tools/visible", post(crate::tool_api::visible))
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
        .route(
            "/v1/tokens",
            get(crate::tokens::list).post(crate::tokens::create),
        )
        .route(
            "/v1/freezes",
            get(crate::freeze::list).post(crate::freeze::create),
        )
        .route(
            "/v1/freezes/{actor}",
            axum::routing::delete(crate::freeze::clear),
        )
        .route("/v1/freezes/{actor}/clear", post(crate::freeze::clear))
        .route("/v1/tokens/{id}/revoke", post(crate::tokens::revoke))
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
            StoreError::Invalid(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            StoreError::Db(_)
            | StoreError::Corrupt(_)
            | StoreError::KeyFile { .. }
            | StoreError::BadKey { .. } => {
                tracing::error!(error = %e, "store unavailable");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("decision store unavailable, failing closed: {e}"),
                )
            }
        }
    }
}

impl From<crate::call::DecideError> for ApiError {
    fn from(e: crate::call::DecideError) -> Self {
        use crate::call::DecideError as E;
        match e {
            E::Store(s) => s.into(),
            E::Call(_) | E::Tool(_) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            E::Binding(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            E::Actor { .. } | E::Internal(_) => {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub use crate::auth::{auth, token_for};
pub(crate) use crate::auth::{cached, permitted};

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

/// A JSON body for `T`, or a 400 that says what is wrong and where.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "{what}: body is not valid (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

/// Who did it is the token's actor: a body that names someone else is refused.
pub(crate) fn claimed_actor(token: &TokenInfo, claimed: Option<&str>) -> ApiResult<()> {
    match claimed {
        Some(c) if c != token.actor => Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "the token acts as {}, not {c}: who did something comes from the token",
                token.actor
            ),
        )),
        _ => Ok(()),
    }
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

/// A request as the API shows it, without its report; a review links to its page in
/// the web UI (`review_url`, under `public_url`).
pub(crate) fn view(r: &Request, public_url: &str) -> Value {
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
    if let Some(at) = r.executed_at {
        v["executed"] = json!({"at": at, "by": r.executed_by});
    }
    if r.outcome == "review" {
        v["approval"] = json!({
            "approvers_required": r.approvers_required,
            "approvals": r.votes.iter().filter(|x| x.approve).count(),
            "delay_seconds": r.delay_seconds,
            "expires_at": r.expires_at,
            "executable_at": r.executable_at(),
        });
        v["review_url"] = json!(format!("{public_url}/ui/decisions/{}", r.id));
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
    let base = &app.config.public_url;
    Ok(Json(Value::Array(
        pending.iter().map(|r| view(r, base)).collect(),
    )))
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
    let start_votes = first.votes.len();
    let mut current = first;
    loop {
        let state = current.state(parapet_store::now());
        // A new vote answers too, so a waiting pipeline can show the count.
        if state != start_state
            || current.votes.len() != start_votes
            || state.is_final()
            || tokio::time::Instant::now() >= deadline
        {
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
    let shown = view(&current, &app.config.public_url);
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
    Ok(Json(view(&r, &app.config.public_url)))
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
