//! What every backend must do the same way, so they cannot drift apart: the approval
//! rules, the audit payloads of decisions and tokens, reading a stored report, minting
//! a token.

use crate::hash::{hex_sha256, new_secret};
use crate::{Request, Role, State, StoreError, TokenInfo};
use serde_json::value::RawValue;

/// May `approver` cast this vote on `r` at `now`? `Ok(false)`: they already voted, and
/// a second click changes nothing. The requester can never vote, votes are bound to the
/// content the approver saw, and once approved only a rejection still counts (the
/// cooling-off period is for second thoughts).
pub(crate) fn check(
    r: &Request,
    approver: &str,
    approve: bool,
    content_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let id = &r.id;
    if r.outcome != "review" {
        return Err(StoreError::Conflict(format!(
            "request {id} was decided {} by policy; there is nothing to approve",
            r.outcome
        )));
    }
    if r.requester == approver {
        return Err(StoreError::Forbidden(format!(
            "{approver} requested {id} and cannot approve or reject it"
        )));
    }
    if r.content_hash != content_hash {
        return Err(StoreError::Conflict(format!(
            "request {id} is for content {}, not {content_hash}: approvals are bound to the exact content",
            r.content_hash
        )));
    }
    if r.votes.iter().any(|v| v.approver == approver) {
        return Ok(false);
    }
    match r.state(now) {
        State::Pending => Ok(true),
        State::CoolingOff if !approve => Ok(true),
        s => Err(StoreError::Conflict(
            format!("request {id} is {s:?}; it takes no more votes").to_lowercase(),
        )),
    }
}

/// The stored report, checked to be JSON; a report that no longer parses is shown as
/// such rather than failing every read of the request.
pub(crate) fn report_json(text: String) -> Box<RawValue> {
    RawValue::from_string(text).unwrap_or_else(|e| {
        let shown = serde_json::json!({"error": format!("stored report unreadable: {e}")});
        serde_json::value::to_raw_value(&shown).expect("a JSON value serialises")
    })
}

/// The audit payload of a new decision: what decided it and which policies, read from
/// the report's text without building the whole report as a value.
pub(crate) fn decision_payload(n: &crate::NewRequest) -> String {
    #[derive(serde::Deserialize)]
    struct Report<'a> {
        #[serde(borrow)]
        decision: Option<Decision<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Decision<'a> {
        #[serde(borrow)]
        policies: Option<&'a RawValue>,
    }
    let policies = serde_json::from_str::<Report>(n.report.get())
        .ok()
        .and_then(|r| r.decision?.policies);
    let null = RawValue::NULL;
    serde_json::json!({
        "kind": n.kind, "outcome": n.outcome, "content_hash": n.content_hash,
        "approvers_required": n.approvers_required, "delay_seconds": n.delay_seconds,
        "policies": policies.unwrap_or(null),
    })
    .to_string()
}

/// A new API token: what is returned (the secret only this once), what is stored (its
/// hash) and what is audited.
pub(crate) struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
    pub secret_hash: String,
    pub audit_payload: String,
}

pub(crate) fn new_token(name: &str, role: Role, actor: &str) -> NewToken {
    let secret = format!("ppt_{}", new_secret());
    NewToken {
        info: TokenInfo {
            id: format!("tok_{}", &new_secret()[..16]),
            name: name.into(),
            role,
            actor: actor.into(),
        },
        secret_hash: hex_sha256(secret.as_bytes()),
        audit_payload: serde_json::json!({"name": name, "role": role.as_str(), "actor": actor})
            .to_string(),
        secret,
    }
}
