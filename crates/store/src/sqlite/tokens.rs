//! SQLite: API tokens (stored as SHA-256 hashes) and web UI sessions (likewise).

use super::append;
use crate::hash::hex_sha256;
use crate::{Role, StoreError, TokenInfo};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const TOKEN_COLUMNS: &str = "t.id, t.name, t.role, t.actor, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.aws_access_key_id";

/// A token row's columns, in [`TOKEN_COLUMNS`] order.
type Row = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// Columns: [`TOKEN_COLUMNS`].
fn token_row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn info(
    (id, name, role, actor, created, expires, revoked, used, aws): Row,
) -> Result<TokenInfo, StoreError> {
    crate::shared::token_info(id, name, role, actor, created, expires, revoked, used, aws)
}

pub(super) fn create(
    c: &mut Connection,
    name: &str,
    role: Role,
    actor: &str,
    expires_at: Option<i64>,
    by: &str,
) -> Result<(TokenInfo, String), StoreError> {
    let t = crate::shared::new_token(name, role, actor, expires_at)?;
    let secret = t.secret.clone();
    Ok((insert(c, t, by)?, secret))
}

/// Store a new token (an API token, or one with an AWS access key id) and audit it.
pub(super) fn insert(
    c: &mut Connection,
    t: crate::shared::NewToken,
    by: &str,
) -> Result<TokenInfo, StoreError> {
    let i = &t.info;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO tokens (id, name, role, actor, secret_hash, created_at, expires_at, aws_access_key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![i.id, i.name, i.role.as_str(), i.actor, t.secret_hash, i.created_at, i.expires_at, i.aws_access_key_id],
    )?;
    append(&tx, "token", by, &i.id, &t.audit_payload)?;
    tx.commit()?;
    Ok(t.info)
}

/// The live token an AWS access key id belongs to.
pub(super) fn by_aws_key(c: &Connection, id: &str) -> Result<Option<TokenInfo>, StoreError> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.aws_access_key_id = ?1 AND t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        ))?
        .query_row(params![id, crate::now()], token_row)
        .optional()?;
    row.map(info).transpose()
}

/// The live token a secret belongs to; only its hash is stored.
pub(super) fn by_secret(c: &Connection, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.secret_hash = ?1 AND t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        ))?
        .query_row(params![hex_sha256(secret.as_bytes()), crate::now()], token_row)
        .optional()?;
    row.map(info).transpose()
}

pub(super) fn list(c: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t ORDER BY t.created_at, t.id"
    ))?;
    let rows = st.query_map([], token_row)?;
    rows.map(|r| info(r?)).collect()
}

pub(super) fn revoke(c: &mut Connection, id: &str, by: &str) -> Result<bool, StoreError> {
    let now = crate::now();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE tokens SET revoked = 1, revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked = 0",
        params![id, now, by],
    )?;
    if n > 0 {
        let ended = tx.execute("DELETE FROM sessions WHERE token_id = ?1", [id])?;
        let payload =
            serde_json::json!({"transition": "revoked", "sessions_ended": ended}).to_string();
        append(&tx, "token", by, id, &payload)?;
    }
    tx.commit()?;
    Ok(n > 0)
}

pub(super) fn touch(c: &Connection, id: &str, at: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
        params![id, at],
    )?;
    Ok(())
}

pub(super) fn create_session(
    c: &mut Connection,
    token: &TokenInfo,
    ttl_seconds: i64,
) -> Result<String, StoreError> {
    let now = crate::now();
    let expires = crate::shared::session_expiry(token, now, ttl_seconds);
    let (secret, hash) = crate::shared::new_session();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Only for a token that is live now: a revoke racing the login wins.
    let n = tx.execute(
        "INSERT INTO sessions (id_hash, token_id, created_at, expires_at)
         SELECT ?1, id, ?3, ?4 FROM tokens WHERE id = ?2 AND revoked = 0 AND (expires_at IS NULL OR expires_at > ?3)",
        params![hash, token.id, now, expires],
    )?;
    if n == 0 {
        return Err(StoreError::Forbidden(format!(
            "token {} is revoked or expired",
            token.id
        )));
    }
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    let payload = serde_json::json!({"token": token.id, "expires_at": expires}).to_string();
    append(&tx, "login", &token.actor, &token.id, &payload)?;
    tx.commit()?;
    Ok(secret)
}

pub(super) fn session(
    c: &Connection,
    session_id: &str,
) -> Result<Option<(TokenInfo, i64)>, StoreError> {
    let now = crate::now();
    let row = c
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS}, s.expires_at FROM sessions s JOIN tokens t ON t.id = s.token_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        ))?
        .query_row(params![hex_sha256(session_id.as_bytes()), now], |r| {
            Ok((token_row(r)?, r.get::<_, i64>(9)?))
        })
        .optional()?;
    row.map(|(t, exp)| Ok((info(t)?, exp))).transpose()
}

pub(super) fn end_session(c: &Connection, session_id: &str) -> Result<bool, StoreError> {
    let n = c.execute(
        "DELETE FROM sessions WHERE id_hash = ?1",
        [hex_sha256(session_id.as_bytes())],
    )?;
    Ok(n > 0)
}
