use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use parapet_gate::Config;
use parapet_policy::{parse_duration, PolicyEngine};
use parapet_server::{App, ServerConfig};
use parapet_store::{redact, Role, Store};
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
    let filter = tracing_subscriber::EnvFilter::try_new(&log)
        .with_context(|| format!("log filter {log}"))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args
        .log_format
        .or(file.log_format)
        .as_deref()
        .unwrap_or("text")
    {
        "json" => logs.json().init(),
        "text" => logs.init(),
        other => bail!("log format {other}: use text or json"),
    }
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

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token. The secret is printed once; only its hash is stored.
    ///
    /// With --server (an admin token) the server creates it and audits it under the
    /// admin's actor. Without, it is written to --database directly: allowed while the
    /// database has no live admin token (to bootstrap the first one), otherwise only
    /// with --write-db-directly.
    ///
    /// Exit codes: 0 created (the secret is on standard output), 2 bad input or
    /// refused (role and actor do not fit, an admin already exists, the server said no).
    #[command(after_help = TOKEN_EXAMPLE)]
    Create {
        #[command(flatten)]
        target: crate::ops_cmd::Target,
        /// A label for the token (who or what holds it).
        #[arg(long)]
        name: String,
        /// agent (request decisions; acts as agent:, pipeline: or service:), approver
        /// (approve and reject; acts as human:), admin (everything; acts as human:).
        #[arg(long)]
        role: String,
        /// The actor the token acts as, kind:name (e.g. agent:kiro, human:alice); it
        /// must be a kind the role allows. Decisions, votes, incidents and pins are
        /// attributed to it.
        #[arg(long, value_parser = parapet_model::Actor::parse)]
        actor: parapet_model::Actor,
        /// When the token stops working: a duration from now (90m, 12h, 30d) or an
        /// RFC 3339 time. Default: never.
        #[arg(long, value_name = "DURATION|TIME")]
        expires: Option<String>,
    },
    /// List tokens: id, name, role, actor, state, created, expires, last used. Never
    /// a secret (only hashes are stored).
    ///
    /// Exit codes: 0 listed, 2 bad input, no such database or the server refused.
    List {
        #[command(flatten)]
        target: crate::ops_cmd::Target,
    },
    /// Revoke a token: refused from now on (on every replica within a second) and its
    /// web UI sessions end.
    ///
    /// Exit codes: 0 revoked, 2 no such token, bad input or the server refused.
    Revoke {
        /// The token's id (tok_..., from `parapet token list`).
        id: String,
        #[command(flatten)]
        target: crate::ops_cmd::Target,
    },
}

const TOKEN_EXAMPLE: &str = "Examples:
  parapet token create --database parapet.db --role admin --actor human:root --name root   # bootstrap
  export PARAPET_SERVER=https://parapet.example.com PARAPET_TOKEN=<admin token>
  parapet token create --role agent --actor agent:kiro --name kiro --expires 30d
  parapet token list
  parapet token revoke tok_0123456789abcdef";

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

pub fn token(cmd: TokenCommand) -> Result<u8> {
    let (TokenCommand::Create { target, .. }
    | TokenCommand::List { target }
    | TokenCommand::Revoke { target, .. }) = &cmd;
    target.refuse_by()?;
    match cmd {
        TokenCommand::Create {
            target,
            name,
            role,
            actor,
            expires,
        } => create_token(target, name, role, actor, expires),
        TokenCommand::List { target } => list_tokens(target),
        TokenCommand::Revoke { id, target } => {
            let by_server = target.server.client()?;
            match by_server {
                Some(c) => {
                    c.call(
                        "POST",
                        &format!("/v1/tokens/{}/revoke", crate::remote::segment(&id)),
                        None,
                    )?;
                }
                // Revoking only takes access away: allowed on the database directly.
                None => {
                    let store = target.database.open_existing()?;
                    if !store.revoke_token(&id, &crate::ops_cmd::direct_actor())? {
                        bail!("no live token {id} (unknown or already revoked)");
                    }
                }
            }
            eprintln!("revoked token {id}; it is refused from now on");
            Ok(EXIT_ALLOW)
        }
    }
}

fn create_token(
    target: crate::ops_cmd::Target,
    name: String,
    role: String,
    actor: parapet_model::Actor,
    expires: Option<String>,
) -> Result<u8> {
    let role = Role::parse(&role)
        .with_context(|| format!("--role {role}: use agent, approver or admin"))?;
    let actor = actor.to_string();
    // Refused before anything is contacted: a role bounds the kind of actor.
    parapet_store::check_role_actor(role, &actor)
        .map_err(|e| anyhow::anyhow!("--role {} --actor {actor}: {e}", role.as_str()))?;
    let now = parapet_store::now();
    let expires_at = expires.map(|e| parse_expiry(&e, now)).transpose()?;
    let (id, secret, acts_as) = match target.server.client()? {
        Some(c) => {
            let body = serde_json::json!({
                "name": name, "role": role.as_str(), "actor": actor,
                "expires": expires_at.map(parapet_store::rfc3339),
            });
            let v = c.call("POST", "/v1/tokens", Some(&body))?;
            let secret = v["secret"]
                .as_str()
                .context("the decision service returned no secret")?
                .to_string();
            (v["id"].as_str().unwrap_or("?").to_string(), secret, actor)
        }
        None => {
            let store = target.database.open()?;
            let admins = store
                .tokens()?
                .into_iter()
                .filter(|t| t.role == Role::Admin && t.live(now))
                .count();
            if admins > 0 && !target.write_db_directly {
                bail!(
                    "this database already has an admin token: create tokens through the \
                     server (--server URL --token ADMIN_TOKEN, or PARAPET_SERVER and \
                     PARAPET_TOKEN), which audits who created them. Writing to the \
                     database directly bypasses that; --write-db-directly forces it"
                );
            }
            let (info, secret) = store.create_token(
                &name,
                role,
                &actor,
                expires_at,
                &crate::ops_cmd::direct_actor(),
            )?;
            (info.id, secret, info.actor)
        }
    };
    let until = expires_at.map_or("never expires".to_string(), |e| {
        format!("expires {}", parapet_store::rfc3339(e))
    });
    eprintln!(
        "created token {id} ({}, acts as {acts_as}, {until}); the secret is shown once:",
        role.as_str()
    );
    println!("{secret}");
    Ok(EXIT_ALLOW)
}

fn list_tokens(target: crate::ops_cmd::Target) -> Result<u8> {
    let rows: Vec<serde_json::Value> = match target.server.client()? {
        Some(c) => match c.call("GET", "/v1/tokens", None)? {
            serde_json::Value::Array(a) => a,
            other => bail!("the decision service answered {other} where a list was expected"),
        },
        None => {
            let now = parapet_store::now();
            target
                .database
                .open_existing()?
                .tokens()?
                .iter()
                .map(|t| parapet_server::shown_token(t, now))
                .collect()
        }
    };
    println!("ID\tNAME\tROLE\tACTOR\tSTATE\tCREATED\tEXPIRES\tLAST USED");
    let field = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    for t in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            field(&t["id"]),
            field(&t["name"]),
            field(&t["role"]),
            field(&t["actor"]),
            field(&t["state"]),
            field(&t["created_at"]),
            field(&t["expires_at"]),
            field(&t["last_used_at"]),
        );
    }
    Ok(EXIT_ALLOW)
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
