//! PostgreSQL schema and its migrations, run at start under an advisory lock.

use crate::StoreError;
use postgres::Client;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  requester TEXT NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  outcome TEXT NOT NULL,
  approvers_required INTEGER NOT NULL,
  delay_seconds BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  approved_at BIGINT,
  rejected BOOLEAN NOT NULL DEFAULT FALSE,
  report TEXT NOT NULL,
  n BIGSERIAL
);
CREATE INDEX requests_queue ON requests (created_at) WHERE outcome = 'review' AND NOT rejected AND approved_at IS NULL;
CREATE INDEX requests_recent ON requests (n);
CREATE TABLE votes (
  request_id TEXT NOT NULL REFERENCES requests(id),
  approver TEXT NOT NULL,
  approve BOOLEAN NOT NULL,
  reason TEXT,
  at BIGINT NOT NULL,
  PRIMARY KEY (request_id, approver)
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  actor TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
-- Always one row: appends lock it, so the chain has a single order across replicas.
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  title TEXT NOT NULL,
  opened_at BIGINT NOT NULL,
  opened_by TEXT NOT NULL,
  resolved_at BIGINT,
  resolved_by TEXT
);
CREATE TABLE webhook_events (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (source, event_id)
);
CREATE TABLE pins (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL,
  attribute TEXT NOT NULL,
  value TEXT,
  mode TEXT,
  reason TEXT NOT NULL,
  incident TEXT,
  expires BIGINT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  removed_at BIGINT
);
"#,
    // Tokens expire and are revoked with a time; web UI sessions are their own
    // random ids, stored hashed, bound to a token.
    r#"
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
ALTER TABLE tokens ADD COLUMN revoked_by TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens(id),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
"#,
    // The per-actor kill switch; cleared freezes are kept (who and when).
    r#"
CREATE TABLE freezes (
  id TEXT PRIMARY KEY,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  incident TEXT,
  frozen_by TEXT NOT NULL,
  frozen_at BIGINT NOT NULL,
  expires_at BIGINT,
  cleared_by TEXT,
  cleared_at BIGINT
);
CREATE INDEX freezes_active ON freezes (actor) WHERE cleared_at IS NULL;
"#,
    // Agent AWS keys for `parapet proxy aws` (the id only: the secret is derived, never
    // stored); approvals used once (executed), found by the content they are bound to.
    r#"
ALTER TABLE tokens ADD COLUMN aws_access_key_id TEXT;
CREATE UNIQUE INDEX tokens_aws_key ON tokens (aws_access_key_id) WHERE aws_access_key_id IS NOT NULL;
ALTER TABLE requests ADD COLUMN executed_at BIGINT;
ALTER TABLE requests ADD COLUMN executed_by TEXT;
CREATE INDEX requests_binding ON requests (content_hash) WHERE outcome = 'review';
"#,
];

/// Taken by `migrate` so replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x0070_6172_6170_6574;

pub(super) fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let v: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .get(0);
    for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
        tx.batch_execute(m)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::{Role, State, Store};

    /// A database written before AWS keys and executions (schema version 3), with a
    /// token and a pending review in it, opens migrated and keeps working.
    #[test]
    fn a_database_from_before_aws_keys_upgrades_with_its_rows() {
        let base = std::env::var("PARAPET_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
        let schema = format!("parapet_mig_{}", &crate::new_secret()[..12]);
        let mut c = postgres::Client::connect(&base, postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
        c.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path = {schema};
             CREATE TABLE schema_version (version INTEGER NOT NULL);"
        ))
        .unwrap();
        for (i, m) in MIGRATIONS[..3].iter().enumerate() {
            c.batch_execute(m).unwrap();
            c.execute("INSERT INTO schema_version VALUES ($1)", &[&(i as i32 + 1)])
                .unwrap();
        }
        let secret = "ppt_from-schema-3";
        let now = crate::now();
        c.execute(
            "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at) VALUES ('tok_old', 'old', 'agent', 'agent:kiro', $1, 5)",
            &[&crate::hex_sha256(secret.as_bytes())],
        )
        .unwrap();
        c.execute(
            "INSERT INTO requests (id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, report)
             VALUES ('dec_old', $1, 'agent:kiro', 'call', 'h-old', 'review', 1, 0, $2, '{}')",
            &[&now, &(now + 3600)],
        )
        .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let s = crate::PgStore::connect(&url).unwrap();
        let t = s.token(secret).unwrap().expect("the old token resolves");
        assert_eq!(t.aws_access_key_id, None);
        let r = s.request("dec_old").unwrap().unwrap();
        assert_eq!((r.executed_at, r.state(now)), (None, State::Pending));
        let found = s.approved_for("agent:kiro", "h-old", now).unwrap();
        assert_eq!(found.map(|r| r.id).as_deref(), Some("dec_old"));
        let (info, id) = s
            .create_aws_token("kiro", Role::Agent, "agent:kiro", None, "human:root")
            .unwrap();
        assert_eq!(s.aws_key(&id).unwrap().unwrap().id, info.id);
        drop(s);
        let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
