//! API tokens over HTTP (admin only): create, list (never a secret), revoke. Every
//! change is audited under the admin token's actor.

use crate::api::{auth, bad, blocking, json_body, ApiError, ApiResult, App};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parapet_store::{rfc3339, Role, TokenInfo};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
    actor: String,
    /// RFC 3339; absent: the token does not expire.
    expires: Option<String>,
    /// An AWS key for `parapet proxy aws` instead of an API token: the answer holds its
    /// access key id and secret access key (derived, never stored), once.
    #[serde(default)]
    aws: bool,
}

/// A token as listed: what it is and its state, never its secret (only a hash of it
/// is kept anyway).
pub fn shown(t: &TokenInfo, now: i64) -> Value {
    let at = |v: Option<i64>| v.map(rfc3339);
    let state = if t.revoked_at.is_some() {
        "revoked"
    } else if !t.live(now) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": t.id, "name": t.name, "role": t.role, "actor": t.actor, "state": state,
        "created_at": rfc3339(t.created_at), "expires_at": at(t.expires_at),
        "revoked_at": at(t.revoked_at), "last_used_at": at(t.last_used_at),
        "aws_access_key_id": t.aws_access_key_id,
    })
}

/// `POST /v1/tokens` `{"name", "role", "actor", "expires", "aws"}`: 201 with the token
/// and its secret, shown this once; with `"aws": true` (agent or admin role, and a
/// server started with a credential key) an AWS key for `parapet proxy aws` instead:
/// `access_key_id` and `secret_access_key`, shown this once.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let admin = auth(&app, &headers, &[Role::Admin]).await?;
    let b: NewToken = json_body(
        &body,
        "a new token is {\"name\", \"role\", \"actor\", \"expires\", \"aws\"}",
    )?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| bad(format!("role {:?}: use agent, approver or admin", b.role)))?;
    let expires = match &b.expires {
        None => None,
        Some(s) => Some(
            parapet_gate::parse_rfc3339(s)
                .ok_or_else(|| bad(format!("expires {s:?} is not an RFC 3339 time")))?,
        ),
    };
    let a = app.clone();
    let by = admin.actor.clone();
    if b.aws {
        let Some(key) = app.config.credential_key.clone() else {
            return Err(ApiError(
                StatusCode::CONFLICT,
                "this decision service has no credential key, so it cannot issue AWS keys: \
                 start it with --credential-key-file PATH (the same file parapet proxy aws uses)"
                    .into(),
            ));
        };
        let (info, id) = blocking(move || {
            a.store
                .create_aws_token(&b.name, role, &b.actor, expires, &by)
        })
        .await?;
        tracing::info!(token = %info.id, role = info.role.as_str(), actor = %info.actor, access_key_id = %id, by = %admin.actor, "AWS key created");
        let mut v = shown(&info, parapet_store::now());
        v["secret_access_key"] = json!(parapet_store::aws_secret(&key, &id));
        v["access_key_id"] = json!(id);
        return Ok((StatusCode::CREATED, Json(v)));
    }
    let (info, secret) =
        blocking(move || a.store.create_token(&b.name, role, &b.actor, expires, &by)).await?;
    tracing::info!(token = %info.id, role = info.role.as_str(), actor = %info.actor, by = %admin.actor, "token created");
    let mut v = shown(&info, parapet_store::now());
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /v1/tokens`: every token, oldest first.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    auth(&app, &headers, &[Role::Admin]).await?;
    let a = app.clone();
    let all = blocking(move || a.store.tokens()).await?;
    let now = parapet_store::now();
    Ok(Json(Value::Array(
        all.iter().map(|t| shown(t, now)).collect(),
    )))
}

/// `POST /v1/tokens/{id}/revoke`: refused from now on, here at once and on every
/// other replica within `TOKEN_TTL`; its web UI sessions end.
pub(crate) async fn revoke(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let admin = auth(&app, &headers, &[Role::Admin]).await?;
    let a = app.clone();
    let by = admin.actor.clone();
    let tid = id.clone();
    let revoked = blocking(move || a.store.revoke_token(&tid, &by)).await;
    app.forget_tokens();
    if !revoked? {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no live token {id} (unknown or already revoked)"),
        ));
    }
    tracing::info!(token = %id, by = %admin.actor, "token revoked");
    Ok(Json(json!({"id": id, "revoked": true})))
}
