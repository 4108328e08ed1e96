//! `POST /v1/decisions`: judge a plan or a single call with the gate, record the
//! decision (and its audit entry) through the store's group writer, answer with it.

use crate::api::{auth, bad, view, ApiError, ApiResult, App, DecisionState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parapet_gate::{check_call, check_plan, masked_params, ApiCall, CallOptions, GateOptions};
use parapet_model::{Actor, Outcome};
use parapet_store::{hex_sha256, NewRequest, Role};
use serde::{Deserialize, Serialize};
use serde_json::{json, value::RawValue, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody<'a> {
    #[serde(borrow)]
    plan: Option<&'a RawValue>,
    call: Option<CallBody>,
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
    let actor =
        Actor::parse(&token.actor).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    // Incident mode and pins come from the database (at most STATE_TTL old), so every
    // replica agrees.
    let DecisionState {
        incident,
        pins,
        freezes,
    } = app.decision_state().await?;
    let a = app.clone();
    let inline = body.len() <= INLINE_BODY && !holds_plan(&body);
    // A frozen requester is denied before any policy runs (or the body is even read as
    // a plan or call): the decision is recorded, with the freeze as its reason.
    let frozen = parapet_store::frozen(&freezes, &token.actor, parapet_store::now()).cloned();
    let judge = move || -> ApiResult<NewRequest> {
        if let Some(f) = frozen {
            return Ok(NewRequest {
                requester: token.actor.clone(),
                kind: if holds_plan(&body) { "plan" } else { "call" }.into(),
                content_hash: hex_sha256(&body),
                outcome: Outcome::Deny.as_str().into(),
                approvers_required: 0,
                delay_seconds: 0,
                ttl_seconds: a.config.ttl_seconds,
                report: crate::freeze::frozen_report(&f, &token.actor),
            });
        }
        let parsed: CreateBody = serde_json::from_slice(&body).map_err(|e| {
            bad(format!(
                "request body is not valid JSON for this endpoint (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        if let Some(claimed) = &parsed.actor {
            if claimed != &token.actor {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    format!("the token acts as {}, not {claimed}", token.actor),
                ));
            }
        }
        // The report is serialised once, straight from the gate's types: stored, and
        // answered, as this text.
        let (kind, content_hash, decision, report) = match (parsed.plan, parsed.call) {
            (Some(plan), None) => {
                let bytes = plan.get().as_bytes();
                let opts = GateOptions {
                    actor: actor.clone(),
                    incident: incident.clone(),
                    // Reviewers see what a create sets, not only what an update changes.
                    plan: parapet_gate::PlanOptions { critical: a.config.critical.clone(), pins, create_diffs: true, ..Default::default() },
                    input_name: "request".into(),
                };
                let report = check_plan(bytes, &opts, &a.engine)
                    .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("plan: {e}")))?;
                let text = serde_json::value::to_raw_value(&report).map_err(unserialisable)?;
                ("plan", hex_sha256(bytes), report.decision, text)
            }
            (None, Some(c)) => {
                let canonical = serde_json::to_vec(&json!({"action": c.action, "resource": c.resource, "params": c.params})).expect("json");
                let shown = masked_params(&c.params);
                let call = ApiCall::new(&c.action, c.resource.clone(), c.params).map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
                let opts = CallOptions { actor: actor.clone(), incident: incident.clone(), critical: a.config.critical.clone(), account: c.account };
                let report = check_call(&call, &opts, &a.engine);
                // What the approver sees of the call itself, secrets masked.
                let text = serde_json::value::to_raw_value(&CallWithRequest { report: &report, request: Shown { params: &shown } })
                    .map_err(unserialisable)?;
                ("call", hex_sha256(&canonical), report.decision, text)
            }
            _ => return Err(bad("give exactly one of \"plan\" (terraform show -json output) or \"call\" ({action, resource, params})")),
        };
        // A review always waits for people: one without a stated requirement (no policy
        // path makes one today) gets the default, never zero approvers.
        let approval = (decision.outcome == Outcome::Review).then(|| {
            decision.approval.unwrap_or(parapet_model::Approval {
                approvers: parapet_policy::DEFAULT_APPROVERS,
                delay_seconds: 0,
            })
        });
        Ok(NewRequest {
            requester: token.actor.clone(),
            kind: kind.into(),
            content_hash,
            outcome: decision.outcome.as_str().into(),
            approvers_required: approval.map_or(0, |x| x.approvers),
            delay_seconds: approval.map_or(0, |x| x.delay_seconds),
            ttl_seconds: a.config.ttl_seconds,
            report,
        })
    };
    // Judging a single call takes microseconds: done here, a thread hop would cost
    // more. Plans (and anything large) are CPU work for the blocking pool.
    let outcome = if inline {
        // A panic in the gate is a 500 that allows nothing, as from the blocking pool.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge)).map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error, failing closed: the gate panicked".into(),
            )
        })??
    } else {
        tokio::task::spawn_blocking(judge).await.map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error, failing closed: {e}"),
            )
        })??
    };
    // Queued to the store's group-commit writer and awaited without holding a thread.
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.store.queue_request(
        outcome,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let req = rx
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the decision writer stopped; failing closed".into(),
            )
        })?
        .map_err(ApiError::from)?;
    tracing::info!(id = %req.id, requester = %req.requester, kind = %req.kind, outcome = %req.outcome, "decision");
    if req.outcome == "review" {
        crate::notify::review_created(&app, &req);
    }
    let body = WithReport {
        view: view(&req, &app.config.public_url),
        report: &req.report,
    };
    Ok((
        (StatusCode::CREATED, Json(body)).into_response(),
        req.outcome,
    ))
}

/// A call's report with what the approver sees of the call itself.
#[derive(Serialize)]
struct CallWithRequest<'a> {
    #[serde(flatten)]
    report: &'a parapet_model::CallReport,
    request: Shown<'a>,
}

#[derive(Serialize)]
struct Shown<'a> {
    params: &'a Value,
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
