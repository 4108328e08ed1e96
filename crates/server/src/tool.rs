//! Judging one MCP tool call (`parapet proxy mcp`), in process or through
//! `POST /v1/decisions {"tool": ...}`: every action the call maps to judged by the gate
//! (AWS actions exactly as `parapet proxy aws` judges them, other actions by the pack
//! from what the mapping says), the worst outcome wins, one decision is recorded with
//! every action shown (secrets masked), bound to caller, server, tool, canonical
//! arguments and policy version. A retry of a call under review attaches to it; an
//! approved one is consumed once.
//!
//! Actions whose service the IAM catalog does not know (`fs:write_file`,
//! `k8s:delete`) are judged by the pack with resource type `mcp:<server>` and address
//! the mapped resource (else `mcp://<server>/<tool>`), as their mapping declares them:
//! `read` is a read; anything else (write, destroy, execute, or undeclared) a write
//! whose target parapet cannot place (reviewed by the built-in pack), destroy with a
//! deletion whose data fate is unknown, execute with running commands. A tool nobody
//! mapped, or whose arguments could not be read, is at least review.

use crate::api::App;
use crate::bind::{mints_credentials, tool_binding};
use crate::call::{new_request, record, DecideError};
use parapet_gate::{check_call, masked_params, ApiCall, CallOptions};
use parapet_model::{
    policy_facts, Actor, Approval, DataFate, DecidingPolicy, Decision, Effect, Finding, Outcome,
    Technique, Unrecognised,
};
use parapet_policy::{Facts, ResourceFacts};
use parapet_store::{Request, State};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// One tool call to judge.
#[derive(Debug, Clone)]
pub struct ToolInput {
    /// The upstream server's name as mappings and policies call it.
    pub server: String,
    pub tool: String,
    /// As the client sent them (forwarded unchanged; masked wherever shown).
    pub arguments: Map<String, Value>,
    pub mapping: ToolMapping,
}

/// What the gateway's mapping made of the call.
#[derive(Debug, Clone)]
pub enum ToolMapping {
    Actions(Vec<ToolAction>),
    /// No mapping covers the tool.
    Unmapped(String),
    /// A mapping covers it but the arguments could not be read.
    Unreadable(String),
}

/// What an approval binds of the mapping: the actions a call maps to, or that no
/// mapping could read it (the reason's wording is not bound: it changes with versions).
fn mapping_bound(m: &ToolMapping) -> Value {
    match m {
        ToolMapping::Actions(actions) => Value::Array(
            actions
                .iter()
                .map(|a| {
                    json!({"action": a.action, "resource": a.resource, "params": a.params,
                           "access": a.access})
                })
                .collect(),
        ),
        ToolMapping::Unmapped(_) => json!("unmapped"),
        ToolMapping::Unreadable(_) => json!("unreadable"),
    }
}

/// One action the call would take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolAction {
    pub action: String,
    pub resource: Option<String>,
    #[serde(default)]
    pub params: Value,
    /// What a non-AWS action does, as its mapping declares it; ignored for AWS actions
    /// (the IAM catalog knows them). Absent: a write.
    #[serde(default)]
    pub access: Option<ToolAccess>,
}

/// What a non-AWS action does (the mapping file's `access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolAccess {
    Read,
    Write,
    Destroy,
    Execute,
}

/// What became of the call.
#[derive(Debug)]
pub enum ToolDecision {
    /// Judged now and recorded: allow, deny or review, as the store has it.
    Recorded(Box<Request>),
    /// An earlier review of this exact call, approved: consumed now for this execution.
    Approved(Box<Request>),
    /// An earlier review of this exact call, still waiting: wait on it.
    Waiting(Box<Request>),
    /// Only reads with no effects, allowed: not recorded (as `parapet proxy aws`
    /// forwards pure reads without a store write).
    Read,
}

/// More actions than this in one call are not judged one by one: the call is refused.
pub const MAX_ACTIONS: usize = 1000;

/// Judge `input` by `actor` (from the caller's credential) and record one decision.
pub async fn decide_tool(
    app: &Arc<App>,
    actor: &str,
    input: ToolInput,
) -> Result<ToolDecision, DecideError> {
    let parsed = Actor::parse(actor).map_err(|e| DecideError::Actor {
        actor: actor.into(),
        why: e.to_string(),
    })?;
    if let ToolMapping::Actions(a) = &input.mapping {
        if a.len() > MAX_ACTIONS {
            return Err(DecideError::Tool(format!(
                "{}/{} maps to {} actions, more than the {MAX_ACTIONS} one decision may hold",
                input.server,
                input.tool,
                a.len()
            )));
        }
    }
    let binding = tool_binding(
        actor,
        &input.server,
        &input.tool,
        &input.arguments,
        &mapping_bound(&input.mapping),
        app.engine.version(),
    );
    if let Some(f) = app.frozen_now(actor).await? {
        let shown = json!({
            "action": format!("mcp:{}", input.tool),
            "resource": tool_address(&input.server, &input.tool),
            "request": crate::tool_report::request_shown(&input, &binding, app.engine.version()),
        });
        let n = parapet_store::NewRequest {
            requester: actor.into(),
            kind: "call".into(),
            content_hash: binding,
            outcome: Outcome::Deny.as_str().into(),
            approvers_required: 0,
            delay_seconds: 0,
            ttl_seconds: app.config.ttl_seconds,
            report: crate::freeze::frozen_report(&f, actor, Some(shown)),
        };
        return Ok(ToolDecision::Recorded(Box::new(record(app, n).await?)));
    }
    let incident = app.decision_state().await?.incident;
    let small = match &input.mapping {
        ToolMapping::Actions(a) => a.len() <= 8,
        _ => true,
    } && input
        .arguments
        .values()
        .map(crate::call::approx_size)
        .sum::<usize>()
        <= crate::call::INLINE_PARAMS;
    let (a, b) = (app.clone(), binding.clone());
    let judge = move || judge_tool(&a, parsed, incident, &input, &b);
    let (outcome, report, read) = if small {
        // Microseconds: a thread hop would cost more. A panic allows nothing.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge))
            .map_err(|_| DecideError::Internal("the gate panicked".into()))??
    } else {
        tokio::task::spawn_blocking(judge)
            .await
            .map_err(|e| DecideError::Internal(e.to_string()))??
    };
    if read && outcome.outcome == Outcome::Allow {
        return Ok(ToolDecision::Read);
    }
    if outcome.outcome == Outcome::Review {
        if let Some(earlier) = earlier(app, actor, &binding).await? {
            return Ok(earlier);
        }
    }
    let n = new_request(app, actor.into(), "call", binding, &outcome, report);
    Ok(ToolDecision::Recorded(Box::new(record(app, n).await?)))
}

/// An earlier review of the same binding by the same requester that can still run:
/// approved (consumed now) or waiting. A concurrent retry that consumed it first
/// leaves none: the caller records a new review.
pub async fn earlier(
    app: &Arc<App>,
    actor: &str,
    binding: &str,
) -> Result<Option<ToolDecision>, DecideError> {
    let (a, who, hash) = (app.clone(), actor.to_string(), binding.to_string());
    let found =
        crate::api::off_thread(move || a.store.approved_for(&who, &hash, parapet_store::now()))
            .await?;
    let Some(r) = found else { return Ok(None) };
    match r.state(parapet_store::now()) {
        State::Approved if consume(app, &r.id, actor).await? => {
            Ok(Some(ToolDecision::Approved(Box::new(r))))
        }
        State::Pending | State::CoolingOff => Ok(Some(ToolDecision::Waiting(Box::new(r)))),
        _ => Ok(None),
    }
}

/// Mark an approved request executed by `actor`: one approval, one execution. `false`
/// when it is not executable (pending, used, expired); a `Conflict` store error while
/// its requester is frozen.
pub async fn consume(app: &Arc<App>, id: &str, actor: &str) -> Result<bool, DecideError> {
    let (a, id, by) = (app.clone(), id.to_string(), actor.to_string());
    let done = crate::api::off_thread(move || a.store.consume(&id, &by)).await?;
    if done {
        app.notify_changed();
    }
    Ok(done)
}

/// Whether `actor` may see `server`/`tool` in `tools/list`: hidden when standing
/// policy refuses it whatever its arguments. `actions`: what the tool does whatever its
/// arguments (None when that depends on them, or nobody mapped it: the tool itself is
/// judged as an unplaced write, so a policy on `mcp:<server>` can hide it).
///
/// Judged without incident mode and without freezes: both are temporary, and a tool
/// hidden by them would stay hidden in clients that cache the list; calls are refused
/// while they last, naming why. Under a pack that reads resource addresses, an action
/// without a static resource is not hidden (its address comes from the arguments).
/// One action refused hides the tool: the call would always be refused.
pub fn tool_visible(
    app: &App,
    actor: &str,
    server: &str,
    tool: &str,
    actions: Option<&[ToolAction]>,
) -> Result<bool, DecideError> {
    let parsed = Actor::parse(actor).map_err(|e| DecideError::Actor {
        actor: actor.into(),
        why: e.to_string(),
    })?;
    let incident = None;
    let ctx = Ctx {
        app,
        actor: &parsed,
        incident: &incident,
        server,
        tool,
    };
    let judged: Vec<Judged> = match actions {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter(|a| a.resource.is_some() || !app.engine.address_sensitive())
            .map(|a| ctx.action(a))
            .collect(),
        _ => vec![ctx.unplaced(None)],
    };
    Ok(!judged.iter().any(|j| j.decision.outcome == Outcome::Deny))
}

/// One judged action, as shown to approvers (parameters masked).
pub(crate) struct Judged {
    pub action: String,
    pub resource: String,
    pub resource_type: String,
    pub writes: bool,
    pub critical: bool,
    pub data_bearing: bool,
    pub access_level: Option<&'static str>,
    pub decision: Decision,
    pub effects: Vec<Effect>,
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    pub params: Value,
}

/// The judged call: the combined decision, the report text, and whether it only reads.
type Judgement = (Decision, Box<serde_json::value::RawValue>, bool);

/// Judge every action and build the report.
fn judge_tool(
    app: &App,
    actor: Actor,
    incident: Option<String>,
    input: &ToolInput,
    binding: &str,
) -> Result<Judgement, DecideError> {
    let ctx = Ctx {
        app,
        actor: &actor,
        incident: &incident,
        server: &input.server,
        tool: &input.tool,
    };
    let (judged, forced) = match &input.mapping {
        ToolMapping::Actions(actions) if actions.is_empty() => (
            vec![ctx.unplaced(None)],
            Some((
                "parapet:mcp-no-actions",
                format!(
                    "The mapping of {}/{} names no action for this call, so nothing says what it does; a person must confirm it.",
                    input.server, input.tool
                ),
            )),
        ),
        ToolMapping::Actions(actions) => (actions.iter().map(|a| ctx.action(a)).collect(), None),
        ToolMapping::Unmapped(why) => (
            vec![ctx.unplaced(None)],
            Some((
                "parapet:mcp-unmapped",
                format!(
                    "No mapping says what {}/{} does ({why}); tools nobody mapped are reviewed, never allowed silently.",
                    input.server, input.tool
                ),
            )),
        ),
        ToolMapping::Unreadable(why) => (
            vec![ctx.unplaced(None)],
            Some((
                "parapet:mcp-unreadable",
                format!(
                    "parapet could not read what this call to {}/{} would do: {why}; a person must confirm it.",
                    input.server, input.tool
                ),
            )),
        ),
    };
    let read = forced.is_none() && judged.iter().all(|j| !j.writes && j.effects.is_empty());
    let mut decision = Decision::combine(judged.iter().map(|j| &j.decision));
    if let Some((id, reason)) = forced {
        if decision.outcome < Outcome::Review {
            decision.outcome = Outcome::Review;
            decision.approval = Some(Approval {
                approvers: 1,
                delay_seconds: 0,
            });
        }
        decision.policies.insert(
            0,
            DecidingPolicy {
                id: id.into(),
                outcome: Outcome::Review,
                reason,
            },
        );
    }
    let report = crate::tool_report::report(
        app.engine.version(),
        &actor,
        &incident,
        input,
        binding,
        &judged,
        &decision,
    )?;
    Ok((decision, report, read))
}

struct Ctx<'a> {
    app: &'a App,
    actor: &'a Actor,
    incident: &'a Option<String>,
    server: &'a str,
    tool: &'a str,
}

impl Ctx<'_> {
    fn action(&self, a: &ToolAction) -> Judged {
        if let Some(why) = mints_credentials(&a.action) {
            let mut j = self.aws(a);
            j.decision = refusal(
                "parapet:credential-minting",
                format!(
                    "{} is refused: {why}; an agent behind parapet is never given credentials that work without it.",
                    a.action.trim()
                ),
            );
            return j;
        }
        let service = a.action.split_once(':').map(|(s, _)| s.trim());
        let aws = service
            .is_some_and(|s| s != "mcp" && parapet_aws::catalog().service_prefix(s).is_some());
        if aws {
            self.aws(a)
        } else {
            self.non_aws(a)
        }
    }

    /// An AWS action judged as `parapet proxy aws` judges it.
    fn aws(&self, a: &ToolAction) -> Judged {
        let shown = masked_params(&a.params);
        let call = match ApiCall::new(&a.action, a.resource.clone(), a.params.clone()) {
            Ok(c) => c,
            Err(e) => {
                let mut j = self.unplaced(Some(a));
                j.decision = review(
                    "parapet:mcp-unjudgeable",
                    format!("{} cannot be judged: {e}", a.action),
                );
                return j;
            }
        };
        let opts = CallOptions {
            actor: self.actor.clone(),
            incident: self.incident.clone(),
            critical: self.app.config.critical.clone(),
            account: None,
        };
        let r = check_call(&call, &opts, &self.app.engine);
        Judged {
            action: r.action,
            resource: r.resource,
            resource_type: r.resource_type,
            writes: r.writes,
            critical: r.critical,
            data_bearing: r.data_bearing,
            access_level: r.access_level,
            decision: r.decision,
            effects: r.effects,
            findings: r.findings,
            notes: r.notes,
            params: shown,
        }
    }

    /// An action outside AWS, as its mapping declares it: a read, or a write parapet
    /// cannot place (destroying, running commands, or of undeclared access).
    fn non_aws(&self, a: &ToolAction) -> Judged {
        if a.access == Some(ToolAccess::Read) {
            let resource = a
                .resource
                .clone()
                .unwrap_or_else(|| tool_address(self.server, self.tool));
            let decision = self.decide(&resource, false, &[]);
            return Judged {
                action: a.action.trim().to_string(),
                resource,
                resource_type: format!("mcp:{}", self.server),
                writes: false,
                critical: false,
                data_bearing: false,
                access_level: Some("Read"),
                decision,
                effects: Vec::new(),
                findings: Vec::new(),
                notes: Vec::new(),
                params: masked_params(&a.params),
            };
        }
        self.unplaced(Some(a))
    }

    /// A write parapet cannot place (unmapped tools too): judged by the pack with an
    /// unknown target kind, and what the mapping says it does besides.
    fn unplaced(&self, a: Option<&ToolAction>) -> Judged {
        let action = a.map_or_else(|| format!("mcp:{}", self.tool), |a| a.action.trim().into());
        let resource = a
            .and_then(|a| a.resource.clone())
            .unwrap_or_else(|| tool_address(self.server, self.tool));
        let resource_type = format!("mcp:{}", self.server);
        let mut effects = vec![Effect::Unknown {
            resource: resource.clone(),
            unrecognised: Unrecognised::ResourceType,
            name: resource_type.clone(),
            why: format!(
                "{action} is not an AWS action parapet knows, so what it changes cannot be told from it"
            ),
        }];
        match a.and_then(|a| a.access) {
            Some(ToolAccess::Destroy) => effects.push(Effect::Destroy {
                resource: resource.clone(),
                data: DataFate::Unknown {
                    why: format!(
                        "the mapping of {}/{} says it deletes",
                        self.server, self.tool
                    ),
                },
            }),
            Some(ToolAccess::Execute) => effects.push(Effect::Technique {
                resource: resource.clone(),
                technique: Technique::RunsCommands,
                what: format!(
                    "{}/{} runs commands or code: anything the server may do could happen",
                    self.server, self.tool
                ),
            }),
            _ => {}
        }
        let decision = self.decide(&resource, true, &effects);
        Judged {
            findings: effects.iter().map(Finding::from_effect).collect(),
            action,
            resource,
            resource_type,
            writes: true,
            critical: false,
            data_bearing: false,
            access_level: None,
            decision,
            effects,
            notes: Vec::new(),
            params: a.map_or(Value::Null, |a| masked_params(&a.params)),
        }
    }

    fn decide(&self, resource: &str, writes: bool, effects: &[Effect]) -> Decision {
        let (labels, max_severity) = policy_facts(effects);
        self.app.engine.decide(&Facts {
            actor: self.actor.clone(),
            action: "call".into(),
            resource: ResourceFacts {
                resource_type: format!("mcp:{}", self.server),
                address: resource.into(),
                tags: Default::default(),
                critical: false,
                data_bearing: false,
            },
            effects: labels,
            max_severity,
            writes,
            incident: self.incident.clone(),
            source: "mcp".into(),
        })
    }
}

fn refusal(id: &str, reason: String) -> Decision {
    Decision {
        outcome: Outcome::Deny,
        approval: None,
        policies: vec![DecidingPolicy {
            id: id.into(),
            outcome: Outcome::Deny,
            reason,
        }],
        errors: Vec::new(),
    }
}

fn review(id: &str, reason: String) -> Decision {
    Decision {
        outcome: Outcome::Review,
        approval: Some(Approval {
            approvers: 1,
            delay_seconds: 0,
        }),
        policies: vec![DecidingPolicy {
            id: id.into(),
            outcome: Outcome::Review,
            reason,
        }],
        errors: Vec::new(),
    }
}

/// The address of a tool as policies and approvers see it.
pub fn tool_address(server: &str, tool: &str) -> String {
    format!("mcp://{server}/{tool}")
}
