//! Running containment steps: each proposal's call written from AWS's service model
//! (`parapet-wire`), signed with SigV4 from the standard credential chain
//! (`parapet-awsauth`), sent, then checked with the step's read call. Every step ends in
//! an [`Applied`] record that keeps the call that undoes it.
//!
//! Nothing runs that the gate did not allow (or a person approved), that needs a value
//! only a person can give, or that the service model cannot write.

use crate::check::shows;
use crate::{Call, Check, Proposal};
use bytes::Bytes;
use parapet_awsauth::{
    error_chain, AwsClient, Call as HttpCall, ClientError, CredentialSource, Creds, CredsError,
};
use parapet_wire::Answer;
use parapet_wire::{ServiceModels, WireError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Credentials(#[from] CredsError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("no region: give --region, or set one in the profile or AWS_REGION")]
    Region,
    #[error("--endpoint-url {0:?} must start with https:// or http://")]
    Endpoint(String),
    #[error("{action}: no AWS service has this operation")]
    UnknownAction { action: String },
    #[error("{action}: {source}")]
    Write {
        action: String,
        #[source]
        source: WireError,
    },
    #[error("{action}: {why}")]
    Answer { action: String, why: String },
}

/// Where a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Ran, and its check (when it has one) showed it took.
    Done,
    /// Ran, but its check did not show it took.
    Unverified,
    /// AWS refused it or it could not be sent.
    Failed,
    /// Not run: denied, waiting for approval, incomplete, or a dry run.
    NotRun,
    /// Not sent: the step's check already held (a key already inactive).
    AlreadySo,
    /// Its undo ran.
    Undone,
    /// Its undo was tried and failed.
    UndoFailed,
}

/// The record of one step: what ran, what AWS said, how to undo it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Applied {
    /// Always `containment-step`.
    #[serde(rename = "type")]
    pub kind: String,
    pub incident: String,
    pub step: String,
    pub title: String,
    pub state: State,
    /// Why, in a line (AWS's error, the check's finding, the gate's reason).
    pub detail: String,
    pub call: Call,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Call>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_by_hand: Option<String>,
    /// AWS's request id of the call (for CloudTrail and support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The decision service's request, when a person approved the step there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// RFC 3339: when it ran (or was passed over).
    pub at: String,
    /// RFC 3339: when `parapet respond undo --expired` undoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Applied {
    pub fn new(incident: &str, p: &Proposal, state: State, detail: String, at: &str) -> Applied {
        Applied {
            kind: "containment-step".into(),
            incident: incident.to_string(),
            step: p.step.clone(),
            title: p.title.clone(),
            state,
            detail,
            call: p.call.clone(),
            undo: p.undo.clone(),
            undo_by_hand: p.undo_by_hand.clone(),
            request_id: None,
            decision: None,
            at: at.to_string(),
            expires: None,
        }
    }
}

/// Sends calls to AWS and checks them.
pub struct Executor {
    client: AwsClient,
    region: String,
    endpoint: Option<String>,
    credentials_line: String,
    models: &'static ServiceModels,
    /// How long a check is retried for: IAM and EC2 are eventually consistent.
    pub settle: Duration,
    pub timeout: Duration,
    identity: String,
}

impl Executor {
    /// Credentials from `source`, checked now (a missing credential fails here, naming
    /// what the chain tried). `endpoint`: one URL for every service (a local AWS, moto).
    pub async fn new(
        source: &CredentialSource,
        region: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Executor, ExecError> {
        if let Some(e) = endpoint {
            if !e.starts_with("https://") && !e.starts_with("http://") {
                return Err(ExecError::Endpoint(e.to_string()));
            }
        }
        let creds = Creds::new(source, region).await;
        let region = creds.region().map(String::from).ok_or(ExecError::Region)?;
        let credentials_line = creds.check().await?;
        let mut e = Executor {
            client: AwsClient::new(creds)?,
            region,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            credentials_line,
            models: ServiceModels::embedded(),
            settle: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            identity: String::new(),
        };
        // Who these credentials are, before anything is changed: the wrong account is
        // seen here, not after.
        let who = Call {
            action: "sts:GetCallerIdentity".into(),
            params: serde_json::json!({}),
        };
        let a = e.send(&who).await?;
        if !a.ok() {
            return Err(ExecError::Answer {
                action: who.action,
                why: a.failure(),
            });
        }
        e.identity = a
            .tree
            .first("Arn")
            .map(|n| n.text.clone())
            .unwrap_or_else(|| "(an identity STS did not name)".into());
        Ok(e)
    }

    /// Who acts (the caller's ARN), where its credentials came from (never a secret),
    /// and the region.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}), region {}",
            self.identity, self.credentials_line, self.region
        )
    }

    /// Send one call; AWS's answer, failed or not.
    async fn send(&self, call: &Call) -> Result<Answer, ExecError> {
        let (prefix, op) = call
            .action
            .split_once(':')
            .ok_or_else(|| ExecError::UnknownAction {
                action: call.action.clone(),
            })?;
        let service = self
            .models
            .services()
            .filter(|s| s.iam_prefix.eq_ignore_ascii_case(prefix))
            .find(|s| s.operations().is_ok_and(|ops| ops.contains(&op)))
            .ok_or_else(|| ExecError::UnknownAction {
                action: call.action.clone(),
            })?;
        let req =
            parapet_wire::encode(service, op, &call.params).map_err(|source| ExecError::Write {
                action: call.action.clone(),
                source,
            })?;
        let at = parapet_wire::endpoint(service, &self.region);
        let base = self.endpoint.clone().unwrap_or(at.url);
        let url = format!("{base}{}", req.path);
        let what = format!("{} at {base}", call.action);
        let reply = self
            .client
            .send(HttpCall {
                what: &what,
                method: req.method,
                url: &url,
                headers: &req.headers,
                body: Bytes::from(req.body),
                service: &service.signing_name,
                region: &at.signing_region,
                limit: 16 << 20,
                timeout: self.timeout,
            })
            .await?;
        let json = service.protocol == parapet_wire::Protocol::Json;
        parapet_wire::read_answer(reply.status, &reply.body, json).map_err(|why| {
            ExecError::Answer {
                action: call.action.clone(),
                why,
            }
        })
    }

    /// Run `p` (the caller has decided it may run) and check it. A step whose check
    /// already holds is not sent (and records no undo: there is nothing to give back).
    pub async fn run(&self, incident: &str, p: &Proposal, at: &str) -> Applied {
        let mut rec = Applied::new(incident, p, State::Failed, String::new(), at);
        if let Some(c) = &p.check {
            if self.check_once(c).await.is_ok() {
                rec.state = State::AlreadySo;
                rec.undo = None;
                rec.undo_by_hand = None;
                rec.detail = format!("already so ({} shows it): nothing sent", c.call.action);
                return rec;
            }
        }
        match self.send(&p.call).await {
            Err(e) => {
                rec.detail = error_chain(&e);
                // No answer is not no change: the request may have been applied.
                if let (ExecError::Client(_), Some(c)) = (&e, &p.check) {
                    if self.check(c).await.is_ok() {
                        rec.state = State::Done;
                        rec.detail = format!(
                            "the answer was lost ({}), but {} shows the step took",
                            rec.detail, c.call.action
                        );
                    }
                }
            }
            Ok(a) if !a.ok() => {
                rec.request_id = a.request_id.clone();
                rec.detail = format!("AWS refused it: {}", a.failure());
            }
            Ok(a) => {
                rec.request_id = a.request_id.clone();
                match &p.check {
                    None => {
                        rec.state = State::Done;
                        rec.detail = "ran (the step has no check)".into();
                    }
                    Some(c) => match self.check(c).await {
                        Ok(()) => {
                            rec.state = State::Done;
                            rec.detail = format!("ran; checked with {}", c.call.action);
                        }
                        Err(why) => {
                            rec.state = State::Unverified;
                            rec.detail =
                                format!("ran, but {} shows otherwise: {why}", c.call.action);
                        }
                    },
                }
            }
        }
        rec
    }

    async fn check_once(&self, check: &Check) -> Result<(), String> {
        match self.send(&check.call).await {
            Ok(a) => shows(&a, &check.expect),
            Err(e) => Err(error_chain(&e)),
        }
    }

    /// Whether `check` holds, retried until [`Executor::settle`] has passed.
    pub async fn check(&self, check: &Check) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.settle;
        let mut wait = Duration::from_millis(200);
        loop {
            let result = self.check_once(check).await;
            if result.is_ok() || tokio::time::Instant::now() + wait > deadline {
                return result;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Run the undo of a step that ran.
    pub async fn undo(&self, rec: &Applied, at: &str) -> Applied {
        let mut out = rec.clone();
        out.at = at.to_string();
        out.request_id = None;
        out.state = State::UndoFailed;
        if !matches!(rec.state, State::Done | State::Unverified) {
            out.detail = "not undone: the step did not run".into();
            return out;
        }
        if let Some(h) = &rec.undo_by_hand {
            out.detail = format!("not undone: a person must supply {h}");
            return out;
        }
        let Some(undo) = &rec.undo else {
            out.detail = "not undone: the step has no undo".into();
            return out;
        };
        match self.send(undo).await {
            Ok(a) if a.ok() => {
                out.state = State::Undone;
                out.request_id = a.request_id;
                out.detail = format!("undone with {}", undo.action);
            }
            Ok(a) => {
                out.request_id = a.request_id.clone();
                out.detail = format!("AWS refused the undo: {}", a.failure());
            }
            Err(e) => out.detail = error_chain(&e),
        }
        out
    }
}
