//! [`Store`] for [`SqliteStore`]: the inherent methods are the implementation.

use crate::{
    AuditEntry, AuditSnapshot, Incident, NewRequest, Request, Role, SqliteStore, Store, StoreError,
    StoredPin, TokenInfo,
};

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        SqliteStore::ping(self)
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        SqliteStore::create_token(self, name, role, actor, by)
    }
    fn token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        SqliteStore::token(self, secret)
    }
    fn create_request(&self, n: &NewRequest) -> Result<Request, StoreError> {
        SqliteStore::create_request(self, n)
    }
    fn request(&self, id: &str) -> Result<Option<Request>, StoreError> {
        SqliteStore::request(self, id)
    }
    fn vote(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        content_hash: &str,
        reason: Option<&str>,
    ) -> Result<Request, StoreError> {
        SqliteStore::vote(self, id, approver, approve, content_hash, reason)
    }
    fn pending(&self) -> Result<Vec<Request>, StoreError> {
        SqliteStore::pending(self)
    }
    fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        SqliteStore::recent(self, limit)
    }
    fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        SqliteStore::audit(self)
    }
    fn audit_snapshot(&self) -> Result<AuditSnapshot, StoreError> {
        SqliteStore::audit_snapshot(self)
    }
    fn audit_event(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        SqliteStore::audit_event(self, kind, actor, subject, payload)
    }
    fn open_incident(
        &self,
        id: &str,
        source: &str,
        title: &str,
        by: &str,
    ) -> Result<Incident, StoreError> {
        SqliteStore::open_incident(self, id, source, title, by)
    }
    fn resolve_incident(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        SqliteStore::resolve_incident(self, id, by)
    }
    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        SqliteStore::open_incidents(self)
    }
    fn first_delivery(&self, source: &str, event_id: &str) -> Result<bool, StoreError> {
        SqliteStore::first_delivery(self, source, event_id)
    }
    fn add_pin(&self, p: &StoredPin) -> Result<StoredPin, StoreError> {
        SqliteStore::add_pin(self, p)
    }
    fn remove_pin(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        SqliteStore::remove_pin(self, id, by)
    }
    fn pins(&self) -> Result<Vec<StoredPin>, StoreError> {
        SqliteStore::pins(self)
    }
}
