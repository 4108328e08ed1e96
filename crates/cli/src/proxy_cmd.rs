//! `parapet proxy aws`: flags, the `[proxy]` table of --config, logging; the proxy
//! itself is `parapet_proxy`.

use crate::EXIT_ALLOW;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use parapet_gate::Config;
use parapet_proxy::{parse_duration, Mode, ProxyConfig, ProxyFile, RunOptions};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ProxyCommand {
    Aws(AwsArgs),
    Mcp(crate::proxy_mcp_cmd::McpArgs),
}

/// An AWS API endpoint for agents: every call verified, judged and, when allowed,
/// forwarded to AWS with credentials only the proxy holds.
///
/// Agents point AWS_ENDPOINT_URL at the proxy and sign with keys parapet issues
/// (`parapet token create --role agent --actor agent:NAME --aws`), so they hold no
/// credentials that work without it. Each request's SigV4 signature is verified
/// (replays refused), the call is parsed with AWS's own service models and judged
/// by the same gate, Cedar pack, incident mode, pins, approvals and kill switch as
/// `parapet serve` (sharing its database). Allowed calls are re-signed with the
/// standard AWS credential chain (environment, profiles and SSO, web identity, ECS,
/// EC2 metadata) and forwarded; the upstream's answer comes back unchanged. Denied
/// calls get an error in the API's own format naming the decision, its reason and
/// its id. A call under review is held (--hold) while people approve it in the web
/// UI; if time runs out the error names the approval page, and the same call retried
/// after approval goes through, once.
///
/// Pure reads are forwarded without a database write; every other decision is in
/// the audit log. Metrics (Prometheus text) are at GET /_parapet/metrics on the
/// same address (unsigned requests) and on --metrics-listen.
///
/// Every setting can come from a flag, an environment variable or the `[proxy]`
/// table of the --config file, in that order of precedence.
///
/// Exit codes: 0 stopped (Ctrl-C, SIGTERM), 2 bad settings or cannot start (no
/// credential key, no AWS credentials, the address is taken).
#[derive(Args)]
#[command(after_help = PROXY_EXAMPLE)]
pub struct AwsArgs {
    /// Address to listen on (default 127.0.0.1:8081); port 0 picks a free port,
    /// printed on the first line of stdout. [file: listen]
    #[arg(long, env = "PARAPET_PROXY_LISTEN")]
    listen: Option<String>,

    /// The decision service's database: a SQLite file (default parapet.db) or a
    /// PostgreSQL URL shared with `parapet serve` and other proxies. [file: database]
    #[arg(
        long = "database",
        visible_alias = "db",
        value_name = "FILE|URL",
        env = "PARAPET_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,

    /// The credential key (32+ bytes, kept outside the database) that agents' secret
    /// access keys are derived from; the one `parapet serve` and `parapet token create
    /// --aws` use. [file: credential_key_file]
    #[arg(long, value_name = "FILE", env = "PARAPET_CREDENTIAL_KEY_FILE")]
    credential_key_file: Option<PathBuf>,

    /// Send every call to this endpoint instead of AWS's (e.g. http://127.0.0.1:5000
    /// for moto server). [file: upstream]
    #[arg(long, value_name = "URL", env = "PARAPET_PROXY_UPSTREAM")]
    upstream: Option<String>,

    /// Forward only calls signed for this region (global services such as IAM too);
    /// others are refused. Also the region the AWS credential chain uses. [file: region]
    #[arg(long, env = "PARAPET_PROXY_REGION")]
    region: Option<String>,

    /// enforce (default): refuse what is denied or not approved. dry-run: judge and
    /// log, forward reads only, answer writes with what the decision would be.
    /// observe: judge, log and forward everything (for rollout). Dry-run and observe
    /// record nothing in the database; a frozen agent is refused in every mode.
    /// [file: mode]
    #[arg(long, value_name = "MODE", env = "PARAPET_PROXY_MODE")]
    mode: Option<String>,

    /// How long a call under review is held waiting for approval (default 20s; keep it
    /// below the SDKs' 60 s read timeout). [file: hold]
    #[arg(long, value_name = "DURATION", env = "PARAPET_PROXY_HOLD")]
    hold: Option<String>,

    /// Where people reach the decision service's web UI: approval links are
    /// URL/ui/decisions/ID. [file: public_url]
    #[arg(long, value_name = "URL", env = "PARAPET_PUBLIC_URL")]
    public_url: Option<String>,

    /// Directory of .cedar files added to (or replacing) the built-in pack; give the
    /// same one as `parapet serve`. [file: policies]
    #[arg(long, value_name = "DIR", env = "PARAPET_POLICIES")]
    policies: Option<PathBuf>,

    /// Team settings (parapet.toml): [critical] rules and the [proxy] table.
    #[arg(long, value_name = "FILE", env = "PARAPET_CONFIG")]
    config: Option<PathBuf>,

    /// How long a review waits for approvals before it expires (default 24h).
    /// [file: review_ttl]
    #[arg(long, value_name = "DURATION", env = "PARAPET_REVIEW_TTL")]
    review_ttl: Option<String>,

    /// Also serve the metrics on this address. [file: metrics_listen]
    #[arg(long, value_name = "ADDR", env = "PARAPET_PROXY_METRICS_LISTEN")]
    metrics_listen: Option<String>,

    /// Host names agents use in AWS_ENDPOINT_URL (repeat for several), so that S3
    /// requests to BUCKET.HOST read as virtual-hosted style. Default: the --listen
    /// host when it is a name; localhost always counts. [file: endpoint_hosts]
    #[arg(long = "endpoint-host", value_name = "HOST")]
    endpoint_hosts: Vec<String>,

    /// Largest body the proxy reads to judge or hash, in MiB (default 72: Lambda's
    /// 50 MB zip in base64). S3 uploads stream and are not bound by it.
    /// [file: max_body_mib]
    #[arg(long, env = "PARAPET_PROXY_MAX_BODY_MIB")]
    max_body_mib: Option<u64>,

    /// Time to connect to the upstream (default 10s). [file: connect_timeout]
    #[arg(long, value_name = "DURATION")]
    connect_timeout: Option<String>,

    /// Time for the upstream to answer once a call is sent (default 60s).
    /// [file: response_timeout]
    #[arg(long, value_name = "DURATION")]
    response_timeout: Option<String>,

    /// Slack (or compatible) incoming-webhook URL for reviews the proxy opens.
    /// [file: slack_webhook]
    #[arg(
        long,
        value_name = "URL",
        env = "PARAPET_SLACK_WEBHOOK",
        hide_env_values = true
    )]
    slack_webhook: Option<String>,

    /// Log format on standard error: text (default) or json. [file: log_format]
    #[arg(long, env = "PARAPET_LOG_FORMAT")]
    log_format: Option<String>,

    /// Log filter, e.g. info (default), parapet_proxy=debug. [file: log]
    #[arg(long, env = "PARAPET_LOG")]
    log: Option<String>,
}

const PROXY_EXAMPLE: &str = "Set up (once), run, and give an agent its keys:
  parapet credential-key generate /etc/parapet/credential.key
  parapet proxy aws --listen 127.0.0.1:8081 --database parapet.db \\
      --credential-key-file /etc/parapet/credential.key --public-url https://parapet.example.com
  parapet token create --role agent --actor agent:kiro --name kiro --aws --expires 8h
      (prints AWS_ACCESS_KEY_ID=PKIA... and AWS_SECRET_ACCESS_KEY=...)

In the agent's environment (the AWS CLI and every current SDK honour these):
  export AWS_ENDPOINT_URL=http://127.0.0.1:8081
  export AWS_ACCESS_KEY_ID=PKIA... AWS_SECRET_ACCESS_KEY=... AWS_REGION=eu-west-1
  aws s3 ls        # a read: forwarded
  aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot
      # An error occurred (AccessDenied) when calling the DeleteDBInstance operation:
      # parapet denied rds:DeleteDBInstance (decision dec_...): ...

The proxy's own AWS credentials come from the standard chain (AWS_PROFILE,
AWS_ACCESS_KEY_ID, web identity, ECS, EC2 metadata); agents never see them.

Example parapet.toml:
  [proxy]
  listen = \"0.0.0.0:8081\"
  database = \"postgres://parapet@db:5432/parapet\"
  credential_key_file = \"/etc/parapet/credential.key\"
  public_url = \"https://parapet.example.com\"
  mode = \"enforce\"
  hold = \"20s\"
  region = \"eu-west-1\"";

fn duration_of(flag: &str, s: &str) -> Result<std::time::Duration> {
    parse_duration(s)
        .with_context(|| format!("--{flag} {s}: use a duration such as 500ms, 20s, 5m"))
}

pub fn run(cmd: ProxyCommand) -> Result<u8> {
    let args = match cmd {
        ProxyCommand::Aws(args) => args,
        ProxyCommand::Mcp(args) => return crate::proxy_mcp_cmd::run(args),
    };
    let (team, file) = match &args.config {
        Some(path) => {
            let mut team = Config::load(path)?;
            let file: ProxyFile = match team.proxy.take() {
                Some(t) => t
                    .try_into()
                    .with_context(|| format!("[proxy] in {}", path.display()))?,
                None => ProxyFile::default(),
            };
            (team, file)
        }
        None => (Config::default(), ProxyFile::default()),
    };
    // Without a region anywhere, aws-config asks EC2 metadata for one and warns when
    // there is none: not worth a warning by default.
    let log = args
        .log
        .or(file.log)
        .unwrap_or_else(|| "info,aws_config::imds::region=error".into());
    crate::logs::init(&log, args.log_format.or(file.log_format).as_deref())?;
    let mut proxy = ProxyConfig::default();
    if let Some(m) = args.mode.or(file.mode) {
        proxy.mode = Mode::parse(&m)
            .with_context(|| format!("--mode {m}: use enforce, dry-run or observe"))?;
    }
    if let Some(h) = args.hold.or(file.hold) {
        proxy.hold = duration_of("hold", &h)?;
        if proxy.hold.as_secs() >= 60 {
            eprintln!("parapet: warning: --hold {h} is not below the SDKs' 60 s read timeout: clients may give up first");
        }
    }
    if let Some(t) = args.connect_timeout.or(file.connect_timeout) {
        proxy.timeouts.connect = duration_of("connect-timeout", &t)?;
    }
    if let Some(t) = args.response_timeout.or(file.response_timeout) {
        proxy.timeouts.response = duration_of("response-timeout", &t)?;
    }
    if let Some(t) = file.idle_timeout {
        proxy.timeouts.idle_body = duration_of("idle_timeout", &t)?;
    }
    if let Some(mib) = args.max_body_mib.or(file.max_body_mib) {
        proxy.limits.max_body_bytes = mib.saturating_mul(1 << 20);
    }
    if let Some(kib) = file.max_header_kib {
        proxy.limits.max_header_bytes = kib.saturating_mul(1 << 10);
    }
    proxy.upstream = args.upstream.or(file.upstream).filter(|s| !s.is_empty());
    proxy.region = args.region.or(file.region).filter(|s| !s.is_empty());
    proxy.public_url = args.public_url.or(file.public_url).unwrap_or_default();
    proxy.endpoint_hosts = if args.endpoint_hosts.is_empty() {
        file.endpoint_hosts.unwrap_or_default()
    } else {
        args.endpoint_hosts
    };
    let review_ttl = args
        .review_ttl
        .or(file.review_ttl)
        .unwrap_or_else(|| "24h".into());
    let credential_key_file = args
        .credential_key_file
        .or(file.credential_key_file)
        .context("--credential-key-file is required: the key agents' secret access keys are derived from (make one with `parapet credential-key generate PATH`)")?;
    let opts = RunOptions {
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8081".into()),
        database: args
            .database
            .or(file.database)
            .unwrap_or_else(|| "parapet.db".into()),
        credential_key_file,
        policies: args.policies.or(file.policies),
        critical: team.critical,
        review_ttl_seconds: parapet_policy::parse_duration(&review_ttl)
            .with_context(|| format!("review TTL {review_ttl}: use 30m, 24h, 7d (at most 30d)"))?
            as i64,
        slack_webhook: args
            .slack_webhook
            .or(file.slack_webhook)
            .filter(|s| !s.is_empty()),
        metrics_listen: args.metrics_listen.or(file.metrics_listen),
        proxy,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(parapet_proxy::run(opts))?;
    Ok(EXIT_ALLOW)
}
