//! Containment proposals for incidents (issue 24, first part): what to do next, as AWS
//! calls, each judged by the gate before anything runs, each with the call that undoes
//! it and how to check it took. Nothing here calls AWS: every incident ends with its
//! proposed next steps (which key to disable, which user to quarantine, which share to
//! remove), ready to approve, whether or not anything is configured to run them.
//!
//! Steps come from playbooks, data files (`data/playbooks.toml`, embedded; another file
//! replaces it). Blast-radius caps are on by default: at most [`Limits::max_steps`]
//! proposals per incident, and principals whose names mark them as break-glass are
//! never touched.

mod autopin;
mod check;
pub mod drill;
mod execute;
mod playbook;
mod render;

pub use autopin::{in_high_incident, manual_pins, PinRequest};
pub use execute::{Applied, ExecError, Executor, State};
pub use playbook::{PlaybookError, Playbooks, Step, Subject};
pub use render::{json, text};

use parapet_detect::Incident;
use parapet_gate::{check_call, ApiCall, CallOptions};
use parapet_model::{Actor, ActorKind, Outcome};
use parapet_policy::PolicyEngine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The caps on what one incident's containment may touch.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most proposals per incident; the rest are counted, not proposed.
    pub max_steps: usize,
    /// Names (compared case-insensitively, as substrings of the user or role name) of
    /// principals containment never touches.
    pub protected: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 25,
            protected: ["breakglass", "break-glass", "emergency-access"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// An AWS call: `service:Operation` and its parameters in the API's shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Call {
    pub action: String,
    pub params: Value,
}

/// How a step is checked after it runs: a read call and what its answer must show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub call: Call,
    pub expect: Expect,
}

/// What the check's answer must show. Element names as the API answers them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// An element whose children have these texts (`*`: any text).
    Has(BTreeMap<String, String>),
    /// No element matching any of these.
    Lacks(Vec<BTreeMap<String, String>>),
    /// The call fails with this error code.
    Error(String),
}

/// One proposed step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposal {
    /// The playbook step (`deactivate-access-key`).
    pub step: String,
    pub title: String,
    pub call: Call,
    /// The call that undoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Call>,
    /// What a person must supply before the undo can run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_by_hand: Option<String>,
    /// How to check it took, in words.
    pub verify: String,
    /// ... and as a call, when the playbook gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// The gate's decision for the call, as automation would make it: `allow` runs at
    /// once once execution is configured, `review` waits for approvers, `deny` never runs.
    pub outcome: String,
    pub reason: String,
    /// Placeholders that had no value, and what only a person can supply: the step
    /// needs a person to complete it and is never run as proposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// What an incident's containment would be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub incident: String,
    /// The time `{now}` was filled with (sessions issued before it are revoked).
    #[serde(default)]
    pub now: String,
    /// Always true here: proposals only.
    pub dry_run: bool,
    pub proposals: Vec<Proposal>,
    /// Steps left out by the cap, and principals left alone because they are protected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// `p` as the playbook makes it: its step must be one of `playbooks`, its call exactly
/// what that step makes from some values; title, undo, check and what a person must
/// supply are made afresh from the step, never taken from the file. The outcome and
/// reason are left to be judged again ([`judge_call`]).
pub fn from_playbook(p: &Proposal, playbooks: &Playbooks) -> Result<Proposal, String> {
    let step = playbooks
        .step(&p.step)
        .ok_or_else(|| format!("step {:?} is not one of the playbooks' steps", p.step))?;
    let mut vars = step.values_of(&p.call).ok_or_else(|| {
        format!(
            "step {}: the call {} with these parameters is not one this step makes (changed by hand?)",
            p.step, p.call.action
        )
    })?;
    step.title_values(&p.title, &mut vars);
    // What the call needs decides whether it can run; a title without a value it only
    // shows is still shown.
    let (call, mut missing) = step.call(&vars);
    let (title, _) = step.title(&vars);
    let (verify, _) = step.verify(&vars);
    missing.extend(step.by_hand(&vars));
    // Which principals a plan names is the plan's to say; the ones containment never
    // touches on its own (break-glass names, AWS's SSO and service-linked roles) wait
    // for a person whatever the file says.
    let limits = Limits::default();
    for key in ["user", "role", "target", "key"] {
        let Some(v) = vars.get(key) else { continue };
        let low = v.to_ascii_lowercase();
        let guarded = limits
            .protected
            .iter()
            .any(|p| low.contains(&p.to_ascii_lowercase()))
            || v.starts_with("AWSReservedSSO_")
            || v.starts_with("AWSServiceRoleFor");
        if guarded {
            missing.push(format!("a person's decision: {v} is a protected principal"));
        }
    }
    missing.sort();
    missing.dedup();
    // An undo value the call does not hold (an event id) is not taken from the file.
    let (undo, undo_missing) = match step.undo_with_missing(&vars) {
        Some((u, m)) => (Some(u), m),
        None => (None, Vec::new()),
    };
    let undo_by_hand = step.undo_by_hand(&vars).or_else(|| {
        (!undo_missing.is_empty()).then(|| format!("a value for {}", undo_missing.join(", ")))
    });
    Ok(Proposal {
        step: step.id.clone(),
        title,
        undo,
        undo_by_hand,
        verify,
        check: step.check(&vars),
        outcome: String::new(),
        reason: String::new(),
        missing,
        call,
    })
}

impl Plan {
    /// The plan as it is when it runs at `now`: a proposal made from a log says the log's
    /// newest time, but sessions are revoked as of the moment the step runs.
    pub fn restamp(&mut self, now: &str) {
        if self.now.is_empty() || self.now == now {
            return;
        }
        let old = std::mem::replace(&mut self.now, now.to_string());
        let swap = |v: &mut Value| replace_text(v, &old, now);
        for p in &mut self.proposals {
            p.title = p.title.replace(&old, now);
            swap(&mut p.call.params);
            if let Some(u) = &mut p.undo {
                swap(&mut u.params);
            }
            if let Some(c) = &mut p.check {
                swap(&mut c.call.params);
            }
        }
    }
}

fn replace_text(v: &mut Value, old: &str, new: &str) {
    match v {
        Value::String(s) if s.contains(old) => *s = s.replace(old, new),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_text(x, old, new)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_text(x, old, new)),
        _ => {}
    }
}

/// The actor containment acts as, in policies (`principal.kind == "pipeline"`).
pub const ACTOR: &str = "pipeline:parapet-respond";

/// Propose the containment of `incident` by `playbooks`, each step judged by `engine`.
/// `now`: RFC 3339 time the proposal is made (sessions issued before it are revoked).
pub fn propose(
    incident: &Incident,
    playbooks: &Playbooks,
    engine: &PolicyEngine,
    limits: &Limits,
    now: &str,
) -> Plan {
    let mut proposals = Vec::new();
    let mut left_out = Vec::new();
    let actor = Actor {
        kind: ActorKind::Pipeline,
        name: "parapet-respond".into(),
    };
    let mut seen = std::collections::BTreeSet::new();
    let made = made_by_incident(incident);
    for step in playbooks.steps() {
        if incident.level < step.min_level {
            continue;
        }
        for vars in subjects(incident, step, now) {
            // Protection is by name, and an attacker chooses names: what the incident
            // itself made (a user it created, a key it minted) is never protected.
            let protected = ["user", "role", "target", "key"].iter().find_map(|k| {
                let value = vars.get(*k)?;
                if made.contains(value.as_str()) {
                    return None;
                }
                let v = value.to_ascii_lowercase();
                limits
                    .protected
                    .iter()
                    .any(|p| v.contains(&p.to_ascii_lowercase()))
                    .then(|| value.clone())
            });
            if let Some(who) = protected {
                left_out.push(format!(
                    "{}: {who} is protected (break-glass), never touched",
                    step.id
                ));
                continue;
            }
            let (call, mut missing) = step.call(&vars);
            if !seen.insert((call.action.clone(), call.params.to_string())) {
                continue; // the same call for another alert of the same resource
            }
            if proposals.len() >= limits.max_steps {
                left_out.push(format!(
                    "{}: over the cap of {} steps per incident",
                    step.title(&vars).0,
                    limits.max_steps
                ));
                continue;
            }
            let (title, m) = step.title(&vars);
            missing.extend(m);
            let (verify, m) = step.verify(&vars);
            missing.extend(m);
            missing.extend(step.by_hand(&vars));
            missing.sort();
            missing.dedup();
            let (outcome, reason) = judge(&call, &actor, engine);
            proposals.push(Proposal {
                step: step.id.clone(),
                title,
                undo: step.undo(&vars),
                undo_by_hand: step.undo_by_hand(&vars),
                verify,
                check: step.check(&vars),
                outcome,
                reason,
                missing,
                call,
            });
        }
    }
    left_out.dedup();
    Plan {
        incident: incident.id.clone(),
        now: now.to_string(),
        dry_run: true,
        proposals,
        left_out,
    }
}

/// The gate's decision (`allow`, `review`, `deny`) and reason for `call` made by the
/// containment pipeline ([`ACTOR`]). What runs is judged here, at run time, never taken
/// from a plan file's `outcome`.
pub fn judge_call(call: &Call, engine: &PolicyEngine) -> (String, String) {
    let actor = Actor {
        kind: ActorKind::Pipeline,
        name: "parapet-respond".into(),
    };
    judge(call, &actor, engine)
}

fn judge(call: &Call, actor: &Actor, engine: &PolicyEngine) -> (String, String) {
    let api = match ApiCall::new(&call.action, None, call.params.clone()) {
        Ok(c) => c,
        Err(e) => return ("review".into(), format!("the call could not be read: {e}")),
    };
    let opts = CallOptions {
        actor: actor.clone(),
        incident: None,
        critical: Default::default(),
        account: None,
    };
    let report = check_call(&api, &opts, engine);
    let outcome = match report.decision.outcome {
        Outcome::Allow => "allow",
        Outcome::Review => "review",
        Outcome::Deny => "deny",
    };
    let reason = report
        .decision
        .policies
        .iter()
        .find(|p| p.outcome == report.decision.outcome)
        .map(|p| format!("{}: {}", p.id, p.reason))
        .unwrap_or_else(|| "no policy holds it".into());
    (outcome.into(), reason)
}

/// Users and keys the incident's lineage made: the targets of its `CreateUser` and
/// `CreateAccessKey` alerts, and every key but the root of its chains.
fn made_by_incident(incident: &Incident) -> std::collections::BTreeSet<String> {
    let mut made = std::collections::BTreeSet::new();
    for alert in &incident.alerts {
        if matches!(
            alert.action.as_str(),
            "iam:CreateUser" | "iam:CreateAccessKey"
        ) {
            if let Some((_, v)) = alert.resource.as_deref().and_then(|r| r.split_once('=')) {
                made.insert(v.to_string());
            }
        }
        // lineage[0] is the actor, the last entry the root. The root and the key right
        // before it (the root user's own key) were there before; every key after them
        // was made by an identity of the chain.
        let chain = &alert.lineage;
        for node in chain.iter().take(chain.len().saturating_sub(2)) {
            if let Some(key) = node.strip_prefix("key:") {
                made.insert(key.to_string());
                if let Some(user) = incident.key_users.get(node).and_then(|u| user_name(u)) {
                    made.insert(user);
                }
            }
        }
    }
    made
}

/// Every identity the incident's alerts name: their actors and each one's lineage (an
/// alert's lineage holds the key that made its actor even when that key's own alerts
/// were below the detector's level).
fn identities(incident: &Incident) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let all = incident
        .actors
        .iter()
        .chain(incident.alerts.iter().flat_map(|a| a.lineage.iter()));
    for node in all {
        if !out.contains(&node.as_str()) {
            out.push(node);
        }
    }
    out
}

/// The user a key belongs to: as the incident names it, or its maker in a lineage
/// (`key:AKIA...` right before `user:...`).
fn key_user(incident: &Incident, node: &str) -> Option<String> {
    if let Some(u) = incident.key_users.get(node).and_then(|u| user_name(u)) {
        return Some(u);
    }
    incident.alerts.iter().find_map(|a| {
        let at = a.lineage.iter().position(|n| n == node)?;
        user_name(a.lineage.get(at + 1)?)
    })
}

/// The values each repetition of `step` is made with.
fn subjects(incident: &Incident, step: &Step, now: &str) -> Vec<BTreeMap<&'static str, String>> {
    let base = |mut m: BTreeMap<&'static str, String>| {
        m.insert("incident", incident.id.clone());
        m.insert("now", now.to_string());
        m
    };
    let mut out = Vec::new();
    match &step.subject {
        Subject::AccessKey => {
            for node in identities(incident) {
                let Some(key) = node.strip_prefix("key:").filter(|k| k.starts_with("AKIA")) else {
                    continue;
                };
                let mut m = BTreeMap::from([("key", key.to_string())]);
                if let Some(user) = key_user(incident, node) {
                    m.insert("user", user);
                }
                out.push(base(m));
            }
        }
        Subject::RoleSession => {
            for actor in identities(incident) {
                let Some((account, role)) = assumed_role(actor) else {
                    continue;
                };
                out.push(base(BTreeMap::from([("role", role), ("account", account)])));
            }
        }
        Subject::Alert { on } => {
            for alert in &incident.alerts {
                if !on.iter().any(|a| a.eq_ignore_ascii_case(&alert.action)) {
                    continue;
                }
                if !step.rules.is_empty() && !step.rules.contains(&alert.rule_id) {
                    continue;
                }
                let mut m = BTreeMap::new();
                if let Some(target) = alert.resource.as_deref().and_then(|r| r.split_once('=')) {
                    m.insert("target", target.1.to_string());
                }
                if let Some(event) = alert.event_ids.last() {
                    m.insert("event", event.clone());
                }
                out.push(base(m));
            }
        }
    }
    out
}

/// `user:arn:aws:iam::111122223333:user/path/name` -> `name`.
fn user_name(node: &str) -> Option<String> {
    let arn = node.strip_prefix("user:")?;
    let (_, name) = arn.rsplit_once('/')?;
    Some(name.to_string())
}

/// `session:arn:aws:sts::111122223333:assumed-role/ROLE/SESSION` -> (account, ROLE).
/// AWS's service-linked and SSO roles are left out: their sessions are AWS's own or
/// people's, managed elsewhere.
fn assumed_role(node: &str) -> Option<(String, String)> {
    let arn = node.strip_prefix("session:")?;
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, account, rest) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if service != "sts" {
        return None;
    }
    let mut path = rest.split('/');
    if path.next()? != "assumed-role" {
        return None;
    }
    let role = path.next()?;
    if role.starts_with("AWSServiceRoleFor") || role.starts_with("AWSReservedSSO_") {
        return None;
    }
    Some((account.to_string(), role.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_user_names_are_read_from_nodes() {
        assert_eq!(
            assumed_role("session:arn:aws:sts::111122223333:assumed-role/invoice-exporter-role/invoice-exporter"),
            Some(("111122223333".into(), "invoice-exporter-role".into()))
        );
        assert_eq!(
            assumed_role("session:arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"),
            None
        );
        assert_eq!(assumed_role("key:AKIA1"), None);
        assert_eq!(
            user_name("user:arn:aws:iam::111122223333:user/ops/ops-admin").as_deref(),
            Some("ops-admin")
        );
    }
}
