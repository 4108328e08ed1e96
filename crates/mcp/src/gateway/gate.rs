//! The gateway's one seam to mapping and judging: what it asks about a call. The
//! production implementation is [`Parapet`] (the shipped mappings plus the judge); the
//! trait keeps the protocol plumbing testable on its own and free of the judge's
//! backends.

use crate::judge::{Judge, JudgeError};
use crate::map::Mappings;
use crate::{Caller, MappedAction, Mapping, ToolCall, Verdict};
use futures::future::BoxFuture;
use std::time::{Duration, Instant};

/// Why the gate could not answer. Every error means "refuse" (fail closed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GateError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Called about every second while a review is waited on, with the time waited.
pub type Tick<'a> = &'a mut (dyn FnMut(Duration) + Send);

/// What the gateway asks about callers and tool calls.
pub trait Gatekeeper: Send + Sync + 'static {
    /// Who holds this parapet token. Identity only from this.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, GateError>>;
    /// The actions a call would take.
    fn map(&self, call: &ToolCall<'_>) -> Mapping;
    /// The actions a tool takes whatever its arguments (None: depends on them).
    fn static_actions(&self, server: &str, tool: &str) -> Option<Vec<MappedAction>>;
    fn judge<'a>(
        &'a self,
        caller: &'a Caller,
        call: &'a ToolCall<'a>,
        mapping: &'a Mapping,
    ) -> BoxFuture<'a, Result<Verdict, GateError>>;
    /// Wait for a review until `deadline`; still pending then: the Review verdict again.
    fn wait<'a>(
        &'a self,
        caller: &'a Caller,
        decision: &'a str,
        deadline: Instant,
        tick: Tick<'a>,
    ) -> BoxFuture<'a, Result<Verdict, GateError>>;
    /// Whether the caller's credentials still hold (a stdio session's token can be
    /// revoked or expire mid-session). Asked before every request that is not judged.
    fn still_valid<'a>(&'a self, _caller: &'a Caller) -> BoxFuture<'a, Result<(), GateError>> {
        Box::pin(async { Ok(()) })
    }
    /// False for tools the caller may never use (hidden from tools/list, refused).
    fn visible<'a>(
        &'a self,
        caller: &'a Caller,
        server: &'a str,
        tool: &'a str,
        actions: Option<&'a [MappedAction]>,
    ) -> BoxFuture<'a, Result<bool, GateError>>;
}

/// The shipped (and extra) mappings and the judge: what `parapet proxy mcp` runs.
pub struct Parapet {
    pub mappings: Mappings,
    pub judge: Judge,
}

fn gate_err(e: JudgeError) -> GateError {
    GateError(Box::new(e))
}

impl Gatekeeper for Parapet {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, GateError>> {
        Box::pin(async move { self.judge.authenticate(token).await.map_err(gate_err) })
    }

    fn map(&self, call: &ToolCall<'_>) -> Mapping {
        self.mappings.map(call)
    }

    fn static_actions(&self, server: &str, tool: &str) -> Option<Vec<MappedAction>> {
        self.mappings.static_actions(server, tool)
    }

    fn judge<'a>(
        &'a self,
        caller: &'a Caller,
        call: &'a ToolCall<'a>,
        mapping: &'a Mapping,
    ) -> BoxFuture<'a, Result<Verdict, GateError>> {
        Box::pin(async move {
            self.judge
                .judge(caller, call, mapping)
                .await
                .map_err(gate_err)
        })
    }

    fn wait<'a>(
        &'a self,
        caller: &'a Caller,
        decision: &'a str,
        deadline: Instant,
        tick: Tick<'a>,
    ) -> BoxFuture<'a, Result<Verdict, GateError>> {
        Box::pin(async move {
            self.judge
                .wait(caller, decision, deadline, tick)
                .await
                .map_err(gate_err)
        })
    }

    fn still_valid<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), GateError>> {
        Box::pin(async move { self.judge.session_holds(caller).await.map_err(gate_err) })
    }

    fn visible<'a>(
        &'a self,
        caller: &'a Caller,
        server: &'a str,
        tool: &'a str,
        actions: Option<&'a [MappedAction]>,
    ) -> BoxFuture<'a, Result<bool, GateError>> {
        Box::pin(async move {
            self.judge
                .visible(caller, server, tool, actions)
                .await
                .map_err(gate_err)
        })
    }
}
