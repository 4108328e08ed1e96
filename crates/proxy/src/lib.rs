//! `parapet proxy aws`: an AWS API endpoint for agents. Agents set `AWS_ENDPOINT_URL`
//! to the proxy and sign with access keys parapet issued (`parapet token create --aws`);
//! every call is verified, judged by the decision service's gate (same pack, incident
//! mode, pins, approvals, kill switch) and, when allowed, re-signed with the real
//! credentials only the proxy holds and forwarded. The upstream's answer comes back
//! unchanged; a refusal is an error in the caller's own protocol.
//!
//! One request (`handle`): framing and size limits (`frame`, `listen`) -> signature,
//! access key, replay, freeze (`auth`) -> service, operation and parameters
//! (`parapet-wire`; bodies read as the signature requires, `intake`, `body`) ->
//! judgement (`judge`: pure reads in process; writes recorded through
//! `parapet_server::decide_call`) -> what it means in the mode, reviews held
//! (`outcome`, `hold`) -> forward (`forward`, `creds`). Answers of its own in `reply`,
//! counters in `metrics` (Prometheus text at `GET /_parapet/metrics` for unsigned
//! requests, and on `--metrics-listen`).
//!
//! Modes: enforce (default); dry-run (judge and log, forward reads only, writes get an
//! error saying what the decision would have been, nothing recorded); observe (judge,
//! log, forward everything, nothing recorded). A freeze refuses in every mode.

mod auth;
mod body;
pub mod config;
mod creds;
mod forward;
pub use forward::AGENT_MARK;
mod frame;
mod handle;
mod hold;
mod intake;
mod judge;
mod listen;
mod metrics;
mod outcome;
mod reply;

pub use config::{
    parse_duration, CredentialSource, Limits, Mode, ProxyConfig, ProxyFile, Timeouts,
};

use handle::Shared;
use parapet_server::App;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Signatures remembered against replay: at 5,000 requests a second and 15 minutes
/// each, 4.5 million; a full cache refuses (fail closed) rather than forget.
const REPLAY_CAPACITY: usize = 5_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the credential key is {0} bytes; at least {min} are needed", min = parapet_store::MIN_KEY_BYTES)]
    ShortKey(usize),
    #[error(transparent)]
    Upstream(#[from] forward::ForwardError),
    #[error(transparent)]
    Credentials(#[from] creds::CredsError),
    #[error(transparent)]
    Store(#[from] parapet_store::StoreError),
    #[error("loading policies: {0}")]
    Policies(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// A proxy ready to serve.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy deciding with `app` (its store, policy engine and settings are the
    /// decision service's), deriving agents' secrets with `credential_key`.
    pub async fn new(
        app: Arc<App>,
        config: ProxyConfig,
        credential_key: Vec<u8>,
    ) -> Result<Proxy, ProxyError> {
        if credential_key.len() < parapet_store::MIN_KEY_BYTES {
            return Err(ProxyError::ShortKey(credential_key.len()));
        }
        let creds = creds::Creds::new(&config.credentials, config.region.as_deref()).await;
        let upstream =
            forward::Upstream::new(config.upstream.as_deref(), creds, config.timeouts.clone())?;
        let routing = parapet_wire::Routing {
            endpoint_hosts: config.endpoint_hosts.clone(),
        };
        Ok(Proxy {
            shared: Arc::new(Shared {
                app,
                credential_key,
                upstream,
                replay: parapet_sigv4::ReplayCache::new(REPLAY_CAPACITY),
                keys: Default::default(),
                incidents: Default::default(),
                metrics: Default::default(),
                models: parapet_wire::ServiceModels::embedded(),
                routing,
                config,
            }),
        })
    }

    /// Fetch the real credentials once: an error now rather than on the first call.
    /// The line returned says what was found, never a secret.
    pub async fn check_credentials(&self) -> Result<String, ProxyError> {
        Ok(self.shared.upstream.creds().check().await?)
    }

    /// The metrics, as `GET /_parapet/metrics` answers them.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    /// Serve on a bound listener until `shutdown` resolves.
    pub async fn serve_until(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        listen::serve(self.shared.clone(), listener, shutdown).await
    }

    /// Serve the metrics on their own listener (forever).
    pub async fn serve_metrics(&self, listener: TcpListener) -> std::io::Result<()> {
        listen::serve_metrics(self.shared.clone(), listener).await
    }
}

/// Serve on a bound listener until Ctrl-C or SIGTERM, printing where it listens as
/// the first line of standard output (`parapet proxy aws listening on http://ADDR`).
pub async fn serve_on(proxy: &Proxy, listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    println!("parapet proxy aws listening on http://{addr}");
    tracing::info!(%addr, mode = proxy.shared.config.mode.as_str(), "proxy listening");
    proxy.serve_until(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Everything [`run`] needs: where to listen, the store and pack to decide with, and
/// the proxy's settings.
pub struct RunOptions {
    pub listen: String,
    /// SQLite file or PostgreSQL URL (shared with `parapet serve` and other proxies).
    pub database: String,
    pub credential_key_file: PathBuf,
    pub policies: Option<PathBuf>,
    pub critical: Option<parapet_aws::CriticalRules>,
    /// How long a review waits for approval before it expires.
    pub review_ttl_seconds: i64,
    pub slack_webhook: Option<String>,
    pub metrics_listen: Option<String>,
    pub proxy: ProxyConfig,
}

/// Open the store, load the pack, bind, check the credentials and serve until Ctrl-C
/// or SIGTERM.
pub async fn run(mut opts: RunOptions) -> Result<(), ProxyError> {
    let key = parapet_store::load_credential_key(&opts.credential_key_file)?;
    let engine = parapet_policy::PolicyEngine::load(opts.policies.as_deref())
        .map_err(|e| ProxyError::Policies(e.to_string()))?;
    let location = opts.database.clone();
    let store = tokio::task::spawn_blocking(move || parapet_store::open(&location))
        .await
        .map_err(|e| ProxyError::Io {
            what: "opening the database".into(),
            source: std::io::Error::other(e),
        })??;
    tracing::info!(backend = store.backend(), database = %parapet_store::redact(&opts.database), "database ready");
    let listener = TcpListener::bind(&opts.listen)
        .await
        .map_err(|source| ProxyError::Io {
            what: format!("listening on {}", opts.listen),
            source,
        })?;
    if opts.proxy.endpoint_hosts.is_empty() {
        let host = opts
            .listen
            .rsplit_once(':')
            .map_or(opts.listen.as_str(), |(h, _)| h);
        if !host.is_empty() && host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') {
            opts.proxy.endpoint_hosts.push(host.to_ascii_lowercase());
        }
    }
    let mut server = parapet_server::ServerConfig {
        ttl_seconds: opts.review_ttl_seconds,
        public_url: opts.proxy.public_url.trim_end_matches('/').to_string(),
        slack_webhook: opts.slack_webhook.clone(),
        ..Default::default()
    };
    if let Some(c) = opts.critical.take() {
        server.critical = c;
    }
    let app = Arc::new(App::new(store, engine, server, Default::default()));
    let proxy = Proxy::new(app, opts.proxy, key).await?;
    let found = proxy.check_credentials().await?;
    tracing::info!("{found}");
    if let Some(addr) = &opts.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| ProxyError::Io {
                what: format!("listening for metrics on {addr}"),
                source,
            })?;
        tracing::info!(addr = %addr, "metrics listening");
        let p = proxy.clone();
        tokio::spawn(async move {
            if let Err(e) = p.serve_metrics(l).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    serve_on(&proxy, listener)
        .await
        .map_err(|source| ProxyError::Io {
            what: "serving".into(),
            source,
        })
}
