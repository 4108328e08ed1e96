//! The names of the tools the upstream offers. A call to a tool the server does not have
//! is an unknown tool (JSON-RPC Invalid params, as MCP specifies), not a call to judge:
//! judging it would open an approval request for something that cannot run.

use super::upstream::forward;
use rmcp::model::{ClientRequest, PaginatedRequestParams, RequestOptionalParam, ServerResult};
use rmcp::service::{Peer, RoleClient};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most pages of tools/list read in one refresh (a server that pages forever stops here).
const MAX_PAGES: usize = 100;
/// At most one refresh per this interval, however many unknown names are called.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Catalog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    names: HashSet<String>,
    refreshed: Option<Instant>,
}

/// Whether the upstream offers a tool.
pub enum Known {
    Yes,
    No,
    /// The list could not be read: the caller judges the call as it would any other.
    Unsure(String),
}

impl Catalog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note names seen in a tools/list answer relayed to a client.
    pub fn saw<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        self.lock()
            .names
            .extend(names.into_iter().map(str::to_string));
    }

    /// Whether `name` is a tool of the upstream's, reading its list again when the name
    /// is new (a server may add tools at any time).
    pub async fn knows(&self, name: &str, upstream: &Peer<RoleClient>, timeout: Duration) -> Known {
        {
            let inner = self.lock();
            if inner.names.contains(name) {
                return Known::Yes;
            }
            if inner.refreshed.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
                return Known::No;
            }
        }
        match list_all(upstream, timeout).await {
            Ok(names) => {
                let mut inner = self.lock();
                let known = names.contains(name);
                inner.names = names;
                inner.refreshed = Some(Instant::now());
                if known {
                    Known::Yes
                } else {
                    Known::No
                }
            }
            Err(e) => Known::Unsure(e),
        }
    }
}

async fn list_all(
    upstream: &Peer<RoleClient>,
    timeout: Duration,
) -> Result<HashSet<String>, String> {
    let mut names = HashSet::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let request = ClientRequest::ListToolsRequest(RequestOptionalParam {
            method: Default::default(),
            params: cursor
                .take()
                .map(|c| PaginatedRequestParams::default().with_cursor(Some(c))),
            extensions: Default::default(),
        });
        let ServerResult::ListToolsResult(page) = forward(upstream, request, timeout)
            .await
            .map_err(|e| e.message.into_owned())?
        else {
            return Err("tools/list was answered with a result of another kind".into());
        };
        names.extend(page.tools.into_iter().map(|t| t.name.into_owned()));
        match page.next_cursor {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => return Ok(names),
        }
    }
    Ok(names)
}
