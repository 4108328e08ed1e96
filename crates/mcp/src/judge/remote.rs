//! The remote backend: a running `parapet serve` over its HTTP API, with the agent's
//! parapet token (`POST /v1/decisions {"tool": ...}`, `GET /v1/decisions/{id}?wait=1`,
//! `POST /v1/decisions/{id}/execute`, `GET /v1/whoami`, `POST /v1/tools/visible`).
//! The service makes the binding and looks up earlier approvals itself.

use super::{verdict, JudgeError, POLL};
use crate::{Caller, Verdict};
use parapet_server::{ToolAction, ToolInput, ToolMapping};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What went wrong talking to the decision service.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("decision service URL {0:?} is not an http:// or https:// URL")]
    BadUrl(String),
    #[error("the decision service at {url} cannot be reached ({what}): {source}")]
    Unreachable {
        url: String,
        what: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("the decision service answered HTTP {status} to {what}: {message}")]
    Status {
        status: u16,
        what: String,
        message: String,
    },
    #[error("the decision service's answer to {what} is unreadable: {why}")]
    Answer { what: String, why: String },
    #[error("internal error talking to the decision service: {0}")]
    Internal(String),
}

pub(super) struct Remote {
    base: String,
    agent: ureq::Agent,
    /// The token given at start (stdio: the agent's own), registered on first use.
    default: Option<String>,
    /// Each authenticated actor's token: requests for a caller carry its token.
    tokens: Mutex<HashMap<String, Arc<str>>>,
}

/// Longest a single request may take (long polls ask for one second).
const TIMEOUT: Duration = Duration::from_secs(30);

impl Remote {
    pub(super) fn new(url: &str, token: Option<String>) -> Result<Remote, RemoteError> {
        let base = url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://"))
            || base.len() <= "https://".len()
        {
            return Err(RemoteError::BadUrl(url.to_string()));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Remote {
            base,
            agent,
            default: token
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// One request off the async threads: the status and the JSON answer.
    async fn call(
        &self,
        token: &str,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<(u16, Value), RemoteError> {
        let (agent, url, token) = (
            self.agent.clone(),
            format!("{}{path}", self.base),
            token.to_string(),
        );
        let what = format!("{method} {}", path.split('?').next().unwrap_or(""));
        let w = what.clone();
        tokio::task::spawn_blocking(move || {
            let auth = format!("Bearer {token}");
            let sent = match (method, body) {
                ("POST", b) => agent
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .send(b.unwrap_or(Value::Null).to_string()),
                _ => agent.get(&url).header("authorization", &auth).call(),
            };
            let mut resp = sent.map_err(|e| RemoteError::Unreachable {
                url: url.split('?').next().unwrap_or("").to_string(),
                what: w.clone(),
                source: Box::new(e),
            })?;
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| RemoteError::Answer {
                    what: w.clone(),
                    why: e.to_string(),
                })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| RemoteError::Answer {
                what: w.clone(),
                why: format!("not JSON ({e})"),
            })?;
            Ok((status, v))
        })
        .await
        .map_err(|e| RemoteError::Internal(e.to_string()))?
        .map_err(|e| match e {
            RemoteError::Answer { why, .. } => RemoteError::Answer { what, why },
            other => other,
        })
    }

    /// The answer of a request that must succeed; refusals become errors.
    async fn ok(
        &self,
        token: &str,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<Value, JudgeError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(""));
        let (status, v) = self.call(token, method, path, body).await?;
        match status {
            200..=299 => Ok(v),
            401 => Err(JudgeError::Unauthenticated(message(&v))),
            _ => Err(RemoteError::Status {
                status,
                what,
                message: message(&v),
            }
            .into()),
        }
    }

    pub(super) async fn authenticate(&self, token: &str) -> Result<Caller, JudgeError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(JudgeError::Unauthenticated("no parapet token given".into()));
        }
        let who = self.ok(token, "GET", "/v1/whoami".into(), None).await?;
        let actor = who["actor"].as_str().unwrap_or_default().to_string();
        let role = who["role"].as_str().unwrap_or_default();
        if actor.is_empty() {
            return Err(RemoteError::Answer {
                what: "GET /v1/whoami".into(),
                why: "no actor".into(),
            }
            .into());
        }
        if !matches!(role, "agent" | "admin") {
            return Err(JudgeError::Unauthenticated(format!(
                "this token's role is {role}; tool calls need an agent (or admin) token"
            )));
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= 10_000 {
            tokens.clear();
        }
        tokens.insert(actor.clone(), Arc::from(token));
        Ok(Caller { actor })
    }

    /// The token of an authenticated caller (the start token, authenticated on first
    /// use, if it is this caller's).
    async fn token(&self, caller: &Caller) -> Result<Arc<str>, JudgeError> {
        let known = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&caller.actor)
            .cloned();
        if let Some(t) = known {
            return Ok(t);
        }
        if let Some(d) = &self.default {
            if self.authenticate(d).await?.actor == caller.actor {
                return Ok(Arc::from(d.as_str()));
            }
        }
        Err(JudgeError::UnknownCaller(caller.actor.clone()))
    }

    pub(super) async fn judge(
        &self,
        caller: &Caller,
        input: ToolInput,
    ) -> Result<Verdict, JudgeError> {
        let token = self.token(caller).await?;
        let mut tool = json!({
            "server": input.server,
            "tool": input.tool,
            "arguments": input.arguments,
        });
        match input.mapping {
            ToolMapping::Actions(a) => {
                tool["actions"] = json!(a.iter().map(shown).collect::<Vec<_>>())
            }
            ToolMapping::Unmapped(w) => tool["unmapped"] = json!(w),
            ToolMapping::Unreadable(w) => tool["unreadable"] = json!(w),
        }
        let r = self
            .ok(
                &token,
                "POST",
                "/v1/decisions".into(),
                Some(json!({"tool": tool})),
            )
            .await?;
        if r["recorded"] == false && r["outcome"] == "allow" {
            return Ok(Verdict::Allow { decision: None });
        }
        if r["attached"] == "approved" {
            return Ok(Verdict::Allow {
                decision: r["id"].as_str().map(String::from),
            });
        }
        decided(&r)
    }

    pub(super) async fn wait(
        &self,
        caller: &Caller,
        id: &str,
        deadline: Instant,
        mut tick: impl FnMut(Duration),
    ) -> Result<Verdict, JudgeError> {
        let token = self.token(caller).await?;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(JudgeError::NoDecision(id.to_string()));
        }
        let started = Instant::now();
        let mut unused = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Long-poll up to a second: wakes at once on a vote, ticks every second.
            let secs = if left >= POLL { 1 } else { 0 };
            let (status, r) = self
                .call(
                    &token,
                    "GET",
                    format!("/v1/decisions/{id}?wait={secs}"),
                    None,
                )
                .await?;
            match status {
                200 => {}
                401 => return Err(JudgeError::Unauthenticated(message(&r))),
                404 => return Err(JudgeError::NoDecision(id.to_string())),
                s => {
                    return Err(RemoteError::Status {
                        status: s,
                        what: "GET /v1/decisions/{id}".into(),
                        message: message(&r),
                    }
                    .into())
                }
            }
            if r["requester"].as_str() != Some(caller.actor.as_str()) {
                return Err(JudgeError::NoDecision(id.to_string()));
            }
            match r["state"].as_str().unwrap_or("") {
                "approved" => {
                    let (status, e) = self
                        .call(&token, "POST", format!("/v1/decisions/{id}/execute"), None)
                        .await?;
                    match status {
                        200 => {
                            return Ok(Verdict::Allow {
                                decision: Some(id.to_string()),
                            })
                        }
                        409 if !unused => unused = true,
                        409 => {
                            return Ok(Verdict::Deny {
                                decision: Some(id.to_string()),
                                reason: message(&e),
                            })
                        }
                        401 => return Err(JudgeError::Unauthenticated(message(&e))),
                        s => {
                            return Err(RemoteError::Status {
                                status: s,
                                what: "POST /v1/decisions/{id}/execute".into(),
                                message: message(&e),
                            }
                            .into())
                        }
                    }
                }
                "pending" | "cooling_off" => {
                    if Instant::now() >= deadline {
                        return decided(&r);
                    }
                    if secs == 0 {
                        tokio::time::sleep(left).await;
                    }
                    tick(started.elapsed());
                }
                _ => return decided(&r),
            }
        }
    }

    pub(super) async fn visible(
        &self,
        caller: &Caller,
        server: &str,
        tool: &str,
        actions: Option<&[ToolAction]>,
    ) -> Result<bool, JudgeError> {
        let token = self.token(caller).await?;
        let body = json!({
            "server": server,
            "tool": tool,
            "actions": actions.map(|a| a.iter().map(shown).collect::<Vec<_>>()),
        });
        let r = self
            .ok(&token, "POST", "/v1/tools/visible".into(), Some(body))
            .await?;
        r["visible"].as_bool().ok_or_else(|| {
            RemoteError::Answer {
                what: "POST /v1/tools/visible".into(),
                why: "no \"visible\" flag".into(),
            }
            .into()
        })
    }
}

fn shown(a: &ToolAction) -> Value {
    json!({"action": a.action, "resource": a.resource, "params": a.params, "access": a.access})
}

/// A decision as the API shows it, as a verdict.
fn decided(r: &Value) -> Result<Verdict, JudgeError> {
    let id = r["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
        JudgeError::Remote(RemoteError::Answer {
            what: "a decision".into(),
            why: "no id".into(),
        })
    })?;
    Ok(verdict(
        id,
        r["outcome"].as_str().unwrap_or(""),
        r["state"].as_str().unwrap_or(""),
        &r["report"],
        r["review_url"].as_str().map(String::from),
    ))
}

/// The error text of an API answer.
fn message(v: &Value) -> String {
    v["error"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| v.to_string().chars().take(300).collect())
}
