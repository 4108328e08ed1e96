//! The protocol plumbing of `parapet proxy mcp`, built on the official Rust SDK (rmcp):
//! the agent's client talks MCP to the gateway over stdio ([`Gateway::serve_stdio`]) or
//! streamable HTTP with parapet bearer tokens ([`Gateway::serve_http`]); the gateway
//! talks MCP to the real server, a child process or an HTTP endpoint ([`UpstreamSpec`]).
//! Both the 2025-11-25 (`initialize`) and 2026-07-28 (per-request metadata) revisions
//! are spoken on both sides, as far as rmcp speaks them.
//!
//! Files: `lines` (bounded line splitting), `frame` (the client's stdio framing),
//! `upstream` (client side and relay), `upstream_io` (the child server's stdio framing),
//! `handler` (the judged MCP server), `review` (elicitation, progress, pending),
//! `http` (bearer-authenticated streamable HTTP), `gate` (the seam to map and judge).

mod catalog;
pub mod frame;
pub mod gate;
mod handler;
mod http;
pub mod lines;
mod review;
pub mod upstream;
mod upstream_io;

pub use frame::DEFAULT_MAX_MESSAGE;
pub use gate::{GateError, Gatekeeper, Parapet};
pub use upstream::UpstreamSpec;

use crate::Caller;
use handler::GatewayHandler;
use rmcp::model::ServerPeerInfo;
use rmcp::service::{Peer, RoleClient, ServiceExt};
use std::sync::Arc;
use std::time::Duration;
use upstream::{Relay, Upstream};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("starting the MCP server {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("upstream MCP server: {0}")]
    Upstream(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serving the MCP client: {0}")]
    Serve(String),
    #[error("parapet token: {0}")]
    Token(#[source] GateError),
}

/// How the gateway behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a call under review waits before answering pending.
    pub hold: Duration,
    /// How long the upstream has to answer one request.
    pub call_timeout: Duration,
    /// Largest message accepted from the client (and from the upstream).
    pub max_message: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hold: Duration::from_secs(20),
            call_timeout: Duration::from_secs(60),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// What every downstream session shares.
pub(crate) struct Shared {
    pub(crate) gate: Arc<dyn Gatekeeper>,
    pub(crate) upstream: Peer<RoleClient>,
    pub(crate) upstream_info: ServerPeerInfo,
    pub(crate) relay: Arc<Relay>,
    /// The server's name for mappings and policies.
    pub(crate) server: String,
    pub(crate) settings: Settings,
    /// The names of the upstream's tools.
    pub(crate) tools: catalog::Catalog,
}

/// A gateway connected to its upstream, ready to serve clients.
pub struct Gateway {
    shared: Arc<Shared>,
    upstream: Upstream,
}

impl Gateway {
    /// Start (or reach) the upstream and complete the handshake with it. `name`: the
    /// server's name for mappings and policies; default its own `serverInfo.name`,
    /// else the command's file name or the URL.
    pub async fn start(
        gate: Arc<dyn Gatekeeper>,
        spec: &UpstreamSpec,
        name: Option<String>,
        settings: Settings,
    ) -> Result<Gateway, GatewayError> {
        let relay = Arc::new(Relay::default());
        // A server that never finishes the handshake (a command that is not an MCP
        // server, a socket that accepts and says nothing) is an error, not a hang; the
        // child is killed when its handle drops.
        let upstream = tokio::time::timeout(
            settings.call_timeout,
            upstream::connect(spec, relay.clone(), settings.max_message),
        )
        .await
        .map_err(|_| {
            GatewayError::Upstream(format!(
                "the server did not finish the MCP handshake (initialize) within {:?} (--call-timeout)",
                settings.call_timeout
            ))
        })??;
        let info = upstream.peer().peer_info().ok_or_else(|| {
            GatewayError::Upstream(
                "the server finished the handshake without describing itself".into(),
            )
        })?;
        let server = name
            .or_else(|| info.server_info.as_ref().map(|i| i.name.clone()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| spec.fallback_name());
        tracing::info!(
            server,
            protocol = %info.protocol_version,
            "connected to the upstream MCP server"
        );
        let shared = Arc::new(Shared {
            gate,
            upstream: upstream.peer().clone(),
            upstream_info: (*info).clone(),
            relay,
            server,
            settings,
            tools: Default::default(),
        });
        Ok(Gateway { shared, upstream })
    }

    /// The name mappings and policies know the upstream server by.
    pub fn server_name(&self) -> &str {
        &self.shared.server
    }

    /// The upstream server's process id, when the gateway started it.
    pub fn upstream_pid(&self) -> Option<u32> {
        self.upstream.pid
    }

    /// Serve one client over a byte stream (stdin/stdout) as `caller` until it closes
    /// the stream; then stop the upstream.
    pub async fn serve_stdio<R, W>(
        self,
        caller: Caller,
        read: R,
        write: W,
    ) -> Result<(), GatewayError>
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let handler = GatewayHandler {
            shared: self.shared.clone(),
            caller: Some(caller),
        };
        let transport = frame::FramedIo::new(read, write, self.shared.settings.max_message);
        let result = match handler.serve(transport).await {
            Ok(running) => running
                .waiting()
                .await
                .map(|_| ())
                .map_err(|e| GatewayError::Serve(e.to_string())),
            Err(e) => Err(GatewayError::Serve(e.to_string())),
        };
        // A server that died during the session is a failure even though the client
        // ended it cleanly: a pipeline must not read exit 0 as "all calls ran".
        let died = self.shared.upstream.is_transport_closed();
        self.upstream.shutdown().await;
        match result {
            Ok(()) if died => Err(GatewayError::Upstream(
                "the upstream MCP server exited or closed its connection during the session; calls after that failed".into(),
            )),
            other => other,
        }
    }

    /// Serve streamable HTTP at `/mcp` on `listener` until `shutdown` resolves; each
    /// request must carry `Authorization: Bearer <parapet token>`.
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        // Every client shares the one upstream: once it is gone, every later call would
        // fail. Stop instead (exit 1), so the supervisor restarts the gateway and it.
        let peer = self.upstream.peer().clone();
        let gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = {
            let gone = gone.clone();
            async move {
                tokio::select! {
                    _ = shutdown => {}
                    _ = async {
                        while !peer.is_transport_closed() {
                            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        }
                    } => {
                        gone.store(true, std::sync::atomic::Ordering::SeqCst);
                        tracing::error!("the upstream MCP server is gone: stopping the gateway so that it is restarted");
                    }
                }
            }
        };
        let result = http::serve(self.shared.clone(), listener, stop).await;
        self.upstream.shutdown().await;
        if gone.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(GatewayError::Serve(
                "the upstream MCP server exited or closed its connection; the gateway stopped (every client shared it) so that a supervisor restarts both".into(),
            ));
        }
        result
    }
}
