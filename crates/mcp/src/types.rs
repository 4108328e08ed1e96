//! The types the three parts of the gateway hand each other. Shared: change additively.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One `tools/call` as the client sent it.
#[derive(Debug, Clone)]
pub struct ToolCall<'a> {
    /// The upstream server's name (`--name`, else its `serverInfo.name`, else the
    /// command's file name): what mapping files and policies call it.
    pub server: &'a str,
    pub tool: &'a str,
    pub arguments: &'a Map<String, Value>,
}

/// One AWS (or other) action a tool call would take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappedAction {
    /// `service:Operation` (`rds:DeleteDBInstance`), or `mcp:<tool>` style names for
    /// non-AWS tools as the mapping file says.
    pub action: String,
    /// The ARN or identifier acted on, when the mapping knows it.
    pub resource: Option<String>,
    /// Parameters in the API's own shape (for AWS actions: the service model's input
    /// shape, as the AWS proxy produces them).
    pub params: Value,
    /// For non-AWS actions (`mcp:`, `fs:`, `k8s:`, `terraform:`...): what the mapping file
    /// says the action does. `None` for AWS actions: the IAM catalog knows their level.
    /// An unknown or absent access on a non-AWS action must be judged as a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

/// What a non-AWS action does, as its mapping file declares it (see docs/mcp-mappings.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Reads only (list, get, describe, search).
    Read,
    /// Creates or changes something.
    Write,
    /// Deletes or destroys something (data may be lost).
    Destroy,
    /// Runs arbitrary code or commands: anything could happen.
    Execute,
}

/// What a tool call maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// The actions the call would take (one or more; judged together, worst wins).
    Actions(Vec<MappedAction>),
    /// No mapping covers this tool: judged as review, never allowed silently.
    Unmapped { why: String },
    /// A mapping covers the tool but the arguments could not be read (a CLI command
    /// that does not parse, a missing argument): review, with `why` shown.
    Unreadable { why: String },
}

/// Who is calling: from the caller's credential (a parapet token), never from what
/// the request claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `kind:name`, e.g. `agent:kiro`.
    pub actor: String,
}

/// The gate's answer for one tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Forward it. `decision`: the recorded decision's id, when one was recorded.
    Allow { decision: Option<String> },
    /// Answer with a tool error naming the decision and its reason.
    Deny {
        decision: Option<String>,
        reason: String,
    },
    /// Wait for approvers (or answer pending). `explanation`: plain language, what the
    /// call would newly make possible; `approval_url`: where approvers decide.
    Review {
        decision: String,
        reason: String,
        explanation: String,
        approval_url: Option<String>,
    },
}
