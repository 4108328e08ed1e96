//! Who is calling: the access key id of the request's signature, looked up in the
//! store (live tokens only), its secret derived with the operator's credential key
//! (never stored), the signature verified, replays refused, the actor's freeze checked
//! on every request.

use crate::handle::Shared;
use crate::judge::{blocking, store_refusal};
use crate::reply::Refusal;
use parapet_sigv4::{SigError, Signed, Verified};
use parapet_store::TokenInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How stale a revoke made through another replica may be here (as the decision
/// service's token cache).
pub const KEY_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; the cache is emptied when full (lookups are cheap).
const MAX_KEYS: usize = 10_000;

/// The caller a verified signature names.
#[derive(Clone)]
pub struct Caller {
    pub token: TokenInfo,
    /// Derived from the credential key: never logged, never stored.
    pub secret: Arc<str>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("actor", &self.token.actor)
            .finish_non_exhaustive()
    }
}

/// Access key lookups, kept for [`KEY_TTL`] (unknown keys too, so a flood of made-up
/// keys costs one query per key per second).
#[derive(Default)]
pub struct Keys(Mutex<HashMap<String, (Option<Caller>, Instant)>>);

impl Keys {
    pub async fn lookup(
        &self,
        s: &Arc<Shared>,
        access_key_id: &str,
    ) -> Result<Option<Caller>, Refusal> {
        let now = parapet_store::now();
        if let Some((c, at)) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
        {
            if at.elapsed() < KEY_TTL {
                return Ok(c.clone().filter(|c| c.token.live(now)));
            }
        }
        let (app, id) = (s.app.clone(), access_key_id.to_string());
        let token = blocking(move || app.store.aws_key(&id))
            .await
            .map_err(|e| store_refusal(&e))?;
        let caller = token.filter(|t| t.live(now)).map(|token| Caller {
            secret: parapet_store::aws_secret(&s.credential_key, access_key_id).into(),
            token,
        });
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.clear();
        }
        map.insert(access_key_id.to_string(), (caller.clone(), Instant::now()));
        Ok(caller)
    }
}

/// The caller of a parsed signature, or the refusal AWS would give an unknown key.
pub async fn caller(s: &Arc<Shared>, signed: &Signed) -> Result<Caller, Refusal> {
    let unknown = || {
        Refusal::sig(&SigError::UnknownAccessKey {
            access_key_id: signed.access_key_id.clone(),
        })
    };
    // Malformed ids are refused without touching the database.
    if !parapet_store::is_access_key_id(&signed.access_key_id) {
        return Err(unknown());
    }
    s.keys
        .lookup(s, &signed.access_key_id)
        .await?
        .ok_or_else(unknown)
}

/// Verify the signature (the body hash already set for services that do not declare
/// one) and refuse a signature seen before.
pub fn verify(
    s: &Shared,
    signed: &Signed,
    caller: &Caller,
    head: &parapet_wire::Head,
) -> Result<Verified, Refusal> {
    let now = parapet_store::now();
    let v = parapet_sigv4::verify(
        signed,
        &caller.secret,
        head.method,
        head.path,
        head.query,
        head.headers,
        now,
    )
    .map_err(|e| Refusal::sig(&e))?;
    s.replay
        .check(&v.seed_signature, v.valid_until, now)
        .map_err(|e| Refusal::sig(&e))?;
    Ok(v)
}

/// A frozen actor is refused at once, reads included, in every mode: the kill switch
/// is a person's decision about this agent, not a policy to roll out.
pub async fn check_freeze(s: &Arc<Shared>, actor: &str) -> Result<(), Refusal> {
    let frozen = s
        .app
        .frozen_now(actor)
        .await
        .map_err(|e| store_refusal(&e))?;
    match frozen {
        None => Ok(()),
        Some(f) => Err(Refusal::new(
            403,
            "AccessDenied",
            format!(
                "parapet: {actor} is frozen (kill switch): {}",
                f.reason_for(actor)
            ),
            "frozen",
        )),
    }
}
