//! Judging a routed call with the decision service's own gate, pack, incident mode and
//! store: pure reads in process without a store write, everything else recorded
//! through `parapet_server::decide_call`, approvals bound to the exact call.

use crate::handle::Shared;
use crate::reply::Refusal;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{Actor, CallReport, Outcome};
use parapet_store::{Request, State, StoreError};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How stale another replica's incident may be here (as in the decision service).
const INCIDENT_TTL: Duration = Duration::from_secs(1);

/// What the gate said, and what was recorded.
#[derive(Debug)]
pub enum Verdict {
    /// A pure read (List/Read, no effects) the pack allows: forwarded, not recorded.
    Read,
    /// Judged in process only (dry-run and observe modes record nothing).
    Unrecorded(Box<CallReport>),
    /// Recorded: allow, deny or review, as the store has it.
    Recorded(Box<Request>),
    /// An earlier review of this exact call, approved: consumed for this execution.
    Approved(Box<Request>),
    /// An earlier review of this exact call, still waiting: hold on it.
    Waiting(Box<Request>),
}

/// Incident mode as last read from the store.
#[derive(Default)]
pub struct Incidents(Mutex<Option<(Instant, Option<String>)>>);

impl Incidents {
    async fn current(&self, s: &Arc<Shared>) -> Result<Option<String>, StoreError> {
        if let Some((at, v)) = &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < INCIDENT_TTL {
                return Ok(v.clone());
            }
        }
        let app = s.app.clone();
        let fresh = blocking(move || {
            let open = app.store.open_incidents()?;
            Ok((!open.is_empty()).then(|| {
                open.iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }))
        })
        .await?;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

/// Store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Db(format!("internal error: {e}")))?
}

pub fn store_refusal(e: &StoreError) -> Refusal {
    // Fail closed: a store that cannot answer forwards nothing.
    tracing::error!(error = %e, "the store failed; refusing");
    Refusal::new(
        503,
        "ServiceUnavailable",
        format!("parapet cannot reach its database, so nothing is forwarded: {e}"),
        "error",
    )
}

/// Judge `action` with `params` for `actor`. `record`: enforce mode (decisions are
/// stored, approvals looked up and consumed); otherwise judged in process only.
pub async fn judge(
    s: &Arc<Shared>,
    actor: &str,
    action: &str,
    params: Value,
    record: bool,
) -> Result<Verdict, Refusal> {
    // Credential-minting calls would let an agent walk around every later decision: refused
    // before any policy runs (the list is shared with the MCP gateway).
    if let Some(why) = parapet_server::mints_credentials(action) {
        tracing::warn!(%actor, %action, "refused: the call would hand the agent credentials that work without the proxy");
        return Err(Refusal::new(
            403,
            "AccessDenied",
            format!(
                "parapet denied {action}: {why}; an agent behind the proxy is never given credentials that work without it (in every mode)"
            ),
            "credentials",
        ));
    }
    let parsed_actor = Actor::parse(actor).map_err(|e| {
        Refusal::new(
            500,
            "InternalFailure",
            format!("the credential's actor is unreadable: {e}"),
            "error",
        )
    })?;
    let incident = s
        .incidents
        .current(s)
        .await
        .map_err(|e| store_refusal(&e))?;
    let call = ApiCall::new(action, None, params.clone())
        .map_err(|e| Refusal::new(400, "InvalidRequest", e.to_string(), "bad_request"))?;
    let opts = CallOptions {
        actor: parsed_actor,
        incident,
        critical: s.app.config.critical.clone(),
        account: None,
    };
    let report = check_call(&call, &opts, &s.app.engine);
    let outcome = report.decision.outcome;
    if !report.writes && report.effects.is_empty() && outcome == Outcome::Allow {
        return Ok(Verdict::Read);
    }
    if !record {
        return Ok(Verdict::Unrecorded(Box::new(report)));
    }
    let bound = parapet_server::call_binding(actor, action, &params, s.app.engine.version());
    if outcome == Outcome::Review {
        let (app, who, hash) = (s.app.clone(), actor.to_string(), bound.clone());
        let earlier = blocking(move || app.store.approved_for(&who, &hash, parapet_store::now()))
            .await
            .map_err(|e| store_refusal(&e))?;
        if let Some(r) = earlier {
            let state = r.state(parapet_store::now());
            if state == State::Approved && consume(s, &r.id, actor).await? {
                return Ok(Verdict::Approved(Box::new(r)));
            }
            if matches!(state, State::Pending | State::CoolingOff) {
                return Ok(Verdict::Waiting(Box::new(r)));
            }
        }
    }
    let input = parapet_server::CallInput {
        action: action.to_string(),
        resource: None,
        params,
        account: None,
        binding: Some(bound),
        source: "proxy".into(),
    };
    let request = parapet_server::decide_call(&s.app, actor, input)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "recording a decision failed; refusing");
            Refusal::new(
                503,
                "ServiceUnavailable",
                format!("parapet could not record its decision, so nothing is forwarded: {e}"),
                "error",
            )
        })?;
    Ok(Verdict::Recorded(Box::new(request)))
}

/// Mark an approved request executed: one approval, one execution.
pub async fn consume(s: &Arc<Shared>, id: &str, actor: &str) -> Result<bool, Refusal> {
    let (app, id, by) = (s.app.clone(), id.to_string(), actor.to_string());
    match blocking(move || app.store.consume(&id, &by)).await {
        Ok(done) => Ok(done),
        // Refused while the requester is frozen.
        Err(StoreError::Conflict(why)) => Err(Refusal::new(
            403,
            "AccessDenied",
            format!("parapet: {why}"),
            "frozen",
        )),
        Err(e) => Err(store_refusal(&e)),
    }
}

/// The reasons a stored decision gives, in the decision service's words (MCP and AWS
/// answers say the same).
pub use parapet_server::reasons;

/// The same, from a report judged in process.
pub fn report_reasons(r: &CallReport) -> String {
    serde_json::to_value(r).map_or_else(|_| "no reason recorded".into(), |v| reasons(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_come_from_the_deciding_policies() {
        let r = json!({"decision": {"outcome": "deny", "policies": [
            {"id": "p1", "outcome": "deny", "reason": "automation may not delete production databases"},
            {"id": "p2", "outcome": "review", "reason": "other"}]}});
        assert_eq!(
            reasons(&r),
            "automation may not delete production databases"
        );
        assert_eq!(reasons(&json!({})), "no reason recorded");
        let e = json!({"decision": {"outcome": "deny", "policies": [], "errors": ["eval failed"]}});
        assert_eq!(reasons(&e), "eval failed");
    }
}
