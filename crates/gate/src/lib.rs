//! The gate: judge a Terraform plan. Analysis (plan crate) then decision (policy
//! crate) for every change, combined into one report. The CLI and the decision
//! service both call this, so a plan gets the same answer wherever it is checked.

mod call;
mod config;
pub use call::{check_call, masked_params, CallOptions};
pub use config::{Config, ConfigError};
pub use parapet_aws::api::{ApiCall, CallError};

use parapet_model::{
    Actor, Counts, DecidedChange, Decision, Finding, InputInfo, PlanReport, ToolInfo,
    PLAN_REPORT_SCHEMA,
};
use parapet_plan::{Options, PlanError};
use parapet_policy::{Facts, PolicyEngine, ResourceFacts};

pub use parapet_plan::{
    load_pins, parse_pins, parse_rfc3339, Options as PlanOptions, Pin, PinMode,
};

pub struct GateOptions {
    pub actor: Actor,
    /// An open incident's id: incident mode.
    pub incident: Option<String>,
    pub plan: Options,
    /// Shown as the input's path in reports.
    pub input_name: String,
}

/// Analyse and decide a plan given as bytes. Errors are input errors (exit 2);
/// a decision is always made for every change that was read.
pub fn check_plan(
    bytes: &[u8],
    opts: &GateOptions,
    engine: &PolicyEngine,
) -> Result<PlanReport, PlanError> {
    let analysis = parapet_plan::analyze(bytes, &opts.plan)?;
    let mut changes = Vec::with_capacity(analysis.changes.len());
    let mut counts = Counts::default();
    for change in analysis.changes {
        let (labels, max_severity) = parapet_model::policy_facts(&change.effects);
        let facts = Facts {
            actor: opts.actor.clone(),
            action: change.kind.action_name().to_string(),
            resource: ResourceFacts {
                resource_type: change.resource_type.clone(),
                address: change.address.clone(),
                tags: change.tags.clone(),
                critical: change.critical,
                data_bearing: change.data_bearing,
            },
            effects: labels,
            max_severity,
            writes: change.kind.writes(),
            incident: opts.incident.clone(),
            source: "plan".into(),
        };
        // Changes with the same policy-relevant facts share one evaluation (the
        // engine memoises them).
        let decision = engine.decide(&facts);
        match decision.outcome {
            parapet_model::Outcome::Allow => counts.allow += 1,
            parapet_model::Outcome::Review => counts.review += 1,
            parapet_model::Outcome::Deny => counts.deny += 1,
        }
        let mut findings: Vec<Finding> = change.effects.iter().map(Finding::from_effect).collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        counts.findings += findings.len();
        changes.push(DecidedChange {
            change,
            decision,
            findings,
        });
    }
    counts.changes = changes.len();
    let decision = Decision::combine(changes.iter().map(|c| &c.decision));
    Ok(PlanReport {
        schema: PLAN_REPORT_SCHEMA,
        tool: ToolInfo {
            name: "parapet",
            version: env!("CARGO_PKG_VERSION"),
        },
        input: InputInfo {
            path: opts.input_name.clone(),
            format_version: analysis.format_version,
            terraform_version: analysis.terraform_version,
        },
        actor: opts.actor.clone(),
        incident: opts.incident.clone(),
        decision,
        counts,
        changes,
        notes: analysis.notes,
    })
}
