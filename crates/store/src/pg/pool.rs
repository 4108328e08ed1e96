//! The general connection pool: idle connections kept for reuse, checked after a pause
//! and dropped together when one is found dead.

use super::PgStore;
use crate::StoreError;
use postgres::{Client, NoTls};
use std::time::{Duration, Instant};

/// A pooled connection idle longer than this is checked with a round trip before
/// use: a database that restarted, or a proxy that dropped idle sockets, leaves
/// connections that look open until they are used.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

impl PgStore {
    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut client = match pooled.and_then(|(mut c, at)| alive(&mut c, at).then_some(c)) {
            Some(c) => c,
            None => self.config.connect(NoTls)?,
        };
        let result = f(&mut client);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if client.is_closed() {
            // The connections beside it most likely died with it (the database went
            // away): the next request connects afresh instead of finding each one dead.
            idle.clear();
        } else if idle.len() < self.max_idle {
            idle.push((client, Instant::now()));
        }
        result
    }
}

/// Whether a pooled connection can be used: not known closed and, after a pause, still
/// answering.
fn alive(client: &mut Client, idle_since: Instant) -> bool {
    !client.is_closed()
        && (idle_since.elapsed() < CHECK_AFTER_IDLE
            || client.is_valid(Duration::from_secs(2)).is_ok())
}

impl Drop for PgStore {
    /// The synchronous client closes its connection by blocking on a runtime of its
    /// own, which panics on a thread that drives an async runtime (the server's, when
    /// it shuts down): idle connections are closed on a plain thread instead.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        let lookups = self.lookups.take();
        if idle.is_empty() && lookups.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || drop((idle, lookups))).join();
    }
}
