//! PostgreSQL: API tokens (stored as SHA-256 hashes) and web UI sessions (likewise).
//! Every replica reads them from the database, so a revoke is seen by all of them.

use super::{append, PgStore};
use crate::hash::hex_sha256;
use crate::{Role, StoreError, TokenInfo};
use postgres::Row;

const TOKEN_COLUMNS: &str = "t.id, t.name, t.role, t.actor, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.aws_access_key_id";

/// The live token of an AWS access key id (`$1`) at `$2`; prepared once per lookup
/// connection (`lookup.rs`).
pub(super) const AWS_KEY_SQL: &str = "SELECT t.id, t.name, t.role, t.actor, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.aws_access_key_id FROM tokens t WHERE t.aws_access_key_id = $1 AND NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at > $2)";

/// Columns: [`TOKEN_COLUMNS`].
pub(super) fn info(r: &Row) -> Result<TokenInfo, StoreError> {
    crate::shared::token_info(
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
    )
}

impl PgStore {
    pub(super) fn create_token_pg(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        expires_at: Option<i64>,
        by: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        let t = crate::shared::new_token(name, role, actor, expires_at)?;
        let secret = t.secret.clone();
        Ok((self.insert_token_pg(t, by)?, secret))
    }

    /// Store a new token (an API token, or one with an AWS access key id) and audit it.
    pub(super) fn insert_token_pg(
        &self,
        t: crate::shared::NewToken,
        by: &str,
    ) -> Result<TokenInfo, StoreError> {
        let i = &t.info;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at, expires_at, aws_access_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&i.id, &i.name, &i.role.as_str(), &i.actor, &t.secret_hash, &i.created_at, &i.expires_at, &i.aws_access_key_id],
            )?;
            append(tx, "token", by, &i.id, &t.audit_payload)
        })?;
        Ok(t.info)
    }

    pub(super) fn token_pg(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        let hash = hex_sha256(secret.as_bytes());
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.secret_hash = $1 AND NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at > $2)"),
                &[&hash, &crate::now()],
            )?)
        })?;
        row.as_ref().map(info).transpose()
    }

    pub(super) fn tokens_pg(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens t ORDER BY t.created_at, t.id"),
                &[],
            )?)
        })?;
        rows.iter().map(info).collect()
    }

    pub(super) fn revoke_token_pg(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        let now = crate::now();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE tokens SET revoked = TRUE, revoked_at = $2, revoked_by = $3 WHERE id = $1 AND NOT revoked",
                &[&id, &now, &by],
            )?;
            if n > 0 {
                let ended = tx.execute("DELETE FROM sessions WHERE token_id = $1", &[&id])?;
                let payload =
                    serde_json::json!({"transition": "revoked", "sessions_ended": ended})
                        .to_string();
                append(tx, "token", by, id, &payload)?;
            }
            Ok(n > 0)
        })
    }

    pub(super) fn touch_token_pg(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                &[&id, &at],
            )?;
            Ok(())
        })
    }

    pub(super) fn create_session_pg(
        &self,
        token: &TokenInfo,
        ttl_seconds: i64,
    ) -> Result<String, StoreError> {
        let now = crate::now();
        let expires = crate::shared::session_expiry(token, now, ttl_seconds);
        let (secret, hash) = crate::shared::new_session();
        self.write(|tx| {
            // Only for a token live now; the row lock orders this against a revoke.
            let live = tx.query_opt(
                "SELECT 1 FROM tokens WHERE id = $1 AND NOT revoked AND (expires_at IS NULL OR expires_at > $2) FOR UPDATE",
                &[&token.id, &now],
            )?;
            if live.is_none() {
                return Err(StoreError::Forbidden(format!(
                    "token {} is revoked or expired",
                    token.id
                )));
            }
            tx.execute(
                "INSERT INTO sessions (id_hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&hash, &token.id, &now, &expires],
            )?;
            tx.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])?;
            let payload =
                serde_json::json!({"token": token.id, "expires_at": expires}).to_string();
            append(tx, "login", &token.actor, &token.id, &payload)
        })?;
        Ok(secret)
    }

    pub(super) fn session_pg(
        &self,
        session_id: &str,
    ) -> Result<Option<(TokenInfo, i64)>, StoreError> {
        let hash = hex_sha256(session_id.as_bytes());
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {TOKEN_COLUMNS}, s.expires_at FROM sessions s JOIN tokens t ON t.id = s.token_id
                     WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at > $2)"
                ),
                &[&hash, &crate::now()],
            )?)
        })?;
        row.map(|r| Ok((info(&r)?, r.get(9)))).transpose()
    }

    pub(super) fn end_session_pg(&self, session_id: &str) -> Result<bool, StoreError> {
        let hash = hex_sha256(session_id.as_bytes());
        self.with(|c| Ok(c.execute("DELETE FROM sessions WHERE id_hash = $1", &[&hash])? > 0))
    }
}
