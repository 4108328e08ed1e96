//! Who is asking: bearer tokens (and, for the web UI, sessions) looked up by their
//! hash through a short per-replica cache, and what their role allows.

use crate::api::{blocking, ApiError, ApiResult, App, TOKEN_TTL};
use axum::http::{HeaderMap, StatusCode};
use parapet_store::{hex_sha256, Role, TokenInfo};
use std::sync::Arc;

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
