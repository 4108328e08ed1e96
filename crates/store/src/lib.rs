//! Durable state of the decision service: decision requests and their approvals, API
//! tokens, incidents, pins, freezes and a hash-chained audit log, behind one interface
//! ([`Store`]) with two implementations: SQLite (embedded default: one file, WAL) and
//! PostgreSQL (several replicas share one database with the same guarantees).
//!
//! Every write is one transaction that also appends its audit entry, so an
//! acknowledged decision or approval is never without its record, and the record
//! never without the fact.

mod audit;
mod aws_keys;
mod freeze;
mod group;
mod hash;
mod pg;
mod shared;
mod sqlite;

pub use audit::{verify_chain, AuditEntry, ChainProblem, GENESIS};
pub use aws_keys::{
    aws_secret, credential_key_file_warning, generate_credential_key_file, is_access_key_id,
    load_credential_key, ACCESS_KEY_PREFIX, MIN_KEY_BYTES,
};
pub use freeze::{check_target as check_freeze_target, frozen, Freeze, Frozen, NewFreeze};
pub use hash::{hex_sha256, new_secret};
pub use pg::{redact, PgStore};
pub use shared::check_role_actor;
pub use sqlite::SqliteStore;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or failed the statement: callers fail closed.
    #[error("database error: {0}")]
    Db(String),
    #[error("no decision request {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The caller's input is not acceptable (a token role and actor that do not go
    /// together, an expiry in the past).
    #[error("{0}")]
    Invalid(String),
    /// The credential key file could not be read or written.
    #[error("credential key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The credential key file holds no usable key, or may not be written.
    #[error("credential key file {path} {why}")]
    BadKey { path: String, why: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May request decisions.
    Agent,
    /// May approve or reject.
    Approver,
    /// Everything, including tokens.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The actor this token acts as (`agent:kiro`, `human:alice`): requests and
    /// approvals are attributed to it, never to what a request body claims.
    pub actor: String,
    pub created_at: i64,
    /// After this the token is refused.
    pub expires_at: Option<i64>,
    /// When it was revoked (refused from then on).
    pub revoked_at: Option<i64>,
    /// Last use, recorded at most about once a minute per replica.
    pub last_used_at: Option<i64>,
    /// The AWS access key id of a token made for `parapet proxy aws` (not a secret:
    /// the secret access key is derived from it and never stored).
    pub aws_access_key_id: Option<String>,
}

impl TokenInfo {
    /// Usable at `now`: not revoked, not expired.
    pub fn live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Web UI sessions last at most this long (and never past their token's expiry).
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The gate allowed it: executable now.
    Allowed,
    /// The gate denied it. Final.
    Denied,
    /// Needs more approvals.
    Pending,
    /// Approved; executable once the cooling-off delay has passed.
    CoolingOff,
    /// Approved and cooled off: executable.
    Approved,
    /// Someone rejected it. Final.
    Rejected,
    /// Not approved in time. Final.
    Expired,
    /// Approved and then executed through the proxy: one approval, one execution.
    /// Final.
    Executed,
}

impl State {
    pub fn is_final(self) -> bool {
        !matches!(self, State::Pending | State::CoolingOff)
    }

    pub fn executable(self) -> bool {
        matches!(self, State::Allowed | State::Approved)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Vote {
    pub approver: String,
    pub approve: bool,
    pub at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A decision request as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub id: String,
    pub created_at: i64,
    pub requester: String,
    /// `plan` or `call`.
    pub kind: String,
    /// SHA-256 of the submitted content: approvals are bound to it.
    pub content_hash: String,
    /// The gate's outcome: allow, review or deny.
    pub outcome: String,
    pub approvers_required: u32,
    pub delay_seconds: u64,
    pub expires_at: i64,
    /// When the last required approval landed.
    pub approved_at: Option<i64>,
    pub rejected: bool,
    /// When an approved request was executed (consumed), and by whom: an approval is
    /// used once.
    pub executed_at: Option<i64>,
    pub executed_by: Option<String>,
    pub votes: Vec<Vote>,
    /// The gate's report, as stored JSON text: passed through to responses without
    /// being rebuilt; `report_value` parses it where a field is read.
    pub report: Box<serde_json::value::RawValue>,
}

impl Request {
    /// The report as a value to read fields from; a report that no longer parses is
    /// shown as such.
    pub fn report_value(&self) -> serde_json::Value {
        serde_json::from_str(self.report.get()).unwrap_or_else(
            |e| serde_json::json!({"error": format!("stored report unreadable: {e}")}),
        )
    }

    /// The state at `now`: time moves requests from cooling-off to approved and from
    /// pending to expired without a write.
    pub fn state(&self, now: i64) -> State {
        match self.outcome.as_str() {
            "allow" => return State::Allowed,
            "deny" => return State::Denied,
            _ => {}
        }
        if self.rejected {
            return State::Rejected;
        }
        if self.executed_at.is_some() {
            return State::Executed;
        }
        match self.approved_at {
            Some(at) if now >= at + self.delay_seconds as i64 => State::Approved,
            Some(_) => State::CoolingOff,
            None if now >= self.expires_at => State::Expired,
            None => State::Pending,
        }
    }

    /// When a cooling-off request becomes executable.
    pub fn executable_at(&self) -> Option<i64> {
        self.approved_at.map(|a| a + self.delay_seconds as i64)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    /// `manual`, `pagerduty`, `opsgenie`.
    pub source: String,
    pub title: String,
    pub opened_at: i64,
    pub opened_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredPin {
    pub id: String,
    pub resource: String,
    pub attribute: String,
    /// JSON text of the protected value, if one was given.
    pub value: Option<String>,
    pub mode: Option<String>,
    pub reason: String,
    pub incident: Option<String>,
    pub expires: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// What a new decision request carries into the store.
pub struct NewRequest {
    pub requester: String,
    pub kind: String,
    pub content_hash: String,
    pub outcome: String,
    pub approvers_required: u32,
    pub delay_seconds: u64,
    pub ttl_seconds: i64,
    /// The gate's report, serialised once by the caller: stored and answered as is.
    pub report: Box<serde_json::value::RawValue>,
}

impl NewRequest {
    /// The request as stored under `id` at `now`: what a backend returns after the
    /// insert, without reading it back.
    pub(crate) fn into_request(self, id: String, now: i64) -> Request {
        Request {
            id,
            created_at: now,
            requester: self.requester,
            kind: self.kind,
            content_hash: self.content_hash,
            outcome: self.outcome,
            approvers_required: self.approvers_required,
            delay_seconds: self.delay_seconds,
            expires_at: now + self.ttl_seconds,
            approved_at: None,
            rejected: false,
            executed_at: None,
            executed_by: None,
            votes: Vec::new(),
            report: self.report,
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // `Display` of a server error is only its severity; the detail names the cause.
        match e.as_db_error() {
            Some(db) => StoreError::Db(format!("{}: {}", db.code().code(), db.message())),
            // "error connecting to server" alone does not say why; the source does.
            None => match std::error::Error::source(&e) {
                Some(cause) => StoreError::Db(format!("{e}: {cause}")),
                None => StoreError::Db(e.to_string()),
            },
        }
    }
}

/// Every audit entry and the head record (last seq and hash), read together.
pub type AuditSnapshot = (Vec<AuditEntry>, Option<(i64, String)>);

/// The result of [`Store::verify`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    pub entries: usize,
    pub problem: Option<ChainProblem>,
}

/// Check a snapshot's chain and that it ends where its head record says. A head at
/// seq 0 (PostgreSQL's initial row) means an empty log.
pub fn verify_snapshot((entries, head): &AuditSnapshot) -> Verification {
    let head = head.clone().filter(|h| h.0 > 0);
    Verification {
        entries: entries.len(),
        problem: audit::verify_with_head(entries, head),
    }
}

/// What the decision service keeps. Every write is one transaction that also appends
/// its audit entry; implementations serialise appends so the chain has one order.
/// Called once with the outcome of a queued write.
pub type Done = Box<dyn FnOnce(Result<Request, StoreError>) + Send>;

pub trait Store: Send + Sync {
    /// Is the database reachable?
    fn ping(&self) -> Result<(), StoreError>;
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Create an API token; returns its info and the secret (shown once, stored hashed).
    /// The role bounds the actor ([`check_role_actor`]): a mismatch is `Invalid`.
    fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError>;
    /// The token a secret belongs to, if neither revoked nor expired.
    fn token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError>;
    /// Every token (revoked and expired ones too), oldest first; never a secret.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    /// Revoke a token and end its web UI sessions; `false` if there is no such live
    /// (unrevoked) token.
    fn revoke_token(&self, id: &str, by: &str) -> Result<bool, StoreError>;
    /// Record that a token was used at `at` (callers throttle this).
    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError>;
    /// Create a token for `parapet proxy aws` (role agent or admin, else `Invalid`):
    /// returns its info and its AWS access key id (`PKIA...`). It has no bearer secret
    /// anyone knows, so it is no API token; its secret access key is
    /// [`aws_secret`] of the id under the operator's credential key, never stored.
    fn create_aws_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError>;
    /// The token an AWS access key id belongs to, if neither revoked nor expired.
    fn aws_key(&self, access_key_id: &str) -> Result<Option<TokenInfo>, StoreError>;

    /// Start a web UI session for a live token: returns the session id (for the
    /// cookie; only its hash is stored). Audited as a login.
    fn create_session(&self, token: &TokenInfo, ttl_seconds: i64) -> Result<String, StoreError>;
    /// The token behind a session id, if the session has not expired or ended and its
    /// token is live; with the session's expiry.
    fn session(&self, session_id: &str) -> Result<Option<(TokenInfo, i64)>, StoreError>;
    /// End a session (logout); `false` if there was none.
    fn end_session(&self, session_id: &str) -> Result<bool, StoreError>;

    /// Hand a decision to the store's group-commit writer and return at once; `done`
    /// runs (on the writer's thread) once it is durable or has failed.
    fn queue_request(&self, n: NewRequest, done: Done);
    /// Queue a decision and wait for it (callers on their own thread).
    fn create_request(&self, n: NewRequest) -> Result<Request, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.queue_request(
            n,
            Box::new(move |r| {
                let _ = reply.send(r);
            }),
        );
        answer
            .recv()
            .map_err(|_| StoreError::Db("the decision writer stopped".into()))?
    }
    fn request(&self, id: &str) -> Result<Option<Request>, StoreError>;
    /// Approve or reject, bound to `content_hash`; see `shared::check` for the rules.
    fn vote(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        content_hash: &str,
        reason: Option<&str>,
    ) -> Result<Request, StoreError>;
    /// Reviews still waiting for approvals, oldest first: the approvers' queue.
    fn pending(&self) -> Result<Vec<Request>, StoreError>;
    /// The latest requests of any state, newest first (without votes).
    fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError>;
    /// The newest review of `requester` bound to `content_hash` that can still lead to
    /// an execution at `now`: pending, cooling off, or approved and not yet executed;
    /// never rejected, executed or past its expiry. With its votes.
    fn approved_for(
        &self,
        requester: &str,
        content_hash: &str,
        now: i64,
    ) -> Result<Option<Request>, StoreError>;
    /// Mark an approved (and cooled-off, unexpired) request executed, once: `true` for
    /// the one caller that did it (audited as `executed` by `by`), `false` when it was
    /// already executed or is not executable. Refused (`Conflict`) while its requester
    /// is frozen.
    fn consume(&self, id: &str, by: &str) -> Result<bool, StoreError>;

    /// Every audit entry in stored order.
    fn audit(&self) -> Result<Vec<AuditEntry>, StoreError>;
    /// Every entry and the head record (the last entry's seq and hash as written with
    /// it), read in one snapshot so appends in flight cannot look like tampering.
    fn audit_snapshot(&self) -> Result<AuditSnapshot, StoreError>;
    /// Check the whole chain and that it ends where the head record says.
    fn verify(&self) -> Result<Verification, StoreError> {
        Ok(verify_snapshot(&self.audit_snapshot()?))
    }
    /// Record a security-relevant event that changes no other state (a rejected
    /// webhook, a failed login).
    fn audit_event(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        payload: &str,
    ) -> Result<(), StoreError>;

    /// Open an incident; opening one already open changes nothing.
    fn open_incident(
        &self,
        id: &str,
        source: &str,
        title: &str,
        by: &str,
    ) -> Result<Incident, StoreError>;
    /// Resolve an open incident; `false` if it was not open.
    fn resolve_incident(&self, id: &str, by: &str) -> Result<bool, StoreError>;
    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError>;
    /// Record a webhook delivery; `false` if this (source, event id) was seen: a replay.
    fn first_delivery(&self, source: &str, event_id: &str) -> Result<bool, StoreError>;

    fn add_pin(&self, p: &StoredPin) -> Result<StoredPin, StoreError>;
    fn remove_pin(&self, id: &str, by: &str) -> Result<bool, StoreError>;
    /// Pins not removed (expiry is judged by the analysis, which names expired pins).
    fn pins(&self) -> Result<Vec<StoredPin>, StoreError>;

    /// Freeze an actor (`agent:kiro`) or a kind (`agent:*`): audited, and in the same
    /// transaction every pending or cooling-off request it covers is rejected. An
    /// actor already frozen is a `Conflict`; a bad target or expiry is `Invalid`.
    fn freeze(&self, n: &NewFreeze) -> Result<Frozen, StoreError>;
    /// Clear the freeze in force on exactly `actor` (as frozen, pattern included);
    /// `None` if there is none. Only a person the freeze does not cover may clear it
    /// (`Forbidden` otherwise). The freeze is kept, with who cleared it and when.
    fn clear_freeze(&self, actor: &str, by: &str) -> Result<Option<Freeze>, StoreError>;
    /// Freezes in force now, oldest first; with `history`, every freeze ever (cleared
    /// and expired too), newest first.
    fn freezes(&self, history: bool) -> Result<Vec<Freeze>, StoreError>;
    /// The freeze in force at `now` that covers `actor` (exactly or by its kind), read
    /// fresh: one indexed lookup, cheap enough for every request.
    fn freeze_covering(&self, actor: &str, now: i64) -> Result<Option<Freeze>, StoreError>;
    /// [`Store::freeze_covering`] when it can run at once without waiting (a local
    /// database whose reader is free); `None` when the caller must run it where
    /// blocking is allowed. Saves a thread hop on every proxied call.
    fn try_freeze_covering_now(
        &self,
        _actor: &str,
        _now: i64,
    ) -> Option<Result<Option<Freeze>, StoreError>> {
        None
    }
}

/// Open a store: a `postgres://` or `postgresql://` URL, else a SQLite file path
/// (optionally written `sqlite://PATH`). Migrations run here.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(Box::new(PgStore::connect(location)?))
    } else {
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?))
    }
}

pub use parapet_model::time::rfc3339;
