//! A call under review: show the person driving the agent what it would do and where
//! approvers decide (elicitation when the client supports it), wait with progress
//! notifications, then run it once approved. Without an answer in time the call
//! returns a pending result naming the decision and the approval page; the same call
//! retried attaches to the same request (the judge binds the approval to the call).
//!
//! 2025-11-25 clients get an `elicitation/create` request while the gateway waits;
//! 2026-07-28 clients (no server-to-client requests) get an `input_required` result
//! carrying the elicitation, and their retry with the answer waits for the decision.

use super::handler::GatewayHandler;
use crate::{Caller, Verdict};
use rmcp::model::*;
use rmcp::service::{RequestContext, RoleServer};
use std::time::{Duration, Instant};

/// Our own `requestState` prefix (the decision id follows). The state is untrusted
/// and only says "this is an answer to our elicitation": the call is judged again.
const STATE_PREFIX: &str = "parapet-review:";
/// The key of our elicitation in `inputRequests` / `inputResponses`.
const INPUT_KEY: &str = "parapet_approval";

/// The client's answer to our elicitation, from a 2026-07-28 retry.
pub(crate) struct Round {
    action: Option<ElicitationAction>,
}

/// Take our review state out of a retried call (the upstream never sees it).
pub(crate) fn take_round(params: &mut CallToolRequestParams) -> Result<Option<Round>, ErrorData> {
    match params.request_state.as_deref() {
        Some(s) if s.starts_with(STATE_PREFIX) => {}
        _ => return Ok(None),
    }
    params.request_state = None;
    let responses = params.input_responses.take().unwrap_or_default();
    let action = responses
        .get(INPUT_KEY)
        .and_then(|r| r.get("action"))
        .cloned()
        .and_then(|a| serde_json::from_value::<ElicitationAction>(a).ok());
    Ok(Some(Round { action }))
}

/// A short name of a verdict for logs.
pub(crate) fn outcome(v: &Verdict) -> String {
    match v {
        Verdict::Allow { .. } => "allow".into(),
        Verdict::Deny { decision, .. } => format!("deny {}", decision.as_deref().unwrap_or("-")),
        Verdict::Review { decision, .. } => format!("review {decision}"),
    }
}

/// The tool error a denied call gets.
pub(crate) fn denied(tool: &str, decision: Option<&str>, reason: &str) -> CallToolResult {
    let id = decision.map_or(String::new(), |d| format!(" (decision {d})"));
    let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
        "parapet denied {tool}{id}: {}. Nothing was run.",
        reason.trim_end_matches('.')
    ))]);
    r.structured_content = Some(serde_json::json!({
        "parapet": {"status": "denied", "decision": decision, "reason": reason}
    }));
    r
}

struct Pending<'a> {
    decision: &'a str,
    reason: &'a str,
    explanation: &'a str,
    approval_url: Option<&'a str>,
}

impl Pending<'_> {
    fn result(&self, tool: &str, why: &str) -> CallToolResult {
        let url = self
            .approval_url
            .map_or(String::new(), |u| format!(" Approvers decide at {u}."));
        let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
            "parapet is holding {tool} for review (decision {}): {}. {}{url} {why} Nothing was run: once it is approved, call {tool} again with the same arguments and it runs (once).",
            self.decision,
            self.reason.trim_end_matches('.'),
            self.explanation
        ))]);
        r.structured_content = Some(serde_json::json!({
            "parapet": {
                "status": "pending",
                "decision": self.decision,
                "reason": self.reason,
                "explanation": self.explanation,
                "approval_url": self.approval_url,
            }
        }));
        r
    }

    fn message(&self) -> String {
        let url = self
            .approval_url
            .map_or(String::new(), |u| format!(" Approvers decide at {u}."));
        format!(
            "parapet holds this call for review (decision {}): {}. {}{url} Accept to wait for their decision; decline to leave it pending.",
            self.decision,
            self.reason.trim_end_matches('.'),
            self.explanation
        )
    }

    /// The elicitation to show, in the best mode the client declared.
    fn elicitation(&self, caps: Option<&ClientCapabilities>) -> Option<ElicitRequestParams> {
        let e = caps?.elicitation.as_ref()?;
        let form = e.form.is_some() || e.url.is_none();
        if let (Some(url), true) = (self.approval_url, e.url.is_some()) {
            return Some(ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message: self.message(),
                url: url.to_string(),
                elicitation_id: format!("parapet-{}", self.decision),
            });
        }
        if !form {
            return None;
        }
        let schema = serde_json::from_value(serde_json::json!({
            "type": "object",
            "properties": {"wait": {"type": "boolean", "title": "Wait for the approvers' decision", "default": true}}
        }))
        .ok()?;
        Some(ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: self.message(),
            requested_schema: schema,
        })
    }
}

pub(crate) struct Review<'a> {
    pub handler: &'a GatewayHandler,
    pub caller: &'a Caller,
    pub params: CallToolRequestParams,
    pub ctx: &'a RequestContext<RoleServer>,
    pub round: Option<Round>,
}

fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

impl Review<'_> {
    pub async fn run(self, verdict: Verdict) -> Result<CallToolResponse, ErrorData> {
        let Verdict::Review {
            decision,
            reason,
            explanation,
            approval_url,
        } = &verdict
        else {
            return self.finish(verdict).await;
        };
        let pending = Pending {
            decision,
            reason,
            explanation,
            approval_url: approval_url.as_deref(),
        };
        let tool = self.params.name.to_string();
        if let Some(Some(ElicitationAction::Decline | ElicitationAction::Cancel)) =
            self.round.as_ref().map(|r| r.action.clone())
        {
            return Ok(pending.result(&tool, "The wait was declined.").into());
        }
        let deadline = Instant::now() + self.handler.shared.settings.hold;
        let caps = self.ctx.client_capabilities();
        let elicitation = pending.elicitation(caps.as_ref());
        let after = if is_modern(self.ctx) {
            if let (None, Some(e)) = (&self.round, elicitation) {
                let mut requests = InputRequests::new();
                requests.insert(
                    INPUT_KEY.to_string(),
                    InputRequest::Elicitation(ElicitRequest::new(e)),
                );
                let state = format!("{STATE_PREFIX}{decision}");
                return Ok(InputRequiredResult::new(Some(requests), Some(state)).into());
            }
            self.wait(decision, deadline).await
        } else if let Some(e) = elicitation {
            let peer = self.ctx.peer.clone();
            let ask = async move {
                let r = tokio::time::timeout(
                    deadline.saturating_duration_since(Instant::now()),
                    peer.create_elicitation(e),
                )
                .await;
                match r {
                    Ok(Ok(r)) => Some(r.action),
                    _ => None, // no answer or no support: keep waiting
                }
            };
            let wait = self.wait(decision, deadline);
            tokio::pin!(ask, wait);
            tokio::select! {
                v = &mut wait => v,
                action = &mut ask => match action {
                    Some(ElicitationAction::Decline | ElicitationAction::Cancel) => {
                        return Ok(pending.result(&tool, "The wait was declined.").into());
                    }
                    _ => wait.await,
                },
            }
        } else {
            self.wait(decision, deadline).await
        };
        match after {
            Ok(Verdict::Review { .. }) => Ok(pending
                .result(&tool, "No decision came within the hold time.")
                .into()),
            Ok(v) => self.finish(v).await,
            Err(e) => Ok(pending
                .result(&tool, &format!("Waiting for the decision failed ({e})."))
                .into()),
        }
    }

    async fn finish(self, verdict: Verdict) -> Result<CallToolResponse, ErrorData> {
        match verdict {
            Verdict::Allow { .. } => self.handler.forward_call(self.params, self.ctx).await,
            Verdict::Deny { decision, reason } => {
                Ok(denied(&self.params.name, decision.as_deref(), &reason).into())
            }
            Verdict::Review { .. } => Err(ErrorData::internal_error(
                "review verdict after the wait",
                None,
            )),
        }
    }

    /// Wait for the decision, sending progress about every second when the client
    /// asked for progress on this call.
    async fn wait(
        &self,
        decision: &str,
        deadline: Instant,
    ) -> Result<Verdict, super::gate::GateError> {
        let hold = self.handler.shared.settings.hold.as_secs_f64();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
        let token = self.ctx.meta.get_progress_token();
        let peer = self.ctx.peer.clone();
        let message = format!("waiting for approval of decision {decision}");
        let relay = async move {
            while let Some(elapsed) = rx.recv().await {
                if let Some(token) = &token {
                    let mut p =
                        ProgressNotificationParam::new(token.clone(), elapsed.as_secs_f64())
                            .with_total(hold);
                    p.message = Some(message.clone());
                    let _ = peer.notify_progress(p).await;
                }
            }
        };
        let gate = &self.handler.shared.gate;
        let wait = async move {
            let mut tick = move |elapsed: Duration| {
                let _ = tx.send(elapsed);
            };
            gate.wait(self.caller, decision, deadline, &mut tick).await
        };
        let (verdict, ()) = tokio::join!(wait, relay);
        verdict
    }
}
