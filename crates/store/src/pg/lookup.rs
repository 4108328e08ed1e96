//! The lookups `parapet proxy aws` makes on every request (the caller's AWS key, a
//! freeze covering it), on connections of their own with their statements prepared
//! once: one round trip each, where a statement sent as text costs two (parse, then
//! execute).

use super::{freeze, tokens, PgStore};
use crate::{Freeze, StoreError, TokenInfo};
use postgres::{Client, NoTls, Statement};
use std::sync::Mutex;

/// Idle lookup connections kept.
const MAX_IDLE: usize = 16;

pub(super) struct Lookup {
    client: Client,
    freeze: Statement,
    aws_key: Statement,
}

#[derive(Default)]
pub(super) struct Lookups {
    idle: Mutex<Vec<Lookup>>,
}

impl Lookups {
    /// Every idle connection, leaving none.
    pub(super) fn take(&self) -> Vec<Lookup> {
        std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl PgStore {
    /// Run `f` on an idle lookup connection, or a new one. A pooled connection found
    /// dead by using it (the database restarted, a proxy dropped it) is replaced and
    /// `f` tried once more on a fresh one: lookups only read.
    fn lookup<T>(&self, f: impl Fn(&mut Lookup) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self
            .lookups
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .filter(|l| !l.client.is_closed());
        if let Some(mut l) = pooled {
            let out = f(&mut l);
            if !l.client.is_closed() {
                self.idle_lookup(l);
                return out;
            }
            // The others most likely died with it: connect afresh from now on.
            self.lookups
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        let mut client = self.config.connect(NoTls)?;
        let mut l = Lookup {
            freeze: client.prepare(freeze::COVERING_SQL)?,
            aws_key: client.prepare(tokens::AWS_KEY_SQL)?,
            client,
        };
        let out = f(&mut l);
        if !l.client.is_closed() {
            self.idle_lookup(l);
        }
        out
    }

    fn idle_lookup(&self, l: Lookup) {
        let mut idle = self.lookups.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(l);
        }
    }

    pub(super) fn freeze_covering_pg(
        &self,
        actor: &str,
        now: i64,
    ) -> Result<Option<Freeze>, StoreError> {
        let kind = crate::freeze::kind_pattern(actor);
        let rows = self.lookup(|l| Ok(l.client.query(&l.freeze, &[&actor, &kind, &now])?))?;
        Ok(rows
            .iter()
            .map(freeze::row)
            .find(|f| f.active(now) && f.covers(actor)))
    }

    pub(super) fn aws_key_pg(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row = self.lookup(|l| Ok(l.client.query_opt(&l.aws_key, &[&id, &crate::now()])?))?;
        row.as_ref().map(tokens::info).transpose()
    }
}
