use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use parapet_gate::Config;
use parapet_policy::{parse_duration, PolicyEngine};
use parapet_server::{App, ServerConfig};
use parapet_store::{Role, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    database: Database,

    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080", env = "PARAPET_LISTEN")]
    listen: String,

    /// Directory of .cedar files added to (or replacing) the built-in pack.
    #[arg(long, value_name = "DIR", env = "PARAPET_POLICIES")]
    policies: Option<PathBuf>,

    /// Team settings (parapet.toml).
    #[arg(long, value_name = "FILE", env = "PARAPET_CONFIG")]
    config: Option<PathBuf>,

    /// How long a review waits for approvals before it expires (e.g. 24h, 90m).
    #[arg(long, default_value = "24h", env = "PARAPET_REVIEW_TTL")]
    review_ttl: String,

    /// Largest request body accepted, in MiB.
    #[arg(long, default_value_t = 256)]
    max_body_mib: usize,

    /// Shared secret of a PagerDuty v3 webhook subscription: enables
    /// POST /v1/webhooks/pagerduty (signatures verified with HMAC-SHA256).
    #[arg(long, env = "PARAPET_PAGERDUTY_SECRET", hide_env_values = true)]
    pagerduty_secret: Option<String>,

    /// Secret Opsgenie sends in X-Opsgenie-Secret: enables POST /v1/webhooks/opsgenie.
    #[arg(long, env = "PARAPET_OPSGENIE_SECRET", hide_env_values = true)]
    opsgenie_secret: Option<String>,

    /// Log format on standard error: text or json (one object per line).
    #[arg(long, default_value = "text", env = "PARAPET_LOG_FORMAT")]
    log_format: String,

    /// Log filter, e.g. info, parapet_server=debug (RUST_LOG syntax).
    #[arg(long, default_value = "info", env = "PARAPET_LOG")]
    log: String,
}

pub fn serve(args: ServeArgs) -> Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .with_context(|| format!("--log {}", args.log))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format.as_str() {
        "json" => logs.json().init(),
        "text" => logs.init(),
        other => bail!("--log-format {other}: use text or json"),
    }
    let engine = PolicyEngine::load(args.policies.as_deref()).context("loading policies")?;
    let mut config = ServerConfig {
        ttl_seconds: parse_duration(&args.review_ttl).with_context(|| {
            format!(
                "--review-ttl {}: use 30m, 24h, 7d (at most 30d)",
                args.review_ttl
            )
        })? as i64,
        max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
        ..Default::default()
    };
    if let Some(c) = &args.config {
        if let Some(rules) = Config::load(c)?.critical {
            config.critical = rules;
        }
    }
    let store = args.database.open()?;
    let webhooks = parapet_server::WebhookSecrets {
        pagerduty: args.pagerduty_secret.filter(|s| !s.is_empty()),
        opsgenie: args.opsgenie_secret.filter(|s| !s.is_empty()),
    };
    let app = Arc::new(App::new(store, engine, config, webhooks));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(parapet_server::serve(app, &args.listen))
        .with_context(|| format!("serving on {}", args.listen))?;
    Ok(EXIT_ALLOW)
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token. The secret is printed once; only its hash is stored.
    Create {
        #[command(flatten)]
        database: Database,
        /// A label for the token (who or what holds it).
        #[arg(long)]
        name: String,
        /// agent (request decisions), approver (approve and reject), admin (everything).
        #[arg(long)]
        role: String,
        /// The actor the token acts as, kind:name (e.g. agent:kiro, human:alice).
        /// Decisions and approvals are attributed to it.
        #[arg(long, value_parser = parapet_model::Actor::parse)]
        actor: parapet_model::Actor,
    },
}

pub fn token(cmd: TokenCommand) -> Result<u8> {
    let TokenCommand::Create {
        database,
        name,
        role,
        actor,
    } = cmd;
    let role = Role::parse(&role)
        .with_context(|| format!("--role {role}: use agent, approver or admin"))?;
    if role != Role::Agent && !matches!(actor.kind, parapet_model::ActorKind::Human) {
        bail!("approver and admin tokens must act as a human (--actor human:NAME), so automation can never approve");
    }
    let store = database.open()?;
    let (info, secret) = store.create_token(&name, role, &actor.to_string(), "cli:token-create")?;
    eprintln!(
        "created token {} ({}, acts as {}); the secret is shown once:",
        info.id,
        info.role.as_str(),
        info.actor
    );
    println!("{secret}");
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

/// `--database`: the decision service's SQLite file, shared by every command that
/// reads or writes its state.
#[derive(Args)]
pub struct Database {
    /// The decision service's SQLite database file (created and migrated if needed).
    #[arg(
        long = "database",
        value_name = "FILE",
        default_value = "parapet.db",
        env = "PARAPET_DATABASE"
    )]
    pub path: PathBuf,
}

impl Database {
    pub fn open(&self) -> Result<SqliteStore> {
        SqliteStore::open(&self.path)
            .with_context(|| format!("opening database {}", self.path.display()))
    }

    /// For commands that only read: a missing file is an error, not a new database.
    pub fn open_existing(&self) -> Result<SqliteStore> {
        if !self.path.exists() {
            bail!("no database at {}", self.path.display());
        }
        self.open()
    }
}
