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

/// Approving a request whose requester is frozen is refused, naming the freeze.
pub(crate) fn frozen_requester(r: &Request, f: &crate::Freeze) -> StoreError {
    StoreError::Conflict(format!(
        "request {} cannot be approved: {}",
        r.id,
        f.reason_for(&r.requester)
    ))
}

/// Executing a request whose requester is frozen is refused, naming the freeze.
pub(crate) fn frozen_execution(r: &Request, f: &crate::Freeze) -> StoreError {
    StoreError::Conflict(format!(
        "request {} cannot be executed: {}",
        r.id,
        f.reason_for(&r.requester)
    ))
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
        #[serde(borrow)]
        request: Option<Call<'a>>,
    }
    /// Where a call came from (`api`, `proxy`), as the server recorded it.
    #[derive(serde::Deserialize)]
    struct Call<'a> {
        #[serde(borrow)]
        source: Option<&'a str>,
    }
    #[derive(serde::Deserialize)]
    struct Decision<'a> {
        #[serde(borrow)]
        policies: Option<&'a RawValue>,
    }
    let report = serde_json::from_str::<Report>(n.report.get()).ok();
    let source = report.as_ref().and_then(|r| r.request.as_ref()?.source);
    let policies = report.and_then(|r| r.decision?.policies);
    let null = RawValue::NULL;
    let mut payload = serde_json::json!({
        "kind": n.kind, "outcome": n.outcome, "content_hash": n.content_hash,
        "approvers_required": n.approvers_required, "delay_seconds": n.delay_seconds,
        "policies": policies.unwrap_or(null),
    });
    if let Some(source) = source {
        payload["source"] = source.into();
    }
    payload.to_string()
}

/// What a token's role lets it act as: agent tokens act as automation (`agent`,
/// `pipeline` or `service`, never a person and never `unknown`), approver and admin
/// tokens act as people (`human`), so automation can never approve and an agent can
/// never be judged as a person. The error says what is wrong and what would do.
pub fn check_role_actor(role: Role, actor: &str) -> Result<(), String> {
    use parapet_model::ActorKind;
    let parsed = parapet_model::Actor::parse(actor).map_err(|e| e.to_string())?;
    let ok = match role {
        Role::Agent => matches!(
            parsed.kind,
            ActorKind::Agent | ActorKind::Pipeline | ActorKind::Service
        ),
        Role::Approver | Role::Admin => parsed.kind == ActorKind::Human,
    };
    if ok {
        return Ok(());
    }
    const KINDS: &str = "agent tokens act as agent:NAME, pipeline:NAME or service:NAME; \
                         approver and admin tokens act as human:NAME; no token acts as unknown:";
    let why = match (role, parsed.kind) {
        (_, ActorKind::Unknown) => {
            "unknown: marks a caller parapet could not identify, which no token may claim to be"
        }
        (Role::Agent, _) => "a person gets an approver or admin token",
        _ => "automation gets an agent token, so it can never approve",
    };
    Err(format!(
        "a {} token cannot act as {actor}: {why} ({KINDS})",
        role.as_str()
    ))
}

/// A new API token: what is returned (the secret only this once), what is stored (its
/// hash) and what is audited.
pub(crate) struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
    pub secret_hash: String,
    pub audit_payload: String,
}

pub(crate) fn new_token(
    name: &str,
    role: Role,
    actor: &str,
    expires_at: Option<i64>,
) -> Result<NewToken, StoreError> {
    check_role_actor(role, actor).map_err(StoreError::Invalid)?;
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "token name must be 1-200 printable characters".into(),
        ));
    }
    let now = crate::now();
    if let Some(at) = expires_at {
        if at <= now {
            return Err(StoreError::Invalid(format!(
                "token expiry {} is not in the future",
                crate::rfc3339(at)
            )));
        }
    }
    let secret = format!("ppt_{}", new_secret());
    Ok(NewToken {
        info: TokenInfo {
            id: format!("tok_{}", &new_secret()[..16]),
            name: name.into(),
            role,
            actor: actor.into(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            aws_access_key_id: None,
        },
        secret_hash: hex_sha256(secret.as_bytes()),
        audit_payload: serde_json::json!({
            "name": name, "role": role.as_str(), "actor": actor, "expires_at": expires_at,
        })
        .to_string(),
        secret,
    })
}

/// A new token for `parapet proxy aws`: agent or admin role, with an access key id.
/// Its bearer secret is dropped unseen, so the token works only through its AWS key.
pub(crate) fn new_aws_token(
    name: &str,
    role: Role,
    actor: &str,
    expires_at: Option<i64>,
) -> Result<NewToken, StoreError> {
    if role == Role::Approver {
        return Err(StoreError::Invalid(
            "AWS keys are for agent tokens (or admin tokens, for a person's own calls through \
             the proxy); an approver token approves and calls nothing"
                .into(),
        ));
    }
    let mut t = new_token(name, role, actor, expires_at)?;
    let id = crate::aws_keys::new_access_key_id();
    t.audit_payload = serde_json::json!({
        "name": name, "role": role.as_str(), "actor": actor, "expires_at": expires_at,
        "aws_access_key_id": id,
    })
    .to_string();
    t.info.aws_access_key_id = Some(id);
    t.secret = String::new();
    Ok(t)
}

/// The audit payload of a consumed approval.
pub(crate) fn executed_payload(r: &Request) -> String {
    serde_json::json!({"transition": "executed", "content_hash": r.content_hash}).to_string()
}

/// A new web UI session id (shown once, in the cookie) and its stored hash.
pub(crate) fn new_session() -> (String, String) {
    let secret = format!("pps_{}", new_secret());
    let hash = hex_sha256(secret.as_bytes());
    (secret, hash)
}

/// A token row as read back: the role must be one we know.
#[allow(clippy::too_many_arguments)]
pub(crate) fn token_info(
    id: String,
    name: String,
    role: String,
    actor: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    aws_access_key_id: Option<String>,
) -> Result<TokenInfo, StoreError> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("token {id} has role {role}")))?;
    Ok(TokenInfo {
        id,
        name,
        role,
        actor,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
        aws_access_key_id,
    })
}

/// When a session started at `now` ends: after `ttl_seconds`, never after its token.
pub(crate) fn session_expiry(token: &TokenInfo, now: i64, ttl_seconds: i64) -> i64 {
    let end = now + ttl_seconds.max(1);
    token.expires_at.map_or(end, |t| t.min(end))
}

#[cfg(test)]
mod tests {
    use super::check_role_actor;
    use crate::Role;
    use parapet_model::{Actor, ActorKind};
    use proptest::prelude::*;

    proptest! {
        /// Whatever the actor text, a token is accepted only for a well-formed actor
        /// of a kind its role allows: agents as automation, people as humans.
        #[test]
        fn role_bounds_actor_for_any_text(
            kind in prop_oneof![
                Just("human".to_string()),
                Just("agent".to_string()),
                Just("pipeline".to_string()),
                Just("service".to_string()),
                Just("unknown".to_string()),
                Just("Human".to_string()),
                "[a-z:]{0,8}",
            ],
            name in "\\PC{0,12}",
            role in prop_oneof![Just(Role::Agent), Just(Role::Approver), Just(Role::Admin)],
        ) {
            let actor = format!("{kind}:{name}");
            let accepted = check_role_actor(role, &actor).is_ok();
            let want = match Actor::parse(&actor) {
                Err(_) => false,
                Ok(a) => match role {
                    Role::Agent => matches!(a.kind, ActorKind::Agent | ActorKind::Pipeline | ActorKind::Service),
                    _ => a.kind == ActorKind::Human,
                },
            };
            prop_assert_eq!(accepted, want, "{:?} {}", role, actor);
            if accepted && role != Role::Agent {
                prop_assert!(actor.starts_with("human:"));
            }
            if accepted && role == Role::Agent {
                prop_assert!(!actor.starts_with("human:") && !actor.starts_with("unknown:"));
            }
        }
    }
}
