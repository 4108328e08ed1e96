//! The HTTP half of MCP tool calls and executions:
//! - `POST /v1/decisions` with `{"tool": {"server", "tool", "arguments", "actions": [..]
//!   | "unmapped": why | "unreadable": why}}` (agent, admin): judged and recorded as
//!   [`decide_tool`](crate::tool::decide_tool) does in process; the binding is made
//!   here from the token's actor, never taken from the body. 201 with a new decision;
//!   200 with `"attached": "approved"` (an earlier approval of this exact call, consumed
//!   now: run it) or `"attached": "waiting"` (an earlier review of it, still open);
//!   200 `{"outcome": "allow", "recorded": false}` for pure reads the pack allows
//!   (not recorded, as `parapet proxy aws` does not record them).
//! - `POST /v1/decisions/{id}/execute` (agent, admin; the requester only): consume an
//!   approved decision once. 200 `{"executed": true, ...}`; 409 when it is not
//!   executable (pending, rejected, expired, used) or its requester is frozen.
//! - `GET /v1/whoami` (any role): the token's actor and role.
//! - `POST /v1/tools/visible` (agent, admin): whether the actor may see a tool.

use crate::api::{auth, bad, blocking, view, ApiError, ApiResult, App};
use crate::tool::{decide_tool, ToolAction, ToolDecision, ToolInput, ToolMapping};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parapet_store::{Role, TokenInfo};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Longest server or tool name accepted.
const MAX_NAME: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolBody {
    server: String,
    tool: String,
    #[serde(default)]
    arguments: Map<String, Value>,
    actions: Option<Vec<ToolAction>>,
    unmapped: Option<String>,
    unreadable: Option<String>,
}

impl ToolBody {
    fn input(self) -> ApiResult<ToolInput> {
        for (what, v) in [("server", &self.server), ("tool", &self.tool)] {
            if v.trim().is_empty() || v.len() > MAX_NAME || v.chars().any(char::is_control) {
                return Err(bad(format!(
                    "tool.{what} must be a name of 1 to {MAX_NAME} characters without control characters"
                )));
            }
        }
        let mapping = match (self.actions, self.unmapped, self.unreadable) {
            (Some(a), None, None) => ToolMapping::Actions(a),
            (None, Some(w), None) => ToolMapping::Unmapped(w),
            (None, None, Some(w)) => ToolMapping::Unreadable(w),
            _ => {
                return Err(bad(
                    "tool: give exactly one of \"actions\" ([{action, resource, params}]), \"unmapped\" (why) or \"unreadable\" (why)",
                ))
            }
        };
        Ok(ToolInput {
            server: self.server,
            tool: self.tool,
            arguments: self.arguments,
            mapping,
        })
    }
}

/// Judge a tool call for the token's actor; the response and the outcome (metrics).
pub(crate) async fn create(
    app: &Arc<App>,
    token: &TokenInfo,
    body: ToolBody,
) -> ApiResult<(Response, String)> {
    let input = body.input()?;
    let (status, attached, r) = match decide_tool(app, &token.actor, input).await? {
        ToolDecision::Read => {
            let body = json!({"outcome": "allow", "state": "allowed", "executable": true, "recorded": false});
            return Ok(((StatusCode::OK, Json(body)).into_response(), "allow".into()));
        }
        ToolDecision::Recorded(r) => (StatusCode::CREATED, None, r),
        ToolDecision::Approved(r) => (StatusCode::OK, Some("approved"), r),
        ToolDecision::Waiting(r) => (StatusCode::OK, Some("waiting"), r),
    };
    let outcome = match attached {
        Some("approved") => "allow".to_string(),
        _ => r.outcome.clone(),
    };
    let mut shown = view(&r, &app.config.public_url);
    if let Some(a) = attached {
        shown["attached"] = json!(a);
    }
    let body = crate::decide::WithReport {
        view: shown,
        report: &r.report,
    };
    Ok(((status, Json(body)).into_response(), outcome))
}

/// `POST /v1/decisions/{id}/execute`: one approval, one execution, by its requester.
pub(crate) async fn execute(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, &[Role::Agent, Role::Admin]).await?;
    let a = app.clone();
    let found = {
        let id = id.clone();
        blocking(move || a.store.request(&id)).await?
    }
    .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such decision request".into()))?;
    if found.requester != token.actor {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "decision {id} was requested by {}, not {}: only its requester may execute it",
                found.requester, token.actor
            ),
        ));
    }
    if !crate::tool::consume(&app, &id, &token.actor).await? {
        let state = found.state(parapet_store::now());
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "decision {id} is not executable: it is {} (only an approved review, once)",
                serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
        ));
    }
    let a = app.clone();
    let now = blocking(move || a.store.request(&id))
        .await?
        .unwrap_or(found);
    let mut shown = view(&now, &app.config.public_url);
    shown["executed_now"] = json!(true);
    Ok(Json(shown))
}

/// `GET /v1/whoami`: who this token acts as.
pub(crate) async fn whoami(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    Ok(Json(json!({
        "actor": token.actor,
        "role": token.role.as_str(),
        "token": token.id,
        "name": token.name,
    })))
}

/// Why a token may not call tools.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// Unknown, revoked, expired, or of a role that may not call tools.
    #[error("{0}")]
    Refused(String),
    /// The store could not answer (fail closed).
    #[error("{0}")]
    Unavailable(String),
}

/// In process (`parapet proxy mcp --database`): the live token behind `secret`, if its
/// role may call tools (agent, admin), through the same short cache as the API.
pub async fn tool_caller(app: &Arc<App>, secret: &str) -> Result<TokenInfo, CallerError> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(CallerError::Refused("no parapet token given".into()));
    }
    crate::api::token_for(app, secret.to_string(), TOOL_ROLES)
        .await
        .map_err(|ApiError(status, why)| {
            if status.is_server_error() {
                CallerError::Unavailable(why)
            } else {
                CallerError::Refused(why)
            }
        })
}

/// Who may call tools through the gateway.
const TOOL_ROLES: &[Role] = &[Role::Agent, Role::Admin];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisibleBody {
    server: String,
    tool: String,
    /// The tool's static actions; absent when they depend on its arguments.
    actions: Option<Vec<ToolAction>>,
}

/// `POST /v1/tools/visible` (agent, admin): whether the token's actor may see a tool
/// (`{"visible": bool}`); see [`tool_visible`](crate::tool::tool_visible).
pub(crate) async fn visible(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, TOOL_ROLES).await?;
    let b: VisibleBody = crate::api::json_body(
        &body,
        "a visibility question is {\"server\", \"tool\", \"actions\": [{action, resource, params, access}]}",
    )?;
    let shown =
        crate::tool::tool_visible(&app, &token.actor, &b.server, &b.tool, b.actions.as_deref())?;
    Ok(Json(json!({"visible": shown})))
}
