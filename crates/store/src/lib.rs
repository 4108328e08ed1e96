//! Durable state of the decision service: decision requests and their approvals, API
//! tokens, and a hash-chained audit log. SQLite today (one file, WAL); the `Store`
//! methods are what a PostgreSQL implementation must provide with the same guarantees.
//!
//! Every write is one transaction that also appends its audit entry, so an
//! acknowledged decision or approval is never without its record, and the record
//! never without the fact.

mod audit;
mod hash;
mod ops;
mod sqlite;

pub use audit::{verify_chain, AuditEntry, ChainProblem, GENESIS};
pub use hash::{hex_sha256, new_secret};
pub use ops::{Incident, StoredPin};
pub use sqlite::{SqliteStore, Verification};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("no decision request {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
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
}

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
    pub votes: Vec<Vote>,
    /// The gate's report (JSON).
    pub report: serde_json::Value,
}

impl Request {
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

/// What a new decision request carries into the store.
pub struct NewRequest {
    pub requester: String,
    pub kind: String,
    pub content_hash: String,
    pub outcome: String,
    pub approvers_required: u32,
    pub delay_seconds: u64,
    pub ttl_seconds: i64,
    pub report: serde_json::Value,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
