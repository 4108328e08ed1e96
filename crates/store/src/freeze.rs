//! The per-actor kill switch: a frozen actor (`agent:kiro`) or a whole kind of actor
//! (`agent:*`) gets every decision denied before any policy runs, and its pending
//! requests can no longer be approved, until a person clears the freeze. Freezes are
//! kept after they are cleared (who cleared and when), so the history stays readable.

use crate::StoreError;
use parapet_model::{Actor, ActorKind};
use serde::Serialize;

/// A freeze as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freeze {
    pub id: String,
    /// An exact actor (`agent:kiro`) or a kind pattern (`agent:*`).
    pub actor: String,
    pub reason: String,
    /// The incident it belongs to, if any (`INC-7`).
    pub incident: Option<String>,
    /// Who froze it: the token's actor.
    pub frozen_by: String,
    pub frozen_at: i64,
    /// After this the freeze no longer applies.
    pub expires_at: Option<i64>,
    pub cleared_by: Option<String>,
    pub cleared_at: Option<i64>,
}

impl Freeze {
    /// In force at `now`: not cleared and not expired.
    pub fn active(&self, now: i64) -> bool {
        self.cleared_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// Does this freeze cover `actor` (exactly, or by its kind pattern)?
    pub fn covers(&self, actor: &str) -> bool {
        match self.actor.strip_suffix(":*") {
            Some(kind) => actor
                .split_once(':')
                .is_some_and(|(k, name)| k == kind && !name.is_empty()),
            None => self.actor == actor,
        }
    }

    /// Why a request of `actor` is denied, in one sentence naming who froze it, since
    /// when, why and the incident.
    pub fn reason_for(&self, actor: &str) -> String {
        let what = if self.actor == actor {
            format!("{actor} is frozen")
        } else {
            format!("{actor} is frozen (by the freeze of {})", self.actor)
        };
        let incident = self
            .incident
            .as_deref()
            .map(|i| format!("{i} "))
            .unwrap_or_default();
        let until = self
            .expires_at
            .map(|at| format!(" (until {})", crate::rfc3339(at)))
            .unwrap_or_default();
        format!(
            "{what} by {} since {}{until}: {incident}{}",
            self.frozen_by,
            crate::rfc3339(self.frozen_at),
            self.reason
        )
    }
}

/// The first active freeze among `freezes` that covers `actor` at `now`.
pub fn frozen<'a>(freezes: &'a [Freeze], actor: &str, now: i64) -> Option<&'a Freeze> {
    freezes.iter().find(|f| f.active(now) && f.covers(actor))
}

/// The kind pattern that covers `actor` (`agent:kiro` -> `agent:*`); the actor itself
/// when it has no kind.
pub(crate) fn kind_pattern(actor: &str) -> String {
    match actor.split_once(':') {
        Some((kind, _)) => format!("{kind}:*"),
        None => actor.to_string(),
    }
}

/// What a new freeze carries into the store.
#[derive(Debug, Clone)]
pub struct NewFreeze {
    pub actor: String,
    pub reason: String,
    pub incident: Option<String>,
    pub expires_at: Option<i64>,
    /// The token's actor.
    pub by: String,
}

/// A freeze as written, with the pending requests it rejected.
#[derive(Debug, Clone, Serialize)]
pub struct Frozen {
    pub freeze: Freeze,
    pub rejected: Vec<String>,
}

/// Check a freeze before it is written: what it names must be an actor or a kind
/// pattern, people cannot freeze everyone who could clear it, the text is printable
/// and the expiry (if any) in the future.
pub fn check_new(n: &NewFreeze, now: i64) -> Result<(), StoreError> {
    check_target(&n.actor)?;
    let printable = |s: &str, max: usize| {
        !s.trim().is_empty() && s.len() <= max && !s.chars().any(char::is_control)
    };
    if !printable(&n.reason, 1000) {
        return Err(StoreError::Invalid(
            "a freeze needs a reason of 1-1000 printable characters".into(),
        ));
    }
    if let Some(i) = &n.incident {
        if !printable(i, 200) {
            return Err(StoreError::Invalid(
                "an incident id must be 1-200 printable characters".into(),
            ));
        }
    }
    if let Some(at) = n.expires_at {
        if at <= now {
            return Err(StoreError::Invalid(format!(
                "freeze expiry {} is not in the future",
                crate::rfc3339(at)
            )));
        }
    }
    Ok(())
}

/// What a freeze may name: `kind:name`, or `kind:*` for every actor of a kind. People
/// as a whole kind (`human:*`) cannot be frozen: nobody would be left to clear it.
pub fn check_target(target: &str) -> Result<(), StoreError> {
    let bad = |why: String| StoreError::Invalid(why);
    if let Some(kind) = target.strip_suffix(":*") {
        let parsed = Actor::parse(&format!("{kind}:x")).map_err(|e| bad(e.to_string()))?;
        if parsed.kind == ActorKind::Human {
            return Err(bad(
                "human:* cannot be frozen: nobody would be left to clear it; freeze people one by one".into(),
            ));
        }
        return Ok(());
    }
    if target.contains('*') {
        return Err(bad(format!(
            "`{target}`: a freeze names one actor (agent:kiro) or a whole kind (agent:*), no other patterns"
        )));
    }
    Actor::parse(target)
        .map(|_| ())
        .map_err(|e| bad(e.to_string()))
}

/// May `by` clear `f`? Only a person, and never one the freeze covers: a frozen actor
/// cannot lift its own freeze.
pub fn check_clear(f: &Freeze, by: &str) -> Result<(), StoreError> {
    let person = Actor::parse(by).is_ok_and(|a| a.kind == ActorKind::Human);
    if !person {
        return Err(StoreError::Forbidden(format!(
            "{by} cannot clear a freeze: only a person (human:NAME) can"
        )));
    }
    if f.covers(by) {
        return Err(StoreError::Forbidden(format!(
            "{by} is covered by the freeze of {} and cannot clear it",
            f.actor
        )));
    }
    Ok(())
}

/// The audit payload of a freeze.
pub(crate) fn freeze_payload(f: &Freeze, rejected: &[String]) -> String {
    serde_json::json!({
        "transition": "frozen", "id": f.id, "reason": f.reason, "incident": f.incident,
        "expires_at": f.expires_at, "rejected": rejected,
    })
    .to_string()
}

/// The audit payload of a request rejected by a freeze.
pub(crate) fn rejection_payload(f: &Freeze, requester: &str) -> String {
    serde_json::json!({"freeze": f.id, "reason": f.reason_for(requester)}).to_string()
}

pub(crate) fn new_id() -> String {
    format!("frz_{}", &crate::new_secret()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn freeze(actor: &str) -> Freeze {
        Freeze {
            id: "frz_1".into(),
            actor: actor.into(),
            reason: "lateral movement".into(),
            incident: Some("INC-7".into()),
            frozen_by: "human:alice".into(),
            frozen_at: 0,
            expires_at: Some(100),
            cleared_by: None,
            cleared_at: None,
        }
    }

    #[test]
    fn exact_and_kind_freezes_cover_what_they_name() {
        assert!(freeze("agent:kiro").covers("agent:kiro"));
        assert!(!freeze("agent:kiro").covers("agent:kiro2"));
        assert!(!freeze("agent:kiro").covers("pipeline:kiro"));
        assert!(freeze("agent:*").covers("agent:anything"));
        assert!(!freeze("agent:*").covers("agentx:y"));
        assert!(!freeze("agent:*").covers("pipeline:deploy"));
        assert!(freeze("agent:kiro").active(99));
        assert!(!freeze("agent:kiro").active(100));
        let r = freeze("agent:kiro").reason_for("agent:kiro");
        assert!(
            r.starts_with("agent:kiro is frozen by human:alice since 1970-01-01T00:00:00Z"),
            "{r}"
        );
        assert!(r.ends_with(": INC-7 lateral movement"), "{r}");
    }

    #[test]
    fn targets_are_actors_or_kind_patterns() {
        for ok in [
            "agent:kiro",
            "agent:*",
            "pipeline:*",
            "service:x",
            "human:bob",
        ] {
            assert!(check_target(ok).is_ok(), "{ok}");
        }
        for bad in [
            "*", "agent", "agent:k*", "robot:*", "human:*", "", ":*", "agent:",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_an_uncovered_person_clears() {
        let f = freeze("agent:kiro");
        assert!(check_clear(&f, "human:bob").is_ok());
        assert!(check_clear(&f, "agent:kiro").is_err());
        assert!(check_clear(&f, "agent:other").is_err());
        assert!(check_clear(&freeze("human:bob"), "human:bob").is_err());
    }

    proptest! {
        /// Whatever the actor text, a kind pattern covers exactly the well-formed
        /// actors of that kind, and an exact freeze only its own actor.
        #[test]
        fn coverage_for_any_actor(kind in "[a-z]{0,8}", name in "\\PC{0,10}") {
            let actor = format!("{kind}:{name}");
            prop_assert_eq!(freeze("agent:*").covers(&actor), kind == "agent" && !name.is_empty());
            prop_assert_eq!(freeze("agent:kiro").covers(&actor), actor == "agent:kiro");
        }
    }
}
