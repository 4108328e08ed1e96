use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use parapet_gate::Config;
use parapet_policy::{parse_duration, PolicyEngine};
use parapet_server::{App, ServerConfig};
use parapet_store::{redact, Store};
use std::path::PathBuf;
use std::sync::Arc;

/// Run the decision service: decisions, approvals (two-person rule, cooling-off)
/// and a hash-chained audit log, over HTTP.
///
/// Every setting can come from a flag, an environment variable or the `[server]`
/// table of the --config file, in that order of precedence.
#[derive(Args)]
#[command(after_help = SERVE_EXAMPLE)]
pub struct ServeArgs {
    /// The database: a SQLite file (default parapet.db) or a PostgreSQL URL
    /// (postgres://user@host:5432/db) shared by several replicas. [file: database]
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "PARAPET_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,

    /// Address to listen on (default 127.0.0.1:8080); port 0 picks a free port
    /// (printed on the first line of stdout). [file: listen]
    #[arg(long, env = "PARAPET_LISTEN")]
    listen: Option<String>,

    /// Directory of .cedar files added to (or replacing) the built-in pack.
    /// [file: policies]
    #[arg(long, value_name = "DIR", env = "PARAPET_POLICIES")]
    policies: Option<PathBuf>,

    /// Team settings (parapet.toml): [critical] rules and the [server] table.
    #[arg(long, value_name = "FILE", env = "PARAPET_CONFIG")]
    config: Option<PathBuf>,

    /// How long a review waits for approvals before it expires, e.g. 24h (default),
    /// 90m. [file: review_ttl]
    #[arg(long, env = "PARAPET_REVIEW_TTL")]
    review_ttl: Option<String>,

    /// Largest request body accepted, in MiB (default 256). [file: max_body_mib]
    #[arg(long, env = "PARAPET_MAX_BODY_MIB")]
    max_body_mib: Option<usize>,

    /// The address people reach this service at, for links in chat messages
    /// (default http://LISTEN). [file: public_url]
    #[arg(long, value_name = "URL", env = "PARAPET_PUBLIC_URL")]
    public_url: Option<String>,

    /// Slack (or compatible) incoming-webhook URL: each new review is posted there
    /// with its explanation and a link to approve. [file: slack_webhook]
    #[arg(
        long,
        value_name = "URL",
        env = "PARAPET_SLACK_WEBHOOK",
        hide_env_values = true
    )]
    slack_webhook: Option<String>,

    /// Shared secret of a PagerDuty v3 webhook subscription: enables
    /// POST /v1/webhooks/pagerduty (signatures verified with HMAC-SHA256).
    /// [file: pagerduty.secret; pagerduty.urgencies, default ["high"]]
    #[arg(long, env = "PARAPET_PAGERDUTY_SECRET", hide_env_values = true)]
    pagerduty_secret: Option<String>,

    /// Secret Opsgenie sends in X-Opsgenie-Secret: enables POST /v1/webhooks/opsgenie.
    /// [file: opsgenie.secret; opsgenie.priorities, default ["P1", "P2"]]
    #[arg(long, env = "PARAPET_OPSGENIE_SECRET", hide_env_values = true)]
    opsgenie_secret: Option<String>,

    /// Log format on standard error: text (default) or json (one object per line).
    /// [file: log_format]
    #[arg(long, env = "PARAPET_LOG_FORMAT")]
    log_format: Option<String>,

    /// Log filter, e.g. info (default), parapet_server=debug (RUST_LOG syntax).
    /// [file: log]
    #[arg(long, env = "PARAPET_LOG")]
    log: Option<String>,

    /// The credential key file (from `parapet credential-key generate`): lets this
    /// service issue agent AWS keys for `parapet proxy aws` (`parapet token create
    /// --aws`), whose secrets are derived from it and never stored. Use the same file
    /// as the proxy. [file: credential_key_file]
    #[arg(
        long,
        value_name = "PATH",
        env = "PARAPET_CREDENTIAL_KEY_FILE",
        hide_env_values = true
    )]
    credential_key_file: Option<PathBuf>,
}

const SERVE_EXAMPLE: &str = "Example parapet.toml:
  [server]
  listen = \"0.0.0.0:8080\"
  database = \"postgres://parapet@db:5432/parapet\"
  public_url = \"https://parapet.example.com\"
  slack_webhook = \"https://hooks.slack.com/services/...\"
  review_ttl = \"24h\"
  [server.pagerduty]
  secret = \"...\"
  urgencies = [\"high\"]
  [server.opsgenie]
  secret = \"...\"
  priorities = [\"P1\", \"P2\"]

The web UI is at /ui (log in with an approver or admin token); the API at /v1.";

/// The `[server]` table.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    database: Option<String>,
    listen: Option<String>,
    policies: Option<PathBuf>,
    review_ttl: Option<String>,
    max_body_mib: Option<usize>,
    public_url: Option<String>,
    slack_webhook: Option<String>,
    log_format: Option<String>,
    log: Option<String>,
    credential_key_file: Option<PathBuf>,
    #[serde(default)]
    pagerduty: SourceFile,
    #[serde(default)]
    opsgenie: SourceFile,
}

#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    secret: Option<String>,
    urgencies: Option<Vec<String>>,
    priorities: Option<Vec<String>>,
}

pub fn serve(args: ServeArgs) -> Result<u8> {
    let (team, file) = match &args.config {
        Some(path) => {
            let mut team = Config::load(path)?;
            let file: ServerFile = match team.server.take() {
                Some(t) => t
                    .try_into()
                    .with_context(|| format!("[server] in {}", path.display()))?,
                None => ServerFile::default(),
            };
            (team, file)
        }
        None => (Config::default(), ServerFile::default()),
    };
    let log = args.log.or(file.log).unwrap_or_else(|| "info".into());
    crate::logs::init(&log, args.log_format.or(file.log_format).as_deref())?;
    let policies = args.policies.or(file.policies);
    let engine = PolicyEngine::load(policies.as_deref()).context("loading policies")?;
    let review_ttl = args
        .review_ttl
        .or(file.review_ttl)
        .unwrap_or_else(|| "24h".into());
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut config = ServerConfig {
        ttl_seconds: parse_duration(&review_ttl)
            .with_context(|| format!("review TTL {review_ttl}: use 30m, 24h, 7d (at most 30d)"))?
            as i64,
        max_body_bytes: args
            .max_body_mib
            .or(file.max_body_mib)
            .unwrap_or(256)
            .saturating_mul(1024 * 1024),
        public_url: args
            .public_url
            .or(file.public_url)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string(),
        slack_webhook: args
            .slack_webhook
            .or(file.slack_webhook)
            .filter(|s| !s.is_empty()),
        ..Default::default()
    };
    if let Some(rules) = team.critical {
        config.critical = rules;
    }
    if let Some(path) = args.credential_key_file.or(file.credential_key_file) {
        config.credential_key = Some(crate::token_cmd::load_credential_key(&path)?);
    }
    let database = Database {
        location: args
            .database
            .or(file.database)
            .unwrap_or_else(|| "parapet.db".into()),
    };
    let store = database.open()?;
    let defaults = parapet_server::WebhookSecrets::default();
    let webhooks = parapet_server::WebhookSecrets {
        pagerduty: args
            .pagerduty_secret
            .or(file.pagerduty.secret)
            .filter(|s| !s.is_empty()),
        opsgenie: args
            .opsgenie_secret
            .or(file.opsgenie.secret)
            .filter(|s| !s.is_empty()),
        pagerduty_urgencies: file
            .pagerduty
            .urgencies
            .unwrap_or(defaults.pagerduty_urgencies),
        opsgenie_priorities: file
            .opsgenie
            .priorities
            .unwrap_or(defaults.opsgenie_priorities),
    };
    tracing::info!(backend = store.backend(), database = %redact(&database.location), "database ready");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&listen))
        .with_context(|| format!("listening on {listen}"))?;
    if config.public_url.is_empty() {
        // Where this service really listens (port 0 is resolved by now).
        let addr = listener.local_addr().context("the listening address")?;
        config.public_url = format!("http://{addr}");
    }
    let app = Arc::new(App::new(store, engine, config, webhooks));
    rt.block_on(parapet_server::serve_on(app, listener))
        .with_context(|| format!("serving on {listen}"))?;
    Ok(EXIT_ALLOW)
}

/// `--expires`: `90m`, `12h`, `30d` from now, or an RFC 3339 time; in epoch seconds.
pub fn parse_expiry(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    if let Some(t) = parapet_gate::parse_rfc3339(s) {
        return Ok(t);
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => 0,
    };
    match n.parse::<i64>() {
        Ok(n) if n > 0 && seconds > 0 && n <= 3650 * 86400 / seconds => Ok(now + n * seconds),
        _ => bail!("--expires {s:?}: use a duration such as 90m, 12h, 30d, or an RFC 3339 time"),
    }
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: exit 0 intact, 1 tampered (names the first bad entry).
    Verify {
        #[command(flatten)]
        database: Database,
    },
    /// Write every audit entry as a JSON line.
    ///
    /// Exit codes: 0 written, 2 no such database or it cannot be read.
    Export {
        #[command(flatten)]
        database: Database,
    },
}

pub fn audit(cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Verify { database } => {
            let store = database.open_existing()?;
            let v = store.verify()?;
            match v.problem {
                None => {
                    println!("audit log intact: {} entries", v.entries);
                    Ok(EXIT_ALLOW)
                }
                Some(p) => {
                    println!("audit log TAMPERED at entry {}: {}", p.seq, p.what);
                    Ok(EXIT_HELD)
                }
            }
        }
        AuditCommand::Export { database } => {
            let store = database.open_existing()?;
            let mut out = String::new();
            for e in store.audit()? {
                out.push_str(&serde_json::to_string(&e)?);
                out.push('\n');
            }
            print!("{out}");
            Ok(EXIT_ALLOW)
        }
    }
}

/// `--database`: where the decision service keeps its state, shared by every command
/// that reads or writes it.
#[derive(Args)]
pub struct Database {
    /// The decision service's database: a SQLite file (created and migrated if
    /// needed) or a PostgreSQL URL (postgres://user[:password]@host:port/db), which
    /// several `parapet serve` replicas can share.
    #[arg(
        long = "database",
        value_name = "FILE|URL",
        default_value = "parapet.db",
        env = "PARAPET_DATABASE",
        hide_env_values = true
    )]
    pub location: String,
}

impl Database {
    pub fn is_postgres(&self) -> bool {
        self.location.starts_with("postgres://") || self.location.starts_with("postgresql://")
    }

    pub fn open(&self) -> Result<Box<dyn Store>> {
        parapet_store::open(&self.location)
            .with_context(|| format!("opening database {}", redact(&self.location)))
    }

    /// For commands that only read: a missing SQLite file is an error, not a new
    /// database.
    pub fn open_existing(&self) -> Result<Box<dyn Store>> {
        if !self.is_postgres() && !std::path::Path::new(&self.location).exists() {
            bail!("no database at {}", self.location);
        }
        self.open()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn expiry_is_a_duration_from_now_or_a_time() {
        let now = 1_700_000_000;
        assert_eq!(parse_expiry("90m", now).unwrap(), now + 5400);
        assert_eq!(parse_expiry("12h", now).unwrap(), now + 43200);
        assert_eq!(parse_expiry("30d", now).unwrap(), now + 30 * 86400);
        assert_eq!(
            parse_expiry("2030-01-01T00:00:00Z", now).unwrap(),
            1_893_456_000
        );
        // Nothing unreadable, empty, zero, negative or absurd becomes "never expires".
        for bad in [
            "",
            "soon",
            "30",
            "0d",
            "-5d",
            "5w",
            "d",
            "99999999999d",
            "1.5h",
        ] {
            assert!(parse_expiry(bad, now).is_err(), "{bad:?}");
        }
    }
}
