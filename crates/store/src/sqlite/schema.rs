//! The SQLite schema and its migrations, applied in order at open.

pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  requester TEXT NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  outcome TEXT NOT NULL,
  approvers_required INTEGER NOT NULL,
  delay_seconds INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  approved_at INTEGER,
  rejected INTEGER NOT NULL DEFAULT 0,
  report TEXT NOT NULL
);
CREATE TABLE votes (
  request_id TEXT NOT NULL REFERENCES requests(id),
  approver TEXT NOT NULL,
  approve INTEGER NOT NULL,
  reason TEXT,
  at INTEGER NOT NULL,
  PRIMARY KEY (request_id, approver)
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  actor TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  subject TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
-- The last entry's seq and hash, updated with every append: removing entries from the
-- end of the log shows as a mismatch here.
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  title TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  opened_by TEXT NOT NULL,
  resolved_at INTEGER,
  resolved_by TEXT
);
CREATE TABLE webhook_events (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
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
  expires INTEGER,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  removed_at INTEGER
);
"#,
    // Tokens expire and are revoked with a time; web UI sessions are their own
    // random ids, stored hashed, bound to a token.
    r#"
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_by TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  token_id TEXT NOT NULL REFERENCES tokens(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
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
  frozen_at INTEGER NOT NULL,
  expires_at INTEGER,
  cleared_by TEXT,
  cleared_at INTEGER
);
CREATE INDEX freezes_active ON freezes (actor) WHERE cleared_at IS NULL;
"#,
    // Agent AWS keys for `parapet proxy aws` (the id only: the secret is derived, never
    // stored); approvals used once (executed), found by the content they are bound to.
    r#"
ALTER TABLE tokens ADD COLUMN aws_access_key_id TEXT;
CREATE UNIQUE INDEX tokens_aws_key ON tokens (aws_access_key_id) WHERE aws_access_key_id IS NOT NULL;
ALTER TABLE requests ADD COLUMN executed_at INTEGER;
ALTER TABLE requests ADD COLUMN executed_by TEXT;
CREATE INDEX requests_binding ON requests (content_hash) WHERE outcome = 'review';
"#,
];

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::{Role, State, Store};

    /// A database written before AWS keys and executions (schema version 4), with a
    /// token and a pending review in it, opens migrated and keeps working.
    #[test]
    fn a_database_from_before_aws_keys_upgrades_with_its_rows() {
        let dir = std::env::temp_dir().join(format!("parapet-mig-{}", crate::new_secret()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.db");
        let secret = "ppt_from-schema-4";
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
                .unwrap();
            for (i, m) in MIGRATIONS[..4].iter().enumerate() {
                c.execute_batch(m).unwrap();
                c.execute("INSERT INTO schema_version VALUES (?1)", [i as i64 + 1])
                    .unwrap();
            }
            c.execute(
                "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at) VALUES ('tok_old', 'old', 'agent', 'agent:kiro', ?1, 5)",
                [crate::hex_sha256(secret.as_bytes())],
            )
            .unwrap();
            c.execute(
                "INSERT INTO requests (id, created_at, requester, kind, content_hash, outcome, approvers_required, delay_seconds, expires_at, report)
                 VALUES ('dec_old', ?1, 'agent:kiro', 'call', 'h-old', 'review', 1, 0, ?2, '{}')",
                [crate::now(), crate::now() + 3600],
            )
            .unwrap();
        }
        let s = super::super::SqliteStore::open(&path).unwrap();
        let t = s.token(secret).unwrap().expect("the old token resolves");
        assert_eq!(t.aws_access_key_id, None);
        let r = s.request("dec_old").unwrap().unwrap();
        assert_eq!(
            (r.executed_at, r.state(crate::now())),
            (None, State::Pending)
        );
        let found = s.approved_for("agent:kiro", "h-old", crate::now()).unwrap();
        assert_eq!(found.map(|r| r.id).as_deref(), Some("dec_old"));
        let (info, id) = s
            .create_aws_token("kiro", Role::Agent, "agent:kiro", None, "human:root")
            .unwrap();
        assert_eq!(s.aws_key(&id).unwrap().unwrap().id, info.id);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
