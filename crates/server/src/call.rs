//! Judging one AWS API call and recording the decision: the path `POST /v1/decisions`
//! takes for `{"call": ...}` and that `parapet proxy aws` calls in process. Freeze
//! check (fresh, every time), the gate (`check_call`, with incident mode), what the
//! approver is shown of the call (parameters masked, where it came from, what the
//! approval binds), the store write with its audit entry, the chat notification.

use crate::api::App;
use parapet_gate::{check_call, masked_params, ApiCall, CallOptions};
use parapet_model::{Actor, Outcome};
use parapet_store::{hex_sha256, Freeze, NewRequest, Request, StoreError};
use serde::Serialize;
use serde_json::{json, value::RawValue, Value};
use std::sync::Arc;

/// One call to judge.
#[derive(Debug, Clone)]
pub struct CallInput {
    /// The call as `service:Operation` in any spelling the gate reads
    /// (`iam:AttachRolePolicy`, `rds:delete-db-instance`).
    pub action: String,
    /// The ARN or identifier acted on, when known; else the gate finds it in `params`.
    pub resource: Option<String>,
    /// The call's parameters in the API's own shape.
    pub params: Value,
    /// The AWS account the call goes to, when known.
    pub account: Option<String>,
    /// What the approval binds to (SHA-256 hex), instead of the digest of action,
    /// resource and parameters: the proxy binds caller, service:operation, canonical
    /// parameters and policy version. A retried call with the same binding finds its
    /// approval; a changed one needs its own.
    pub binding: Option<String>,
    /// Where the call came from: `api` (`POST /v1/decisions`) or `proxy`
    /// (`parapet proxy aws`); shown to approvers and in the audit log.
    pub source: String,
}

/// Why a call got no decision. Nothing here allows: callers answer with a denial.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The actor (from the caller's credential) is not `kind:name`.
    #[error("actor {actor}: {why}")]
    Actor { actor: String, why: String },
    /// The call cannot be judged: an action or parameters of the wrong shape.
    #[error("call cannot be judged: {0}")]
    Call(#[from] parapet_gate::CallError),
    /// A binding that is not a SHA-256 digest in lowercase hex.
    #[error("binding {0:?} is not a SHA-256 digest (64 lowercase hex digits)")]
    Binding(String),
    /// An MCP tool call that cannot be judged as given (too many actions).
    #[error("tool call cannot be judged: {0}")]
    Tool(String),
    /// The decision could not be read or recorded (database down, writer gone).
    #[error("decision store: {0}")]
    Store(#[from] StoreError),
    /// The gate panicked or its report could not be written.
    #[error("internal error, failing closed: {0}")]
    Internal(String),
}

/// Parameters larger than this (roughly, in bytes) are judged on the blocking pool.
pub(crate) const INLINE_PARAMS: usize = 16 << 10;

/// Judge `call` by `actor` (the caller's credential's actor) and record the decision:
/// a frozen actor is denied before any policy runs; a review notifies chat. Returns the
/// stored request (its `outcome`, `id`, `content_hash`).
pub async fn decide_call(
    app: &Arc<App>,
    actor: &str,
    call: CallInput,
) -> Result<Request, DecideError> {
    let frozen = app.frozen_now(actor).await?;
    decide_checked(app, actor, call, frozen).await
}

/// [`decide_call`] once the freeze was looked up (the API route looks before reading
/// the body).
pub(crate) async fn decide_checked(
    app: &Arc<App>,
    actor: &str,
    call: CallInput,
    frozen: Option<Freeze>,
) -> Result<Request, DecideError> {
    let parsed = Actor::parse(actor).map_err(|e| DecideError::Actor {
        actor: actor.into(),
        why: e.to_string(),
    })?;
    if let Some(b) = &call.binding {
        if b.len() != 64 || !b.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DecideError::Binding(b.clone()));
        }
    }
    let new = match frozen {
        Some(f) => frozen_request(app, actor, call, &f),
        None => {
            let incident = app.decision_state().await?.incident;
            let inline = approx_size(&call.params) <= INLINE_PARAMS;
            let (a, who) = (app.clone(), actor.to_string());
            let judge = move || judge(&a, who, parsed, incident, call);
            if inline {
                // Microseconds: a thread hop would cost more. A panic allows nothing.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge))
                    .map_err(|_| DecideError::Internal("the gate panicked".into()))??
            } else {
                tokio::task::spawn_blocking(judge)
                    .await
                    .map_err(|e| DecideError::Internal(e.to_string()))??
            }
        }
    };
    record(app, new).await
}

/// Roughly how many bytes a value takes as JSON, stopping once past the inline limit.
pub(crate) fn approx_size(v: &Value) -> usize {
    fn walk(v: &Value, acc: &mut usize) {
        if *acc > INLINE_PARAMS {
            return;
        }
        match v {
            Value::String(s) => *acc += s.len() + 2,
            Value::Array(a) => a.iter().for_each(|x| walk(x, acc)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                *acc += k.len() + 3;
                walk(x, acc)
            }),
            _ => *acc += 8,
        }
    }
    let mut n = 0;
    walk(v, &mut n);
    n
}

/// The digest an approval of this call binds to.
fn content_hash(call: &CallInput) -> String {
    match &call.binding {
        Some(b) => b.clone(),
        None => hex_sha256(
            &serde_json::to_vec(
                &json!({"action": call.action, "resource": call.resource, "params": call.params}),
            )
            .expect("a JSON value serialises"),
        ),
    }
}

/// What the approver sees of the call itself, besides the gate's report.
#[derive(Serialize)]
struct Shown<'a> {
    /// Secrets masked.
    params: &'a Value,
    source: &'a str,
    /// Set when the caller bound the approval itself (the proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    binding: Option<&'a str>,
    policy_version: &'a str,
}

#[derive(Serialize)]
struct CallWithRequest<'a> {
    #[serde(flatten)]
    report: &'a parapet_model::CallReport,
    request: Shown<'a>,
}

fn judge(
    app: &App,
    requester: String,
    actor: Actor,
    incident: Option<String>,
    call: CallInput,
) -> Result<NewRequest, DecideError> {
    let content_hash = content_hash(&call);
    let shown = masked_params(&call.params);
    let api = ApiCall::new(&call.action, call.resource.clone(), call.params)?;
    let opts = CallOptions {
        actor,
        incident,
        critical: app.config.critical.clone(),
        account: call.account,
    };
    let report = check_call(&api, &opts, &app.engine);
    let text = serde_json::value::to_raw_value(&CallWithRequest {
        report: &report,
        request: Shown {
            params: &shown,
            source: &call.source,
            binding: call.binding.as_deref(),
            policy_version: app.engine.version(),
        },
    })
    .map_err(|e| DecideError::Internal(format!("the report does not serialise: {e}")))?;
    Ok(new_request(
        app,
        requester,
        "call",
        content_hash,
        &report.decision,
        text,
    ))
}

/// A decision to record: a review always waits for people (one without a stated
/// requirement gets the default, never zero approvers).
pub(crate) fn new_request(
    app: &App,
    requester: String,
    kind: &str,
    content_hash: String,
    decision: &parapet_model::Decision,
    report: Box<RawValue>,
) -> NewRequest {
    let approval = (decision.outcome == Outcome::Review).then(|| {
        decision.approval.unwrap_or(parapet_model::Approval {
            approvers: parapet_policy::DEFAULT_APPROVERS,
            delay_seconds: 0,
        })
    });
    NewRequest {
        requester,
        kind: kind.into(),
        content_hash,
        outcome: decision.outcome.as_str().into(),
        approvers_required: approval.map_or(0, |x| x.approvers),
        delay_seconds: approval.map_or(0, |x| x.delay_seconds),
        ttl_seconds: app.config.ttl_seconds,
        report,
    }
}

/// The denial of a frozen actor's call: no policy ran; the call is shown (masked) with
/// where it came from.
fn frozen_request(app: &App, actor: &str, call: CallInput, f: &Freeze) -> NewRequest {
    let shown = json!({
        "action": call.action,
        "resource": call.resource,
        "request": {"params": masked_params(&call.params), "source": call.source, "binding": call.binding},
    });
    NewRequest {
        requester: actor.into(),
        kind: "call".into(),
        content_hash: content_hash(&call),
        outcome: Outcome::Deny.as_str().into(),
        approvers_required: 0,
        delay_seconds: 0,
        ttl_seconds: app.config.ttl_seconds,
        report: crate::freeze::frozen_report(f, actor, Some(shown)),
    }
}

/// Queue a decision to the store's group writer and await it without holding a
/// thread; a review is posted to chat.
pub(crate) async fn record(app: &Arc<App>, n: NewRequest) -> Result<Request, DecideError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.store.queue_request(
        n,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let req = rx
        .await
        .map_err(|_| DecideError::Internal("the decision writer stopped".into()))??;
    tracing::info!(id = %req.id, requester = %req.requester, kind = %req.kind, outcome = %req.outcome, "decision");
    if req.outcome == "review" {
        crate::notify::review_created(app, &req);
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_estimated_and_bounded() {
        assert!(approx_size(&json!({"a": "b"})) < 20);
        let big = json!({"ZipFile": "x".repeat(1 << 20)});
        assert!(approx_size(&big) > INLINE_PARAMS);
        let many = Value::Array(vec![json!("abcdefgh"); 100_000]);
        assert!(approx_size(&many) > INLINE_PARAMS);
    }

    #[test]
    fn the_api_binding_is_the_digest_of_the_call_and_a_given_one_wins() {
        let call = |binding: Option<String>| CallInput {
            action: "iam:AttachRolePolicy".into(),
            resource: None,
            params: json!({"RoleName": "r"}),
            account: None,
            binding,
            source: "api".into(),
        };
        let digest = content_hash(&call(None));
        assert_eq!(digest.len(), 64);
        assert_eq!(
            digest,
            content_hash(&call(None)),
            "the same call, the same digest"
        );
        let mut other = call(None);
        other.params = json!({"RoleName": "s"});
        assert_ne!(
            digest,
            content_hash(&other),
            "other parameters, another digest"
        );
        assert_eq!(content_hash(&call(Some("ab".repeat(32)))), "ab".repeat(32));
    }
}
