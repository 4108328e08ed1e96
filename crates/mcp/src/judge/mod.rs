//! Judging tool calls with the decision service's gate, policies, approvals, incident
//! mode and kill switch, in process (`--database`, next to the database like
//! `parapet proxy aws`) or through a running `parapet serve` (`--server`, the stdio
//! deployment: the agent holds only its parapet token).
//!
//! Both backends run the same code in the decision service
//! (`parapet_server::decide_tool`): every mapped action judged by the gate, the worst
//! outcome wins, one decision recorded with every action shown to approvers (secrets
//! masked), the approval bound to caller, server, tool, canonical arguments and policy
//! version (made by the service from the token's actor, never taken from the gateway).
//! A retry of a call under review attaches to it; an approved call is consumed once.
//!
//! Every [`JudgeError`] means "refuse" to the gateway.

mod local;
mod remote;

use crate::{Caller, MappedAction, Mapping, ToolCall, Verdict};
use parapet_server::{ToolAccess, ToolAction, ToolMapping};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use remote::RemoteError;

/// Why a call could not be judged. The gateway refuses the call (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The parapet token is unknown, revoked, expired, or of a role that may not call
    /// tools.
    #[error("parapet token refused: {0}")]
    Unauthenticated(String),
    /// A caller this judge never authenticated (remote backend: no token for it).
    #[error("caller {0} was not authenticated with this judge")]
    UnknownCaller(String),
    /// The decision service could not judge or record the call.
    #[error("the decision service could not decide: {0}")]
    Decide(#[from] parapet_server::DecideError),
    /// The decision store failed.
    #[error("the decision store failed: {0}")]
    Store(#[from] parapet_store::StoreError),
    /// The remote decision service failed or answered something unreadable.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A decision id this judge cannot find (or was not made for this caller).
    #[error("decision {0} not found")]
    NoDecision(String),
}

/// The judge: one of two backends with the same behaviour.
pub struct Judge(Backend);

enum Backend {
    Local(local::Local),
    Remote(remote::Remote),
}

/// How often `wait` reads the decision and calls `tick`.
pub(crate) const POLL: Duration = Duration::from_secs(1);

impl Judge {
    /// In process, on the decision service's own state (its store, pack, config):
    /// `public_url` is where approvers open a decision (`<public_url>/ui/decisions/<id>`).
    pub fn in_process(app: Arc<parapet_server::App>, public_url: impl Into<String>) -> Judge {
        Judge(Backend::Local(local::Local::new(app, public_url.into())))
    }

    /// The one token of a stdio session judged in process: read again before every
    /// call, so a token revoked or expired mid-session stops working at once (over
    /// HTTP every request is authenticated anyway; a remote service checks the token
    /// it is sent).
    pub fn with_session_token(mut self, token: Option<String>) -> Judge {
        if let Backend::Local(l) = &mut self.0 {
            l.session_token = token;
        }
        self
    }

    /// Whether a stdio session's token still names `caller` (in process; a remote
    /// service checks the token on every request it is sent).
    pub async fn session_holds(&self, caller: &Caller) -> Result<(), JudgeError> {
        match &self.0 {
            Backend::Local(l) => l.session_holds(caller).await,
            Backend::Remote(_) => Ok(()),
        }
    }

    /// Through a running `parapet serve` at `server_url` (`http://` or `https://`).
    /// `token`: the agent's parapet token, registered at once (stdio deployments);
    /// callers of other tokens are registered by [`Judge::authenticate`].
    pub fn remote(server_url: &str, token: Option<String>) -> Result<Judge, JudgeError> {
        Ok(Judge(Backend::Remote(remote::Remote::new(
            server_url, token,
        )?)))
    }

    /// Who holds this parapet token (bearer). Identity only from this: agent and admin
    /// tokens may call tools; approver tokens may not.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, JudgeError> {
        match &self.0 {
            Backend::Local(l) => l.authenticate(token).await,
            Backend::Remote(r) => r.authenticate(token).await,
        }
    }

    /// Judge one call and record the decision.
    pub async fn judge(
        &self,
        caller: &Caller,
        call: &ToolCall<'_>,
        mapping: &Mapping,
    ) -> Result<Verdict, JudgeError> {
        let input = input(call, mapping);
        match &self.0 {
            Backend::Local(l) => l.judge(caller, input).await,
            Backend::Remote(r) => r.judge(caller, input).await,
        }
    }

    /// Wait for a review decision until `deadline`, calling `tick(elapsed)` about every
    /// second: approved: consumed (one approval, one execution) and Allow; rejected,
    /// expired or used by another call: Deny; still pending at the deadline: the Review
    /// verdict again.
    pub async fn wait(
        &self,
        caller: &Caller,
        decision: &str,
        deadline: Instant,
        tick: impl FnMut(Duration),
    ) -> Result<Verdict, JudgeError> {
        match &self.0 {
            Backend::Local(l) => l.wait(caller, decision, deadline, tick).await,
            Backend::Remote(r) => r.wait(caller, decision, deadline, tick).await,
        }
    }

    /// False for a tool the caller may never use: standing policy refuses what it does
    /// whatever its arguments (see `parapet_server::tool_visible`; neither incident mode
    /// nor a freeze hides tools: both pass, and calls are refused meanwhile, naming
    /// why). `actions`: the tool's static actions, None when they depend on arguments.
    pub async fn visible(
        &self,
        caller: &Caller,
        server: &str,
        tool: &str,
        actions: Option<&[MappedAction]>,
    ) -> Result<bool, JudgeError> {
        let actions: Option<Vec<ToolAction>> = actions.map(|a| a.iter().map(action).collect());
        match &self.0 {
            Backend::Local(l) => l.visible(caller, server, tool, actions.as_deref()),
            Backend::Remote(r) => r.visible(caller, server, tool, actions.as_deref()).await,
        }
    }
}

fn action(a: &MappedAction) -> ToolAction {
    ToolAction {
        action: a.action.clone(),
        resource: a.resource.clone(),
        params: a.params.clone(),
        access: a.access.map(|x| match x {
            crate::Access::Read => ToolAccess::Read,
            crate::Access::Write => ToolAccess::Write,
            crate::Access::Destroy => ToolAccess::Destroy,
            crate::Access::Execute => ToolAccess::Execute,
        }),
    }
}

/// The call as the decision service takes it.
fn input(call: &ToolCall<'_>, mapping: &Mapping) -> parapet_server::ToolInput {
    parapet_server::ToolInput {
        server: call.server.to_string(),
        tool: call.tool.to_string(),
        arguments: call.arguments.clone(),
        mapping: match mapping {
            Mapping::Actions(a) => ToolMapping::Actions(a.iter().map(action).collect()),
            Mapping::Unmapped { why } => ToolMapping::Unmapped(why.clone()),
            Mapping::Unreadable { why } => ToolMapping::Unreadable(why.clone()),
        },
    }
}

/// The verdict a stored decision gives: `attached`: an earlier approval was consumed
/// for this call (allow), whatever the stored outcome says.
pub(crate) fn verdict(
    id: &str,
    outcome: &str,
    state: &str,
    report: &serde_json::Value,
    approval_url: Option<String>,
) -> Verdict {
    let reason = parapet_server::reasons(report);
    match (outcome, state) {
        ("allow", _) => Verdict::Allow {
            decision: Some(id.to_string()),
        },
        ("review", "pending" | "cooling_off") => Verdict::Review {
            decision: id.to_string(),
            reason,
            explanation: report["explanation"]
                .as_str()
                .unwrap_or("parapet holds this call for review")
                .to_string(),
            approval_url,
        },
        ("review", "rejected") => Verdict::Deny {
            decision: Some(id.to_string()),
            reason: format!("an approver rejected it ({reason})"),
        },
        ("review", "expired") => Verdict::Deny {
            decision: Some(id.to_string()),
            reason: format!("nobody approved it in time ({reason})"),
        },
        ("review", "executed") => Verdict::Deny {
            decision: Some(id.to_string()),
            reason: "its approval was already used: one approval runs one call; call again for a new review".into(),
        },
        // Approved but not consumed by this caller: the caller consumes it first.
        ("review", other) => Verdict::Deny {
            decision: Some(id.to_string()),
            reason: format!("the review is {other}, not runnable by this call"),
        },
        // Deny, and anything unrecognised.
        _ => Verdict::Deny {
            decision: Some(id.to_string()),
            reason,
        },
    }
}
