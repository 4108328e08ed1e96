//! parapet's shared vocabulary: actors, changes, effects and decisions.
//!
//! Plain data, no I/O. Every input (a Terraform plan, an API call, a CloudTrail record)
//! is turned into these types by the knowledge layer, and every consumer (policy,
//! detection, reports) reads them. The plain-language sentences live here too, so a
//! reviewer and an incident timeline read the same words for the same fact.

mod actor;
mod decision;
mod diff;
mod effect;
mod report;
mod sentence;
pub mod text;
pub mod time;

pub use actor::{Actor, ActorError, ActorKind};
pub use decision::{Approval, DecidingPolicy, Decision, Outcome};
pub use diff::{DiffDetail, DocumentChange, NetRule, PolicyStatement};
pub use effect::{
    policy_facts, Certainty, DataFate, DefenseEvasion, Effect, EscalationHit, ExposureScope, Grant,
    PortRange, Severity, ShareTarget, Technique, Unrecognised,
};
pub use report::{
    CallReport, Counts, DecidedChange, Finding, InputInfo, PlanReport, ToolInfo,
    CALL_REPORT_SCHEMA, PLAN_REPORT_SCHEMA,
};

use serde::Serialize;

/// What Terraform (or an API call) is about to do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
    /// Delete then create (Terraform's default order): downtime between the two.
    ReplaceDestroyFirst,
    /// Create then delete (`create_before_destroy`).
    ReplaceCreateFirst,
    /// Removed from state, the real object is left alone (Terraform 1.7+ `removed`).
    Forget,
    Read,
    NoOp,
}

impl ChangeKind {
    /// The Cedar action name for this change.
    pub fn action_name(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::ReplaceDestroyFirst | ChangeKind::ReplaceCreateFirst => "replace",
            ChangeKind::Forget => "forget",
            ChangeKind::Read => "read",
            ChangeKind::NoOp => "no-op",
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(
            self,
            ChangeKind::ReplaceDestroyFirst | ChangeKind::ReplaceCreateFirst
        )
    }

    /// Does this change remove the existing object?
    pub fn destroys(self) -> bool {
        matches!(self, ChangeKind::Delete) || self.is_replace()
    }

    /// Does this change write anything in the account?
    pub fn writes(self) -> bool {
        !matches!(
            self,
            ChangeKind::Read | ChangeKind::NoOp | ChangeKind::Forget
        )
    }

    pub fn verb(self) -> &'static str {
        match self {
            ChangeKind::Create => "creates",
            ChangeKind::Update => "updates in place",
            ChangeKind::Delete => "destroys",
            ChangeKind::ReplaceDestroyFirst => "destroys and then re-creates",
            ChangeKind::ReplaceCreateFirst => "creates a replacement and then destroys",
            ChangeKind::Forget => "removes from Terraform state (the object itself stays)",
            ChangeKind::Read => "reads",
            ChangeKind::NoOp => "leaves unchanged",
        }
    }
}

/// One attribute that differs between before and after, with values already masked
/// where Terraform or parapet considers them sensitive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeDiff {
    pub path: String,
    /// Rendered before value; `None` when the attribute did not exist.
    pub before: Option<String>,
    /// Rendered after value; `"(known after apply)"` for unknown values.
    pub after: Option<String>,
    pub sensitive: bool,
    /// For policy documents and rule lists: the statements or rules removed and added,
    /// in full (masked like every value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<DiffDetail>,
}

/// A resource change, normalised: the unit that gets a decision.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub address: String,
    pub resource_type: String,
    pub provider: String,
    pub kind: ChangeKind,
    /// Terraform's `action_reason`, e.g. `replace_because_cannot_update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_reason: Option<String>,
    /// Attribute paths that force replacement (`replace_paths`), rendered dotted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replace_paths: Vec<String>,
    /// Tags after the change (before, for deletions); values of sensitive tags masked.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    pub critical: bool,
    pub data_bearing: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<AttributeDiff>,
    pub effects: Vec<Effect>,
}
