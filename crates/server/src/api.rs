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

/// What every decision reads besides its input.
#[derive(Clone)]
pub struct DecisionState {
    pub incident: Option<String>,
    pub pins: Vec<parapet_gate::Pin>,
    /// Freezes in force: a covered requester is denied before any policy runs.
    pub freezes: Vec<parapet_store::Freeze>,
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
                freezes: a.store.freezes(false)?,
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
        .and_then(bearer)
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

/// The credentials of an `Authorization: Bearer <token>` value. The scheme name is
/// case-insensitive (RFC 9110 section 11.1), so `bearer` and `BEARER` work too.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest)
}

/// The token behind `secret`, if its role is one of `allowed`.
pub async fn token_for(app: &Arc<App>, secret: String, allowed: &[Role]) -> ApiResult<TokenInfo> {
    let key = hex_sha256(secret.as_bytes());
    let token = cached(app, &key, || {
        let a = app.clone();
        async move { blocking(move || a.store.token(&secret)).await }
    })
    .await?
    .ok_or_else(|| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unknown, revoked or expired token".into(),
        )
    })?;
    permitted(app, token, allowed)
}

/// A lookup by secret hash through the replica's short cache (`TOKEN_TTL`); a cached
/// token that has expired since is not returned.
pub(crate) async fn cached<F, Fut>(
    app: &Arc<App>,
    key: &str,
    load: F,
) -> ApiResult<Option<TokenInfo>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Option<TokenInfo>>>,
{
    let now = parapet_store::now();
    let hit = app
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
        .filter(|(_, at)| at.elapsed() < TOKEN_TTL)
        .map(|(t, _)| t.clone());
    if let Some(t) = hit {
        return Ok(t.live(now).then_some(t));
    }
    let Some(t) = load().await? else {
        return Ok(None);
    };
    let mut cache = app.tokens.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 10_000 {
        cache.clear();
    }
    cache.insert(key.to_string(), (t.clone(), std::time::Instant::now()));
    Ok(Some(t))
}

/// A live token may act if its role is one of `allowed` and its actor is one its role
/// allows (a token minted before roles bounded actors is refused, not trusted).
pub(crate) fn permitted(
    app: &Arc<App>,
    token: TokenInfo,
    allowed: &[Role],
) -> ApiResult<TokenInfo> {
    if let Err(why) = parapet_store::check_role_actor(token.role, &token.actor) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "token {} is refused: {why}; revoke it and create one whose role matches its actor",
                token.id
            ),
        ));
    }
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
    app.touch(&token);
    Ok(token)
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
