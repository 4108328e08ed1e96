//! PostgreSQL: several `parapet serve` replicas behind a load balancer share one
//! database with the same guarantees as SQLite. Row locks order the writes that must
//! not interleave (votes on one request take its row; every audit append takes the
//! head row), so the chain has one order and a vote race counts each approver once.

mod calls;
mod freeze;
mod lookup;
mod pool;
mod schema;
mod tokens;
mod writer;

use crate::audit::{entry_hash, AuditEntry};
use crate::group::Writer;
use crate::{
    AuditSnapshot, Freeze, Frozen, Incident, NewFreeze, NewRequest, Request, Role, Store,
    StoreError, StoredPin, TokenInfo, Vote,
};
use postgres::{Client, GenericClient, Row, Transaction};
use schema::migrate;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const REQUEST_COLUMNS: &str = "id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, approved_at, rejected, report, executed_at, executed_by";

pub struct PgStore {
    config: postgres::Config,
    /// Idle connections and when each was last used; a broken one is dropped, not
    /// returned.
    idle: Mutex<Vec<(Client, Instant)>>,
    max_idle: usize,
    /// Decisions go through the group-commit writer (its own connection).
    writer: Writer,
    /// Per-request lookups on connections with prepared statements.
    lookups: lookup::Lookups,
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db?options=...`) and migrate.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Db(format!("database URL {}: {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            // Fail closed quickly rather than hang a decision on a dead database.
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("parapet");
        let store = PgStore {
            writer: writer::writer(config.clone()),
            config,
            idle: Mutex::new(Vec::new()),
            max_idle: 64,
            lookups: Default::default(),
        };
        store.with(migrate)?;
        Ok(store)
    }

    /// A write transaction: `f` runs inside it and it commits only if `f` succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

/// The URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Append an audit entry inside the caller's transaction, locking the head.
fn append(
    tx: &mut Transaction,
    kind: &str,
    actor: &str,
    subject: &str,
    payload: &str,
) -> Result<(), StoreError> {
    let head = tx.query_one(
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let (prev_seq, prev_hash): (i64, String) = (head.get(0), head.get(1));
    let seq = prev_seq + 1;
    let at = crate::now();
    let hash = entry_hash(seq, at, kind, actor, subject, payload, &prev_hash);
    tx.execute(
        "INSERT INTO audit (seq, at, kind, actor, subject, payload, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&seq, &at, &kind, &actor, &subject, &payload, &prev_hash, &hash],
    )?;
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&seq, &hash],
    )?;
    Ok(())
}

/// Take the audit head lock first: for writes that read-then-write state other than
/// one request row, so two replicas cannot interleave them.
fn serialize(tx: &mut Transaction) -> Result<(), StoreError> {
    tx.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE", &[])?;
    Ok(())
}

fn request_row(r: &Row) -> Request {
    Request {
        id: r.get(0),
        created_at: r.get(1),
        requester: r.get(2),
        kind: r.get(3),
        content_hash: r.get(4),
        outcome: r.get(5),
        approvers_required: r.get::<_, i32>(6).max(0) as u32,
        delay_seconds: r.get::<_, i64>(7).max(0) as u64,
        expires_at: r.get(8),
        approved_at: r.get(9),
        rejected: r.get(10),
        executed_at: r.get(12),
        executed_by: r.get(13),
        votes: Vec::new(),
        report: crate::shared::report_json(r.get(11)),
    }
}

fn load(
    c: &mut impl GenericClient,
    id: &str,
    for_update: bool,
) -> Result<Option<Request>, StoreError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let Some(row) = c.query_opt(
        &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1{lock}"),
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let mut req = request_row(&row);
    req.votes = c
        .query(
            "SELECT approver, approve, at, reason FROM votes WHERE request_id = $1 ORDER BY at, approver",
            &[&id],
        )?
        .iter()
        .map(|r| Vote {
            approver: r.get(0),
            approve: r.get(1),
            at: r.get(2),
            reason: r.get(3),
        })
        .collect();
    Ok(Some(req))
}

fn audit_entries(c: &mut impl GenericClient) -> Result<Vec<AuditEntry>, StoreError> {
    Ok(c.query(
        "SELECT seq, at, kind, actor, subject, payload, prev_hash, hash FROM audit ORDER BY seq",
        &[],
    )?
    .iter()
    .map(|r| AuditEntry {
        seq: r.get(0),
        at: r.get(1),
        kind: r.get(2),
        actor: r.get(3),
        subject: r.get(4),
        payload: r.get(5),
        prev_hash: r.get(6),
        hash: r.get(7),
    })
    .collect())
}

fn incident_row(r: &Row) -> Incident {
    Incident {
        id: r.get(0),
        source: r.get(1),
        title: r.get(2),
        opened_at: r.get(3),
        opened_by: r.get(4),
    }
}

fn pin_row(r: &Row) -> StoredPin {
    StoredPin {
        id: r.get(0),
        resource: r.get(1),
        attribute: r.get(2),
        value: r.get(3),
        mode: r.get(4),
        reason: r.get(5),
        incident: r.get(6),
        expires: r.get(7),
        created_by: r.get(8),
        created_at: r.get(9),
    }
}

impl Store for PgStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.query_one("SELECT 1", &[])?;
            Ok(())
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        self.create_token_pg(name, role, actor, expires_at, by)
    }

    fn token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.token_pg(secret)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.tokens_pg()
    }

    fn revoke_token(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        self.revoke_token_pg(id, by)
    }

    fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.touch_token_pg(id, at)
    }

    fn create_aws_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        let t = crate::shared::new_aws_token(name, role, actor, expires_at)?;
        let info = self.insert_token_pg(t, by)?;
        let id = info.aws_access_key_id.clone().unwrap_or_default();
        Ok((info, id))
    }

    fn aws_key(&self, access_key_id: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.aws_key_pg(access_key_id)
    }

    fn create_session(&self, token: &TokenInfo, ttl_seconds: i64) -> Result<String, StoreError> {
        self.create_session_pg(token, ttl_seconds)
    }

    fn session(&self, session_id: &str) -> Result<Option<(TokenInfo, i64)>, StoreError> {
        self.session_pg(session_id)
    }

    fn end_session(&self, session_id: &str) -> Result<bool, StoreError> {
        self.end_session_pg(session_id)
    }

    fn queue_request(&self, n: NewRequest, done: crate::Done) {
        self.writer.queue(n, done);
    }

    fn request(&self, id: &str) -> Result<Option<Request>, StoreError> {
        self.with(|c| load(c, id, false))
    }

    fn vote(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        content_hash: &str,
        reason: Option<&str>,
    ) -> Result<Request, StoreError> {
        let now = crate::now();
        self.write(|tx| {
            // The row lock makes concurrent votes on one request take turns.
            let r = load(tx, id, true)?.ok_or_else(|| StoreError::NotFound(id.into()))?;
            if approve {
                if let Some(f) = freeze::covering(tx, &r.requester)? {
                    return Err(crate::shared::frozen_requester(&r, &f));
                }
            }
            if !crate::shared::check(&r, approver, approve, content_hash, now)? {
                return Ok(r);
            }
            tx.execute(
                "INSERT INTO votes (request_id, approver, approve, reason, at) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &approver, &approve, &reason, &now],
            )?;
            if approve {
                let approvals: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM votes WHERE request_id = $1 AND approve",
                        &[&id],
                    )?
                    .get(0);
                if approvals >= i64::from(r.approvers_required) {
                    tx.execute(
                        "UPDATE requests SET approved_at = $2 WHERE id = $1 AND approved_at IS NULL",
                        &[&id, &now],
                    )?;
                }
            } else {
                tx.execute("UPDATE requests SET rejected = TRUE WHERE id = $1", &[&id])?;
            }
            let payload =
                serde_json::json!({"content_hash": content_hash, "reason": reason}).to_string();
            let kind = if approve { "approval" } else { "rejection" };
            append(tx, kind, approver, id, &payload)?;
            load(tx, id, false)?.ok_or_else(|| StoreError::NotFound(id.into()))
        })
    }

    fn pending(&self) -> Result<Vec<Request>, StoreError> {
        self.with(|c| {
            let ids: Vec<String> = c
                .query(
                    "SELECT id FROM requests WHERE outcome = 'review' AND NOT rejected AND approved_at IS NULL AND expires_at > $1 ORDER BY created_at, id LIMIT 500",
                    &[&crate::now()],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            ids.iter()
                .filter_map(|id| load(c, id, false).transpose())
                .collect()
        })
    }

    fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        self.with(|c| {
            Ok(c.query(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests ORDER BY n DESC LIMIT $1"),
                &[&(limit as i64)],
            )?
            .iter()
            .map(request_row)
            .collect())
        })
    }

    fn approved_for(
        &self,
        requester: &str,
        content_hash: &str,
        now: i64,
    ) -> Result<Option<Request>, StoreError> {
        self.with(|c| calls::approved_for(c, requester, content_hash, now))
    }

    fn consume(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        self.write(|tx| calls::consume(tx, id, by))
    }

    fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(audit_entries)
    }

    fn audit_snapshot(&self) -> Result<AuditSnapshot, StoreError> {
        self.with(|c| {
            // One snapshot for both reads: appends committing meanwhile are invisible.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let entries = audit_entries(&mut tx)?;
            let head = tx
                .query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?
                .map(|r| (r.get(0), r.get(1)));
            tx.commit()?;
            Ok((entries, head))
        })
    }

    fn audit_event(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| append(tx, kind, actor, subject, payload))
    }

    fn open_incident(
        &self,
        id: &str,
        source: &str,
        title: &str,
        by: &str,
    ) -> Result<Incident, StoreError> {
        let now = crate::now();
        self.write(|tx| {
            serialize(tx)?;
            let open = tx.query_opt(
                "SELECT 1 FROM incidents WHERE id = $1 AND resolved_at IS NULL",
                &[&id],
            )?;
            if open.is_none() {
                tx.execute(
                    "INSERT INTO incidents (id, source, title, opened_at, opened_by) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, opened_at = excluded.opened_at, opened_by = excluded.opened_by, resolved_at = NULL, resolved_by = NULL",
                    &[&id, &source, &title, &now, &by],
                )?;
                let payload =
                    serde_json::json!({"transition": "opened", "source": source, "title": title})
                        .to_string();
                append(tx, "incident", by, id, &payload)?;
            }
            let row = tx.query_one(
                "SELECT id, source, title, opened_at, opened_by FROM incidents WHERE id = $1",
                &[&id],
            )?;
            Ok(incident_row(&row))
        })
    }

    fn resolve_incident(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            serialize(tx)?;
            let n = tx.execute(
                "UPDATE incidents SET resolved_at = $2, resolved_by = $3 WHERE id = $1 AND resolved_at IS NULL",
                &[&id, &crate::now(), &by],
            )?;
            if n > 0 {
                let payload = serde_json::json!({"transition": "resolved"}).to_string();
                append(tx, "incident", by, id, &payload)?;
            }
            Ok(n > 0)
        })
    }

    fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT id, source, title, opened_at, opened_by FROM incidents WHERE resolved_at IS NULL ORDER BY opened_at, id",
                &[],
            )?
            .iter()
            .map(incident_row)
            .collect())
        })
    }

    fn first_delivery(&self, source: &str, event_id: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO webhook_events (source, event_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&source, &event_id, &crate::now()],
            )?;
            Ok(n == 1)
        })
    }

    fn add_pin(&self, p: &StoredPin) -> Result<StoredPin, StoreError> {
        self.write(|tx| {
            serialize(tx)?;
            if tx
                .query_opt(
                    "SELECT 1 FROM pins WHERE id = $1 AND removed_at IS NULL",
                    &[&p.id],
                )?
                .is_some()
            {
                return Err(StoreError::Conflict(format!(
                    "pin {} already exists; remove it first",
                    p.id
                )));
            }
            tx.execute(
                "INSERT INTO pins (id, resource, attribute, value, mode, reason, incident, expires, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (id) DO UPDATE SET resource = excluded.resource, attribute = excluded.attribute, value = excluded.value,
                   mode = excluded.mode, reason = excluded.reason, incident = excluded.incident, expires = excluded.expires,
                   created_by = excluded.created_by, created_at = excluded.created_at, removed_at = NULL",
                &[&p.id, &p.resource, &p.attribute, &p.value, &p.mode, &p.reason, &p.incident, &p.expires, &p.created_by, &p.created_at],
            )?;
            let payload = serde_json::to_string(p).expect("pin serialises");
            append(tx, "pin", &p.created_by, &p.id, &payload)?;
            Ok(p.clone())
        })
    }

    fn remove_pin(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            serialize(tx)?;
            let n = tx.execute(
                "UPDATE pins SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL",
                &[&id, &crate::now()],
            )?;
            if n > 0 {
                let payload = serde_json::json!({"transition": "removed"}).to_string();
                append(tx, "pin", by, id, &payload)?;
            }
            Ok(n > 0)
        })
    }

    fn pins(&self) -> Result<Vec<StoredPin>, StoreError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT id, resource, attribute, value, mode, reason, incident, expires, created_by, created_at FROM pins WHERE removed_at IS NULL ORDER BY created_at, id",
                &[],
            )?
            .iter()
            .map(pin_row)
            .collect())
        })
    }

    fn freeze(&self, n: &NewFreeze) -> Result<Frozen, StoreError> {
        self.write(|tx| freeze::freeze(tx, n))
    }

    fn clear_freeze(&self, actor: &str, by: &str) -> Result<Option<Freeze>, StoreError> {
        self.write(|tx| freeze::clear(tx, actor, by))
    }

    fn freezes(&self, history: bool) -> Result<Vec<Freeze>, StoreError> {
        self.with(|c| freeze::list(c, history))
    }

    fn freeze_covering(&self, actor: &str, now: i64) -> Result<Option<Freeze>, StoreError> {
        self.freeze_covering_pg(actor, now)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/parapet"),
            "postgres://app:***@db:5432/parapet"
        );
        assert_eq!(
            redact("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
    }
}
