//! The in-process backend: the decision service's own state (store, pack, config), as
//! `parapet proxy aws` uses it.

use super::{verdict, JudgeError, POLL};
use crate::{Caller, Verdict};
use parapet_server::{App, CallerError, DecideError, ToolAction, ToolDecision, ToolInput};
use parapet_store::{Request, State, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Local {
    app: Arc<App>,
    public_url: String,
    /// See [`super::Judge::with_session_token`].
    pub(super) session_token: Option<String>,
}

impl Local {
    pub(super) fn new(app: Arc<App>, public_url: String) -> Local {
        Local {
            app,
            public_url: public_url.trim_end_matches('/').to_string(),
            session_token: None,
        }
    }

    pub(super) async fn authenticate(&self, token: &str) -> Result<Caller, JudgeError> {
        match parapet_server::tool_caller(&self.app, token).await {
            Ok(t) => Ok(Caller { actor: t.actor }),
            Err(CallerError::Refused(why)) => Err(JudgeError::Unauthenticated(why)),
            Err(CallerError::Unavailable(why)) => Err(JudgeError::Store(StoreError::Db(why))),
        }
    }

    /// The session's token still names `caller` (not revoked, not expired).
    pub(super) async fn session_holds(&self, caller: &Caller) -> Result<(), JudgeError> {
        let Some(token) = &self.session_token else {
            return Ok(());
        };
        let now = self.authenticate(token).await?;
        if now.actor != caller.actor {
            return Err(JudgeError::Unauthenticated(format!(
                "the session's token now names {}, not {}",
                now.actor, caller.actor
            )));
        }
        Ok(())
    }

    pub(super) async fn judge(
        &self,
        caller: &Caller,
        input: ToolInput,
    ) -> Result<Verdict, JudgeError> {
        self.session_holds(caller).await?;
        let (server, tool) = (input.server.clone(), input.tool.clone());
        match parapet_server::decide_tool(&self.app, &caller.actor, input).await {
            Ok(ToolDecision::Approved(r)) => {
                tracing::info!(decision = %r.id, actor = %caller.actor, server = ?server, tool = ?tool, "approved earlier; consumed for this call");
                Ok(Verdict::Allow {
                    decision: Some(r.id),
                })
            }
            Ok(ToolDecision::Recorded(r) | ToolDecision::Waiting(r)) => Ok(self.verdict(&r)),
            Ok(ToolDecision::Read) => Ok(Verdict::Allow { decision: None }),
            // The requester was frozen between the freeze check and the consume.
            Err(DecideError::Store(StoreError::Conflict(why))) => Ok(Verdict::Deny {
                decision: None,
                reason: why,
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn verdict(&self, r: &Request) -> Verdict {
        let state = r.state(parapet_store::now());
        let state = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let url = (!self.public_url.is_empty())
            .then(|| format!("{}/ui/decisions/{}", self.public_url, r.id));
        verdict(&r.id, &r.outcome, &state, &r.report_value(), url)
    }

    async fn read(&self, caller: &Caller, id: &str) -> Result<Request, JudgeError> {
        let (app, key) = (self.app.clone(), id.to_string());
        let found = tokio::task::spawn_blocking(move || app.store.request(&key))
            .await
            .map_err(|e| StoreError::Db(format!("the store task failed: {e}")))??;
        // Another caller's decision is not this caller's to wait on or run.
        found
            .filter(|r| r.requester == caller.actor)
            .ok_or_else(|| JudgeError::NoDecision(id.to_string()))
    }

    pub(super) async fn wait(
        &self,
        caller: &Caller,
        id: &str,
        deadline: Instant,
        mut tick: impl FnMut(Duration),
    ) -> Result<Verdict, JudgeError> {
        let started = Instant::now();
        let mut unused = false;
        loop {
            self.session_holds(caller).await?;
            let r = self.read(caller, id).await?;
            match r.state(parapet_store::now()) {
                State::Approved => {
                    match parapet_server::consume(&self.app, id, &caller.actor).await {
                        Ok(true) => {
                            return Ok(Verdict::Allow {
                                decision: Some(r.id),
                            })
                        }
                        // Changed since read (used by a concurrent retry): read again;
                        // approved yet not usable twice over (its review expired): no.
                        Ok(false) if !unused => {
                            unused = true;
                            continue;
                        }
                        Ok(false) => {
                            return Ok(Verdict::Deny {
                                decision: Some(r.id),
                                reason: "the approval can no longer be used (its review expired)"
                                    .into(),
                            })
                        }
                        Err(DecideError::Store(StoreError::Conflict(why))) => {
                            return Ok(Verdict::Deny {
                                decision: Some(r.id),
                                reason: why,
                            })
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                State::Pending | State::CoolingOff => {}
                _ => return Ok(self.verdict(&r)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(self.verdict(&r));
            }
            tokio::time::sleep(POLL.min(left)).await;
            tick(started.elapsed());
        }
    }

    pub(super) fn visible(
        &self,
        caller: &Caller,
        server: &str,
        tool: &str,
        actions: Option<&[ToolAction]>,
    ) -> Result<bool, JudgeError> {
        Ok(parapet_server::tool_visible(
            &self.app,
            &caller.actor,
            server,
            tool,
            actions,
        )?)
    }
}
