//! The result of judging a plan: the JSON schema `parapet.plan-report/v1`
//! (documented in docs/output.md). Adding fields is compatible; renaming or removing
//! one bumps the version.

use crate::{Actor, Change, Decision, Effect, Severity};
use serde::Serialize;

pub const PLAN_REPORT_SCHEMA: &str = "parapet.plan-report/v1";

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `exposure.admin-port`.
    pub id: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub explanation: String,
}

impl Finding {
    pub fn from_effect(e: &Effect) -> Finding {
        Finding {
            id: e.id(),
            severity: e.severity(),
            summary: e.summary(),
            explanation: e.explanation(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DecidedChange {
    #[serde(flatten)]
    pub change: Change,
    pub decision: Decision,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub changes: usize,
    pub allow: usize,
    pub review: usize,
    pub deny: usize,
    pub findings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub schema: &'static str,
    pub tool: ToolInfo,
    pub input: InputInfo,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The plan's decision: the strictest of its changes.
    pub decision: Decision,
    pub counts: Counts,
    pub changes: Vec<DecidedChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    pub path: String,
    pub format_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
}

pub const CALL_REPORT_SCHEMA: &str = "parapet.call-report/v1";

/// The result of judging one AWS API call (`parapet.call-report/v1`).
#[derive(Debug, Clone, Serialize)]
pub struct CallReport {
    pub schema: &'static str,
    pub tool: ToolInfo,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// `service:Operation`.
    pub action: String,
    /// The IAM access level from the catalog; absent for undocumented actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<&'static str>,
    pub resource: String,
    pub resource_type: String,
    pub critical: bool,
    pub data_bearing: bool,
    pub writes: bool,
    pub decision: Decision,
    pub effects: Vec<Effect>,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
