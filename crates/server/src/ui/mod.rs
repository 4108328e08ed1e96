//! The web UI at `/ui`: the review queue with explanations and diffs, one-click
//! approve/reject, history, the incident switch, pins, frozen actors (the kill
//! switch) and the audit log.
//!
//! Login takes an approver or admin token and starts a server-side session: the
//! HttpOnly, SameSite=Strict cookie (scoped to `/ui`) holds a random session id, never
//! the token; the database keeps only its hash, its expiry and the token it acts for,
//! so logout, the token's expiry or its revocation end it on every replica. Every form
//! carries a CSRF token derived from the session id (so any replica can check it) and
//! cross-origin posts are refused.

mod freeze;
mod render;

use crate::api::{blocking, cached, cast_vote, permitted, state_write, token_for, ApiError, App};
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use parapet_store::{hex_sha256, Role, TokenInfo};
use std::collections::HashMap;
use std::sync::Arc;

const COOKIE: &str = "parapet_session";

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/ui", get(queue))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/history", get(history))
        .route("/ui/decisions/{id}", get(decision))
        // The same page under the name the proxy's messages use.
        .route(
            "/ui/requests/{id}",
            get(|Path(id): Path<String>| async move {
                // Decision ids are `dec_` and hex: anything else names no request.
                if id.is_empty() || !id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    return StatusCode::NOT_FOUND.into_response();
                }
                Redirect::to(&format!("/ui/decisions/{id}")).into_response()
            }),
        )
        .route("/ui/decisions/{id}/vote", post(vote))
        .route("/ui/incidents", get(incidents).post(open_incident))
        .route("/ui/incidents/{id}/resolve", post(resolve_incident))
        .route("/ui/pins", get(pins).post(add_pin))
        .route("/ui/pins/remove", post(remove_pin))
        .route("/ui/audit", get(audit))
        .route("/ui/freezes", get(freeze::list).post(freeze::create))
        .route("/ui/freezes/clear", post(freeze::clear))
}

/// A logged-in reviewer.
struct Session {
    token: TokenInfo,
    csrf: String,
}

fn csrf_for(session_id: &str) -> String {
    hex_sha256(format!("parapet-ui-csrf\0{session_id}").as_bytes())
}

fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The UI's failures are pages, not JSON.
struct UiError(Box<Response>);

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn redirect_login() -> UiError {
    UiError(Box::new(Redirect::to("/ui/login").into_response()))
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let status = e.0;
        let page = render::page(
            "Error",
            None,
            &[],
            Some(&e.1),
            "<p><a href=/ui>Back</a></p>",
        );
        UiError(Box::new((status, Html(page)).into_response()))
    }
}

type UiResult = Result<Response, UiError>;

async fn session(app: &Arc<App>, headers: &HeaderMap) -> Result<Session, UiError> {
    let Some(id) = cookie_session(headers) else {
        return Err(redirect_login());
    };
    // Its own key space in the cache: a token's secret used as a cookie must never
    // find the token's cached entry.
    let key = format!("session:{}", hex_sha256(id.as_bytes()));
    let lookup = id.clone();
    let found = cached(app, &key, || {
        let a = app.clone();
        async move { blocking(move || Ok(a.store.session(&lookup)?.map(|(t, _)| t))).await }
    })
    .await?;
    // Unknown, ended, expired, or its token revoked or expired: log in again.
    let Some(token) = found else {
        return Err(redirect_login());
    };
    Ok(Session {
        token: permitted(app, token, &[Role::Approver, Role::Admin])?,
        csrf: csrf_for(&id),
    })
}

/// For every state-changing form: same origin, and the session's CSRF token.
async fn session_for_post(
    app: &Arc<App>,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, UiError> {
    same_origin(headers)?;
    let s = session(app, headers).await?;
    let given = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !crate::ops::ct_eq(given.as_bytes(), s.csrf.as_bytes()) {
        tracing::warn!(actor = %s.token.actor, "web UI form without a valid CSRF token");
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "this form is stale or did not come from parapet (CSRF check failed); reload the page and try again".into(),
        )
        .into());
    }
    Ok(s)
}

/// Browsers send `Origin` on form posts; when present it must name this host.
fn same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(origin) = text(header::ORIGIN) else {
        return Ok(());
    };
    let host = origin.split_once("://").map(|(_, host)| host);
    if host.is_some() && host == text(header::HOST) {
        return Ok(());
    }
    Err(ApiError(
        StatusCode::FORBIDDEN,
        "cross-origin form submission refused".into(),
    )
    .into())
}

/// A form only admins may post (incidents, pins).
async fn admin_form(
    app: &Arc<App>,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, UiError> {
    let s = session_for_post(app, headers, form).await?;
    if s.token.role != Role::Admin {
        return Err(ApiError(StatusCode::FORBIDDEN, "this needs an admin token".into()).into());
    }
    Ok(s)
}

/// Render a page with the incident banner.
async fn show(app: &Arc<App>, s: &Session, title: &str, body: String) -> UiResult {
    let a = app.clone();
    let open = blocking(move || a.store.open_incidents()).await?;
    let html = render::page(title, Some(&s.token), &open, None, &body);
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(html),
    )
        .into_response())
}

async fn login_page() -> Html<String> {
    Html(render::login(None))
}

async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    same_origin(&headers)?;
    let secret = f
        .get("token")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let refuse =
        |msg: &str| Ok((StatusCode::UNAUTHORIZED, Html(render::login(Some(msg)))).into_response());
    if secret.is_empty() || secret.len() > 200 || secret.contains(';') {
        return refuse("Paste an API token.");
    }
    match token_for(&app, secret.clone(), &[Role::Approver, Role::Admin]).await {
        Ok(t) => {
            let a = app.clone();
            let token = t.clone();
            let id = blocking(move || {
                a.store
                    .create_session(&token, parapet_store::SESSION_TTL_SECONDS)
            })
            .await?;
            tracing::info!(actor = %t.actor, token = %t.id, "web UI login");
            let secure = if app.config.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let now = parapet_store::now();
            let age = t
                .expires_at
                .map_or(parapet_store::SESSION_TTL_SECONDS, |e| {
                    (e - now).clamp(1, parapet_store::SESSION_TTL_SECONDS)
                });
            let cookie = format!(
                "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ui")).into_response())
        }
        Err(e) if e.0 == StatusCode::UNAUTHORIZED => {
            tracing::warn!("web UI login with an unknown token");
            refuse("That token is unknown or revoked.")
        }
        Err(e) if e.0 == StatusCode::FORBIDDEN => {
            refuse("Only approver and admin tokens can use the web UI.")
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    same_origin(&headers)?;
    if let Some(id) = cookie_session(&headers) {
        let a = app.clone();
        let ended = blocking(move || a.store.end_session(&id)).await;
        app.forget_tokens();
        ended?;
    }
    let cookie = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ui/login")).into_response())
}

async fn queue(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let pending = blocking(move || a.store.pending()).await?;
    show(&app, &s, "Queue", render::queue(&pending)).await
}

async fn history(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let recent = blocking(move || a.store.recent(200)).await?;
    show(
        &app,
        &s,
        "History",
        render::history(&recent, parapet_store::now()),
    )
    .await
}

async fn decision(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let r = blocking(move || a.store.request(&id))
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such decision request".into()))?;
    let panel = freeze::decision_panel(&app, &r, &s.csrf).await?;
    let body = panel + &render::decision(&r, parapet_store::now(), &s.token, &s.csrf);
    show(&app, &s, &format!("Decision {}", r.id), body).await
}

async fn vote(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = session_for_post(&app, &headers, &f).await?;
    let approve = match f.get("verdict").map(String::as_str) {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return Err(ApiError(StatusCode::BAD_REQUEST, "choose approve or reject".into()).into())
        }
    };
    let hash = f.get("content_hash").cloned().unwrap_or_default();
    cast_vote(
        &app,
        s.token,
        id.clone(),
        approve,
        hash,
        f.get("reason").cloned(),
    )
    .await?;
    Ok(Redirect::to(&format!("/ui/decisions/{id}")).into_response())
}

async fn incidents(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let open = blocking(move || a.store.open_incidents()).await?;
    let body = render::incidents(&open, s.token.role == Role::Admin, &s.csrf);
    show(&app, &s, "Incidents", body).await
}

async fn open_incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = admin_form(&app, &headers, &f).await?;
    let id = crate::ops::incident_id(f.get("id").map(String::as_str).unwrap_or_default())?;
    let title = f.get("title").cloned().unwrap_or_default();
    let a = app.clone();
    state_write(&app, move || {
        a.store.open_incident(&id, "manual", &title, &s.token.actor)
    })
    .await?;
    Ok(Redirect::to("/ui/incidents").into_response())
}

async fn resolve_incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = admin_form(&app, &headers, &f).await?;
    let a = app.clone();
    state_write(&app, move || a.store.resolve_incident(&id, &s.token.actor)).await?;
    Ok(Redirect::to("/ui/incidents").into_response())
}

async fn pins(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let pins = blocking(move || a.store.pins()).await?;
    let body = render::pins(
        &pins,
        s.token.role == Role::Admin,
        &s.csrf,
        parapet_store::now(),
    );
    show(&app, &s, "Pins", body).await
}

async fn add_pin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = admin_form(&app, &headers, &f).await?;
    let field = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let value = match field("value") {
        None => None,
        Some(v) => Some(serde_json::from_str(&v).map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("the protected value must be JSON: {e}"),
            )
        })?),
    };
    let new = crate::ops::NewPin {
        id: None,
        resource: field("resource").unwrap_or_default(),
        attribute: field("attribute").unwrap_or_default(),
        value,
        mode: field("mode"),
        reason: field("reason").unwrap_or_default(),
        incident: field("incident"),
        expires: field("expires"),
        actor: None,
    };
    let pin = crate::ops::stored_pin(new, &s.token.actor)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let a = app.clone();
    state_write(&app, move || a.store.add_pin(&pin)).await?;
    Ok(Redirect::to("/ui/pins").into_response())
}

async fn remove_pin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = admin_form(&app, &headers, &f).await?;
    let id = f.get("id").cloned().unwrap_or_default();
    let a = app.clone();
    state_write(&app, move || a.store.remove_pin(&id, &s.token.actor)).await?;
    Ok(Redirect::to("/ui/pins").into_response())
}

async fn audit(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let snapshot = blocking(move || a.store.audit_snapshot()).await?;
    let v = parapet_store::verify_snapshot(&snapshot);
    show(
        &app,
        &s,
        "Audit",
        render::audit(&snapshot.0, v.problem.as_ref()),
    )
    .await
}
