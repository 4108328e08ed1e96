//! `POST /v1/decisions`: judge a plan or a single call with the gate, record the
//! decision (and its audit entry) through the store's group writer, answer with it.

use crate::api::{auth, bad, view, ApiError, ApiResult, App, DecisionState};
use crate::call::{decide_checked, new_request, record, CallInput};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parapet_gate::{check_plan, GateOptions};
use parapet_model::{Actor, Outcome};
use parapet_store::{hex_sha256, NewRequest, Role};
use serde::{Deserialize, Serialize};
use serde_json::{value::RawValue, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody<'a> {
    #[serde(borrow)]
    plan: Option<&'a RawValue>,
    call: Option<CallBody>,
    /// An MCP tool call (`parapet proxy mcp`): see `tool_api`.
    tool: Option<crate::tool_api::ToolBody>,
    /// Optional: must match the token's actor if given.
    actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    action: String,
    resource: Option<String>,
    #[serde(default)]
    params: Value,
    account: Option<String>,
}

pub(crate) async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let started = std::time::Instant::now();
    let result = create_inner(&app, headers, body).await;
    match &result {
        Ok((_, outcome)) => app
            .metrics
            .observe_decision(outcome, started.elapsed().as_secs_f64()),
        Err(e) => {
            app.metrics
                .decision_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(status = e.0.as_u16(), error = %e.1, "decision request failed");
        }
    }
    result.map(|(r, _)| r)
}

/// Single calls up to this size are judged on the async thread (microseconds); plans
/// and larger bodies go to the blocking pool.
const INLINE_BODY: usize = 16 << 10;

/// Whether a body names a plan (bad JSON does not: judging it answers 400).
fn holds_plan(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        plan: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Peek>(body).is_ok_and(|p| p.plan.is_some())
}

async fn create_inner(
    app: &Arc<App>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(Response, String)> {
    let app = app.clone();
    let token = auth(&app, &headers, &[Role::Agent, Role::Admin]).await?;
    let actor = Actor::parse(&token.actor)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // A frozen requester is denied before any policy runs (or the body is even read as
    // a plan or call): the decision is recorded, with the freeze as its reason. Read
    // fresh, so a freeze through any replica applies to the next request.
    let req = if let Some(f) = app.frozen_now(&token.actor).await? {
        let n = NewRequest {
            requester: token.actor.clone(),
            kind: if holds_plan(&body) { "plan" } else { "call" }.into(),
            content_hash: hex_sha256(&body),
            outcome: Outcome::Deny.as_str().into(),
            approvers_required: 0,
            delay_seconds: 0,
            ttl_seconds: app.config.ttl_seconds,
            report: crate::freeze::frozen_report(&f, &token.actor, None),
        };
        record(&app, n).await?
    } else if holds_plan(&body) {
        let n = judge_plan(&app, token.actor.clone(), actor, body).await?;
        record(&app, n).await?
    } else {
        // A call (the same path `parapet proxy aws` takes in process) or a tool call
        // (the path `parapet proxy mcp` takes in process).
        let inline = body.len() <= INLINE_BODY;
        let parse = move || parse_call(&body);
        let (parsed, claimed) = if inline {
            parse()?
        } else {
            tokio::task::spawn_blocking(parse).await.map_err(|e| {
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal error, failing closed: {e}"),
                )
            })??
        };
        crate::api::claimed_actor(&token, claimed.as_deref())?;
        let c = match parsed {
            Parsed::Call(c) => c,
            Parsed::Tool(t) => return crate::tool_api::create(&app, &token, t).await,
        };
        let input = CallInput {
            action: c.action,
            resource: c.resource,
            params: c.params,
            account: c.account,
            binding: None,
            source: "api".into(),
        };
        decide_checked(&app, &token.actor, input, None).await?
    };
    let body = WithReport {
        view: view(&req, &app.config.public_url),
        report: &req.report,
    };
    Ok((
        (StatusCode::CREATED, Json(body)).into_response(),
        req.outcome,
    ))
}

enum Parsed {
    Call(CallBody),
    Tool(crate::tool_api::ToolBody),
}

/// A call or tool body: the call and the actor it claims, if any.
fn parse_call(body: &[u8]) -> ApiResult<(Parsed, Option<String>)> {
    let parsed: CreateBody = parse_body(body)?;
    match (parsed.plan, parsed.call, parsed.tool) {
        (None, Some(c), None) => Ok((Parsed::Call(c), parsed.actor)),
        (None, None, Some(t)) => Ok((Parsed::Tool(t), parsed.actor)),
        _ => Err(exactly_one()),
    }
}

fn parse_body<'a>(body: &'a [u8]) -> ApiResult<CreateBody<'a>> {
    serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "request body is not valid JSON for this endpoint (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

fn exactly_one() -> ApiError {
    bad("give exactly one of \"plan\" (terraform show -json output), \"call\" ({action, resource, params}) or \"tool\" ({server, tool, arguments, actions})")
}

/// Judge a plan on the blocking pool (CPU work, possibly large).
async fn judge_plan(
    app: &Arc<App>,
    requester: String,
    actor: Actor,
    body: Bytes,
) -> ApiResult<NewRequest> {
    let DecisionState { incident, pins } = app.decision_state().await?;
    let a = app.clone();
    let judge = move || -> ApiResult<NewRequest> {
        let parsed = parse_body(&body)?;
        if let Some(claimed) = &parsed.actor {
            if claimed != &requester {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    format!("the token acts as {requester}, not {claimed}"),
                ));
            }
        }
        let (Some(plan), None, None) = (parsed.plan, parsed.call, parsed.tool) else {
            return Err(exactly_one());
        };
        let bytes = plan.get().as_bytes();
        let opts = GateOptions {
            actor,
            incident,
            // Reviewers see what a create sets, not only what an update changes.
            plan: parapet_gate::PlanOptions {
                critical: a.config.critical.clone(),
                pins,
                create_diffs: true,
                ..Default::default()
            },
            input_name: "request".into(),
        };
        let report = check_plan(bytes, &opts, &a.engine)
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("plan: {e}")))?;
        // Serialised once, straight from the gate's types: stored, and answered, as is.
        let text = serde_json::value::to_raw_value(&report).map_err(unserialisable)?;
        Ok(new_request(
            &a,
            requester,
            "plan",
            hex_sha256(bytes),
            &report.decision,
            text,
        ))
    };
    tokio::task::spawn_blocking(judge).await.map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error, failing closed: {e}"),
        )
    })?
}

/// A request's view with its stored report passed through as text.
#[derive(Serialize)]
pub(crate) struct WithReport<'a> {
    #[serde(flatten)]
    pub view: Value,
    pub report: &'a RawValue,
}

/// A report that cannot be written as JSON (a map with non-string keys, say) is a 500
/// that allows nothing.
fn unserialisable(e: serde_json::Error) -> ApiError {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("internal error, failing closed: the report does not serialise: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::holds_plan;

    #[test]
    fn plans_are_told_from_calls_by_their_key() {
        assert!(holds_plan(br#"{"plan": {"resource_changes": []}}"#));
        // A call whose parameters mention "plan" is still a call.
        assert!(!holds_plan(
            br#"{"call": {"action": "s3:PutObject", "params": {"plan": "x"}}}"#
        ));
        assert!(!holds_plan(b"{not json"));
    }
}
