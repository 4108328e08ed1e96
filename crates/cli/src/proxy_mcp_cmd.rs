//! `parapet proxy mcp`: flags, the judge's backend, logging; the gateway itself is
//! `parapet_mcp::gateway`.

use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::Args;
use parapet_gate::Config;
use parapet_mcp::gateway::{Gatekeeper, Gateway, Parapet, Settings, UpstreamSpec};
use parapet_mcp::judge::Judge;
use parapet_mcp::map::Mappings;
use parapet_proxy::parse_duration;
use std::path::PathBuf;
use std::sync::Arc;

/// An MCP server for agents: every tool call judged before the real server runs it.
///
/// The agent's MCP client talks to parapet exactly as it would to the server behind
/// it. tools/call is mapped to the AWS (or other) actions it would take and judged by
/// the same policies, approvals, incident mode, pins and kill switch as `parapet
/// serve`. Allowed calls are forwarded; denied calls answer a tool error naming the
/// decision and its reason; calls under review wait (--hold) while the client shows
/// the approval link (elicitation) and progress, else answer pending: the same call
/// retried after approval runs, once. Tools the agent may never use are hidden from
/// tools/list. Everything else (resources, prompts, completion) is forwarded.
///
/// The server behind it: a stdio server started as a child (`-- COMMAND ARGS`) or a
/// streamable-HTTP one (--upstream URL). The agent's side: stdio (its client starts
/// parapet as its MCP server, with the agent's parapet token in PARAPET_TOKEN or
/// --token-file), or streamable HTTP with --listen, where every request carries
/// `Authorization: Bearer <parapet token>`.
///
/// Judging: --server URL asks a running `parapet serve` (the agent holds only its
/// token); --database judges in process against the decision service's database
/// (the gateway as its own service next to it, like `parapet proxy aws`).
///
/// Exit codes: 0 the client closed the session (or Ctrl-C with --listen), 1 the
/// gateway failed while running (the upstream could not start), 2 bad settings.
#[derive(Args)]
#[command(after_help = MCP_EXAMPLE)]
pub struct McpArgs {
    /// A streamable-HTTP MCP server to front, instead of a command after `--`.
    #[arg(long, value_name = "URL", env = "PARAPET_MCP_UPSTREAM")]
    upstream: Option<String>,

    /// File holding the bearer token the upstream HTTP server expects (sent as its
    /// Authorization header; never the agent's parapet token).
    #[arg(long, value_name = "FILE")]
    upstream_token_file: Option<PathBuf>,

    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio; port 0 picks one,
    /// printed as the first line of stdout (`listening on http://ADDR/mcp`).
    #[arg(long, value_name = "ADDR", env = "PARAPET_MCP_LISTEN")]
    listen: Option<String>,

    /// Judge through this running decision service (`parapet serve`).
    #[arg(
        long,
        value_name = "URL",
        env = "PARAPET_SERVER",
        conflicts_with = "database"
    )]
    server: Option<String>,

    /// File holding the agent's parapet token (stdio; default: PARAPET_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// Judge in process against this database: a SQLite file or a PostgreSQL URL
    /// shared with `parapet serve`.
    #[arg(
        long = "database",
        visible_alias = "db",
        value_name = "FILE|URL",
        env = "PARAPET_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,

    /// Directory of .cedar files added to (or replacing) the built-in pack (with
    /// --database; give the same one as `parapet serve`).
    #[arg(long, value_name = "DIR", env = "PARAPET_POLICIES")]
    policies: Option<PathBuf>,

    /// Where people reach the decision service's web UI: approval links are
    /// URL/ui/decisions/ID (with --database).
    #[arg(long, value_name = "URL", env = "PARAPET_PUBLIC_URL")]
    public_url: Option<String>,

    /// Team settings (parapet.toml): [critical] rules (with --database).
    #[arg(long, value_name = "FILE", env = "PARAPET_CONFIG")]
    config: Option<PathBuf>,

    /// How long a review waits for approvals before it expires (with --database).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    review_ttl: String,

    /// The server's name in mappings and policies (default: its own serverInfo name).
    #[arg(long)]
    name: Option<String>,

    /// Extra mapping files or directories (added to the shipped ones; repeat).
    #[arg(long = "mappings", value_name = "DIR|FILE")]
    mappings: Vec<PathBuf>,

    /// How long a call under review waits for a decision before answering pending.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    hold: String,

    /// How long the upstream server has to answer one request.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    call_timeout: String,

    /// Largest message accepted from the client or the upstream (e.g. 4MiB, 512KiB).
    #[arg(long, value_name = "SIZE", default_value = "4MiB")]
    max_message: String,

    /// Log filter on standard error, e.g. info (default), parapet_mcp=debug. The MCP
    /// SDK's own logs (rmcp: whole messages and the server's errors, tool arguments and
    /// their secrets included) are off unless the filter names rmcp.
    #[arg(long, env = "PARAPET_LOG")]
    log: Option<String>,

    /// Log format on standard error: text (default) or json (one object per line; values
    /// a client chose, such as tool names, are quoted and escaped in text).
    #[arg(long, env = "PARAPET_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<String>,

    /// The stdio MCP server to run: everything after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

const MCP_EXAMPLE: &str =
    "Wrap a stdio server for one agent (its MCP client config runs this command):
  PARAPET_SERVER=https://parapet.example.com PARAPET_TOKEN=<agent token> \\
    parapet proxy mcp --name aws-api -- uvx awslabs.aws-api-mcp-server@latest

Run the gateway as its own service in front of an HTTP server:
  parapet proxy mcp --listen 0.0.0.0:8090 --database postgres://parapet@db/parapet \\
    --public-url https://parapet.example.com --upstream http://127.0.0.1:8000/mcp
  (agents connect to http://HOST:8090/mcp with Authorization: Bearer <agent token>)

Claude Code (.mcp.json) / Kiro (mcp.json):
  {\"mcpServers\": {\"aws\": {\"command\": \"parapet\",
     \"args\": [\"proxy\", \"mcp\", \"--server\", \"https://parapet.example.com\", \"--\",
              \"uvx\", \"awslabs.aws-api-mcp-server@latest\"],
     \"env\": {\"PARAPET_TOKEN\": \"<agent token>\"}}}}

See docs/mcp.md.";

fn duration_of(flag: &str, s: &str) -> Result<std::time::Duration> {
    let d = parse_duration(s)
        .with_context(|| format!("--{flag} {s}: use a duration such as 500ms, 20s, 5m"))?;
    if d.is_zero() {
        bail!("--{flag} {s}: must be longer than zero (e.g. 500ms, 20s, 5m)");
    }
    Ok(d)
}

/// `4MiB`, `512KiB`, `1MB`, `65536`.
fn size_of(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: usize = n
        .parse()
        .with_context(|| format!("--max-message {s}: use a size such as 4MiB"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        other => bail!("--max-message {s}: unknown unit {other:?} (use B, KiB, MiB)"),
    };
    match n.checked_mul(mult) {
        Some(v) if v >= 1024 => Ok(v),
        _ => bail!("--max-message {s}: use at least 1KiB"),
    }
}

fn read_secret(path: &PathBuf, what: &str) -> Result<String> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("reading {what} from {}", path.display()))?;
    let s = s.trim().to_string();
    if s.is_empty() {
        bail!("{} is empty: it should hold {what}", path.display());
    }
    Ok(s)
}

pub fn run(args: McpArgs) -> Result<u8> {
    let log = args.log.clone().unwrap_or_else(|| "info".into());
    // The MCP SDK logs whole messages (tool arguments, secrets included) at debug and
    // every server notification at info: quiet unless the filter names it.
    let full = if log.contains("rmcp") {
        log.clone()
    } else {
        format!("{log},rmcp=off")
    };
    // Standard output is the MCP channel in stdio mode: logs go to standard error only.
    crate::logs::init(&full, args.log_format.as_deref())?;

    if args.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        bail!("--name is empty: give the name mappings and policies know the server by");
    }
    if args.upstream_token_file.is_some() && args.upstream.is_none() {
        bail!("--upstream-token-file is for an --upstream URL; a server started with -- COMMAND gets no bearer token");
    }
    if args.token_file.is_some() && args.listen.is_some() {
        bail!("--token-file is for stdio; with --listen every client sends its own token (Authorization: Bearer)");
    }
    if let Some(url) = args.public_url.as_deref().filter(|u| !u.is_empty()) {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            bail!("--public-url {url}: give the approval pages' base URL, e.g. https://parapet.example.com");
        }
    }
    let spec = match (&args.upstream, args.command.split_first()) {
        (Some(_), Some(_)) => bail!("give either --upstream URL or -- COMMAND ARGS, not both"),
        (None, None) => bail!("no MCP server to front: give -- COMMAND ARGS or --upstream URL"),
        (Some(url), None) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            bail!("--upstream {url}: a streamable-HTTP MCP server's URL starts with http:// or https://")
        }
        (Some(url), None) => UpstreamSpec::Url {
            url: url.clone(),
            bearer: match &args.upstream_token_file {
                Some(p) => Some(read_secret(p, "the upstream server's token")?),
                None => None,
            },
        },
        (None, Some((program, rest))) => UpstreamSpec::Command {
            program: program.clone(),
            args: rest.to_vec(),
        },
    };
    let settings = Settings {
        hold: duration_of("hold", &args.hold)?,
        call_timeout: duration_of("call-timeout", &args.call_timeout)?,
        max_message: size_of(&args.max_message)?,
    };
    let mappings = if args.mappings.is_empty() {
        Mappings::embedded()
    } else {
        Mappings::load(&args.mappings).context("loading --mappings")?
    };
    // The agent's token: needed for stdio (the one identity of this session).
    let token = match (&args.token_file, std::env::var("PARAPET_TOKEN")) {
        (Some(p), _) => Some(read_secret(p, "the agent's parapet token")?),
        (None, Ok(t)) if !t.trim().is_empty() => Some(t.trim().to_string()),
        _ => None,
    };
    if args.listen.is_none() && token.is_none() {
        bail!("stdio needs the agent's parapet token: set PARAPET_TOKEN or give --token-file (make one with `parapet token create --role agent --actor agent:NAME`)");
    }
    // A stdio gateway serves one client whose messages are few and in sequence: one
    // thread hands each message on without waking another (the multi-threaded runtime
    // spent most of the gateway's time switching threads). A --listen gateway serves
    // many clients at once.
    let rt = if args.listen.is_none() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .context("starting the async runtime")?;
    let judge = rt.block_on(judge_backend(&args, token.as_deref()))?;
    let gate: Arc<dyn Gatekeeper> = Arc::new(Parapet { mappings, judge });

    rt.block_on(async move {
        let caller = match (&args.listen, &token) {
            (None, Some(t)) => Some(
                gate.authenticate(t)
                    .await
                    .context("checking the agent's parapet token")?,
            ),
            _ => None,
        };
        let listener = match &args.listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening on {addr}"))?,
            ),
            None => None,
        };
        let gateway = match Gateway::start(gate, &spec, args.name.clone(), settings).await {
            Ok(g) => g,
            Err(e) => {
                eprintln!("parapet: error: {e}");
                return Ok(EXIT_HELD);
            }
        };
        let served = match (listener, caller) {
            (Some(l), _) => {
                let addr = l.local_addr().context("reading the listening address")?;
                println!("listening on http://{addr}/mcp");
                gateway.serve_http(l, shutdown_signal()).await
            }
            (None, Some(caller)) => {
                tracing::info!(actor = %caller.actor, server = gateway.server_name(), "serving MCP on stdio");
                gateway
                    .serve_stdio(caller, tokio::io::stdin(), tokio::io::stdout())
                    .await
            }
            (None, None) => unreachable!("stdio without a token was refused above"),
        };
        match served {
            Ok(()) => Ok(EXIT_ALLOW),
            Err(e) => {
                eprintln!("parapet: error: {e}");
                Ok(EXIT_HELD)
            }
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The judge: a running decision service (--server) or the database in process.
async fn judge_backend(args: &McpArgs, token: Option<&str>) -> Result<Judge> {
    match (&args.server, &args.database) {
        (Some(url), _) => Judge::remote(url, token.map(str::to_string))
            .with_context(|| format!("--server {url}")),
        (None, Some(database)) => {
            let engine = parapet_policy::PolicyEngine::load(args.policies.as_deref())
                .map_err(|e| anyhow::anyhow!("loading policies: {e}"))?;
            let location = database.clone();
            let store = tokio::task::spawn_blocking(move || parapet_store::open(&location))
                .await
                .context("opening the database")?
                .with_context(|| {
                    format!("opening the database {}", parapet_store::redact(database))
                })?;
            let ttl = parapet_policy::parse_duration(&args.review_ttl).with_context(|| {
                format!("--review-ttl {}: use 30m, 24h, 7d (at most 30d)", args.review_ttl)
            })?;
            if ttl == 0 {
                bail!("--review-ttl {}: must be longer than zero (e.g. 30m, 24h)", args.review_ttl);
            }
            let public_url = args
                .public_url
                .clone()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string();
            if public_url.is_empty() {
                tracing::warn!("no --public-url: calls held for review name their decision id but no approval page (approvers find them in `parapet serve`'s queue)");
            }
            let mut server = parapet_server::ServerConfig {
                ttl_seconds: ttl as i64,
                public_url: public_url.clone(),
                ..Default::default()
            };
            if let Some(path) = &args.config {
                if let Some(c) = Config::load(path)?.critical {
                    server.critical = c;
                }
            }
            let app = Arc::new(parapet_server::App::new(
                store,
                engine,
                server,
                Default::default(),
            ));
            // stdio: one token for the session, checked again on every call.
            let session = args.listen.is_none().then(|| token.map(str::to_string)).flatten();
            Ok(Judge::in_process(app, public_url).with_session_token(session))
        }
        (None, None) => bail!(
            "how should calls be judged? give --server URL (a running `parapet serve`) or --database FILE|URL (in process)"
        ),
    }
}
