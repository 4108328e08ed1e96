//! The per-actor kill switch over HTTP: `POST /v1/freezes` (approver, admin: freezing
//! only takes freedom away; an agent token, the detection pipeline's, one other actor
//! naming an incident), `POST /v1/freezes/{actor}/clear` and
//! `DELETE /v1/freezes/{actor}` (admin), `GET /v1/freezes[?history=true]` (any role).
//! A freeze is read fresh by every decision and every proxied request
//! ([`App::frozen_now`](crate::App::frozen_now): one indexed lookup, no cache), so it
//! applies from the next request on every replica.

use crate::api::{auth, blocking, json_body, state_write, ApiError, ApiResult, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parapet_store::{Freeze, NewFreeze, Role};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Who may freeze: people, and the detection pipeline within the limits in [`create`].
const DETECT: &[Role] = &[Role::Agent, Role::Approver, Role::Admin];
const LOOSEN: &[Role] = &[Role::Admin];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeBody {
    /// Who is frozen: `agent:kiro`, or a whole kind `agent:*`. Who froze it is the
    /// token's actor, never the body's.
    actor: String,
    reason: String,
    incident: Option<String>,
    /// RFC 3339; without it the freeze lasts until a person clears it.
    expires: Option<String>,
}

pub(crate) async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let token = auth(&app, &headers, DETECT).await?;
    let b: FreezeBody = json_body(
        &body,
        "a freeze is {\"actor\": \"agent:kiro\", \"reason\": \"...\", \"incident\": \"INC-7\", \"expires\": \"RFC 3339\"}",
    )?;
    // The detection pipeline (`trail scan|watch --freeze-agents`, an agent token) may
    // freeze one other actor, naming the incident; a whole kind (`agent:*`) and anything
    // without an incident are people's to freeze.
    if token.role == Role::Agent {
        let actor = b.actor.trim();
        let named = b.incident.as_deref().is_some_and(|i| !i.trim().is_empty());
        // Automation only: a person (human:...) is never frozen by automation, so an
        // agent's token cannot lock out the approvers and admins who would clear it.
        let automation = ["agent:", "pipeline:", "service:"]
            .iter()
            .any(|k| actor.strip_prefix(k).is_some_and(|n| !n.is_empty()));
        if !named || actor.contains('*') || actor == token.actor || !automation {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "an agent token may freeze only one other agent, pipeline or service, naming the incident (detection); other freezes need an approver or admin".into(),
            ));
        }
    }
    let expires_at = match &b.expires {
        None => None,
        Some(s) => Some(parapet_gate::parse_rfc3339(s).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("expires {s:?} is not an RFC 3339 time"),
            )
        })?),
    };
    let n = NewFreeze {
        actor: b.actor.trim().to_string(),
        reason: b.reason,
        incident: b.incident.map(|i| i.trim().to_string()),
        expires_at,
        by: token.actor.clone(),
    };
    let a = app.clone();
    let done = state_write(&app, move || a.store.freeze(&n)).await?;
    // Long-polling agents whose requests were rejected hear it now.
    app.notify_changed();
    tracing::warn!(actor = %done.freeze.actor, by = %done.freeze.frozen_by, rejected = done.rejected.len(), "frozen");
    Ok((StatusCode::CREATED, Json(json!(done))))
}

pub(crate) async fn clear(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(actor): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, LOOSEN).await?;
    let a = app.clone();
    let who = actor.clone();
    let cleared = state_write(&app, move || a.store.clear_freeze(&who, &token.actor)).await?;
    match cleared {
        Some(f) => {
            tracing::warn!(actor = %f.actor, by = ?f.cleared_by, "freeze cleared");
            Ok(Json(json!(f)))
        }
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "{actor} is not frozen (a kind freeze is cleared by its pattern, e.g. agent:*)"
            ),
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    history: bool,
}

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Freeze>>> {
    auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    let a = app.clone();
    Ok(Json(blocking(move || a.store.freezes(q.history)).await?))
}

/// The stored report of a decision refused because its requester is frozen: no
/// policy ran; the one deciding "policy" is the freeze, in its own words. `call`: what
/// is shown of a call (action, resource, masked parameters, source), when it was read.
pub(crate) fn frozen_report(
    f: &Freeze,
    requester: &str,
    call: Option<Value>,
) -> Box<serde_json::value::RawValue> {
    let reason = f.reason_for(requester);
    let mut report = json!({
        "decision": {
            "outcome": "deny",
            "policies": [{"id": "frozen", "outcome": "deny", "reason": reason}],
        },
        "frozen": f,
    });
    if let Some(Value::Object(fields)) = call {
        report.as_object_mut().expect("an object").extend(fields);
    }
    serde_json::value::to_raw_value(&report).expect("a JSON value serialises")
}
