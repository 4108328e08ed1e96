use crate::trail_cmd::{alert_line, DetectArgs, Format};
use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{Context, Result};
use clap::Args;
use parapet_detect::sigma::rule::parse_timespan;
use parapet_detect::sigma::Level;
use parapet_detect::{output, Alert};
use parapet_watch::nats::{Connect, NatsSource};
use parapet_watch::sqs::{SqsConfig, SqsSource};
use parapet_watch::{cluster, Options, Sink};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Watch a stream of CloudTrail and raise alerts as events arrive.
///
/// Sources: a NATS JetStream subject through a durable pull consumer (stream and consumer
/// are created when missing; a restart resumes where the consumer stopped), or, with
/// --sqs, an SQS queue of S3 object notifications (direct, SNS-wrapped or EventBridge):
/// each object named is fetched from S3 and read, and the message deleted once
/// processed. Credentials for SQS/S3 come from the standard AWS chain. Payloads may hold
/// CloudTrail in any shape `trail scan` reads: one record, JSON lines,
/// `{"Records": [...]}`, gzip, EventBridge envelopes. Events are processed as they come
/// (no reordering, so alerts are immediate); correlation windows accept events up to
/// --lateness late. Alerts are written as they are raised; incidents when the watch ends.
///
/// With --checkpoint the detector's state is saved every --checkpoint-every and messages
/// are acknowledged only after a save, so a crash replays at most that interval and
/// forgets nothing acknowledged. Without it, each batch is acknowledged once processed.
///
/// With --partitions, this process is one worker of a cluster on NATS (every worker
/// started alike, each with its own --worker id): records are partitioned by account,
/// each partition detected by one worker at a time with its state in JetStream
/// key-value, and alerts published once each on `parapet.<durable>.alerts`; a worker
/// that dies is replaced by the others within --lease (see docs/watch.md).
///
/// Exit status: like `trail scan` when it ends (--until-idle), 2 on a connection or
/// JetStream error (run it under a supervisor that restarts it).
///
/// Example: parapet trail watch --nats nats://127.0.0.1:4222 --subject cloudtrail --format jsonl
#[derive(Args)]
pub struct WatchArgs {
    /// Read S3 object notifications from this SQS queue URL instead of NATS.
    #[arg(long, value_name = "QUEUE_URL")]
    pub sqs: Option<String>,
    /// AWS region of the queue and bucket (else the queue URL's, else the profile's).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Send SQS and S3 requests here instead of AWS (moto, LocalStack, VPC endpoints).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Profile of the shared AWS config and credentials files for SQS and S3 (else the
    /// standard chain: environment, web identity, ECS, instance role).
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Serve Prometheus metrics (`/metrics`), readiness (`/ready`) and liveness
    /// (`/healthz`) on this address, e.g. `0.0.0.0:9464`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// NATS server(s) with JetStream: `nats://host:4222`, `tls://host:4222`, comma-separated.
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// PEM file of the CA(s) that sign the NATS server's certificate (TLS required).
    #[arg(long, value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
    /// PEM client certificate for NATS servers that verify clients (with --nats-key).
    #[arg(long, value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    /// PEM private key of --nats-cert.
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
    /// NATS credentials file (JWT and NKey seed, as `nsc` writes it).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// File holding an NKey user seed (`SU...`).
    #[arg(long, value_name = "FILE")]
    pub nats_nkey: Option<PathBuf>,
    /// NATS user (the password from NATS_PASSWORD).
    #[arg(long, env = "NATS_USER")]
    pub nats_user: Option<String>,
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true, hide = true)]
    pub nats_password: Option<String>,
    /// NATS token, from the environment only (it would show in process lists).
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true, hide = true)]
    pub nats_token: Option<String>,
    /// Subject CloudTrail is published on.
    #[arg(long, default_value = "cloudtrail")]
    pub subject: String,
    /// JetStream stream that holds the subject (created over --subject when missing).
    #[arg(long, default_value = "CLOUDTRAIL")]
    pub stream: String,
    /// Durable consumer name (with --partitions: the cluster's name).
    #[arg(long, default_value = "parapet")]
    pub durable: String,
    /// Run as one worker of a cluster with this many partitions (the same in every
    /// worker; more partitions than workers lets the work spread as workers come).
    #[arg(long, value_name = "N", conflicts_with = "sqs", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: Option<u32>,
    /// This worker's id in the cluster (letters, digits, `-`, `_`): default host and pid.
    #[arg(long, value_name = "ID")]
    pub worker: Option<String>,
    /// A worker silent this long loses its partitions to the others.
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub lease: String,
    /// A message not acknowledged this long after delivery is delivered again.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub ack_wait: String,
    /// End after this long without a message (`30s`, `5m`); by default run until stopped.
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,
    /// How often to save --checkpoint (or a cluster's state) and acknowledge what it covers.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub checkpoint_every: String,
    /// On exit, print alert latency percentiles: from a message's arrival on the stream
    /// (its JetStream timestamp) to its alert being written.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub feed: crate::feed::FeedArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
}

fn duration(s: &str, flag: &str) -> Result<Duration> {
    Ok(Duration::from_millis(
        parse_timespan(s).with_context(|| flag.to_string())? as u64,
    ))
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Alerts to the output as they are raised; skips counted.
struct Out<'a> {
    out: Box<dyn Write>,
    feed: crate::feed::Feed,
    d: &'a DetectArgs,
    format: Format,
    skipped: u64,
    latencies: Vec<u128>,
}

impl Sink for Out<'_> {
    fn alert(&mut self, a: &Alert, arrived_ns: Option<u128>) -> std::io::Result<()> {
        self.feed.alert(a);
        writeln!(self.out, "{}", alert_line(a, self.format))?;
        if let Some(t) = arrived_ns {
            // Written to the buffer; flushed with the batch.
            self.latencies.push(now_ns().saturating_sub(t));
        }
        Ok(())
    }
    fn skipped(&mut self, at: &str, reason: &str) {
        self.d.skipped(at, reason, &mut self.skipped);
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
    fn event(&mut self, e: &parapet_trail::Event, det: &parapet_detect::Detector) {
        self.feed.event(e, det);
    }
}

impl Out<'_> {
    fn print_stats(&mut self) {
        let l = &mut self.latencies;
        if l.is_empty() {
            return;
        }
        l.sort_unstable();
        let p = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
        eprintln!(
            "parapet: alert latency from stream arrival: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} alerts",
            p(0.5),
            p(0.99),
            p(1.0),
            l.len()
        );
    }
}

fn read_secret(p: &PathBuf, what: &str) -> Result<String> {
    let s = std::fs::read_to_string(p).with_context(|| format!("{what} {}", p.display()))?;
    Ok(s.trim().to_string())
}

fn nats_connect(a: &WatchArgs) -> Result<Connect> {
    let mut c = Connect::new(&a.nats);
    c.ca = a.nats_ca.clone();
    c.cert = a.nats_cert.clone();
    c.key = a.nats_key.clone();
    c.creds = a.nats_creds.clone();
    c.user = a.nats_user.clone();
    c.password = a.nats_password.clone();
    c.token = a.nats_token.clone();
    if c.user.is_some() != c.password.is_some() {
        anyhow::bail!("--nats-user needs NATS_PASSWORD, and NATS_PASSWORD needs --nats-user");
    }
    if let Some(p) = &a.nats_nkey {
        c.nkey_seed = Some(read_secret(p, "--nats-nkey")?);
    }
    Ok(c)
}

pub fn watch(a: WatchArgs) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(watch_async(a))
}

async fn watch_async(a: WatchArgs) -> Result<u8> {
    let d = &a.detect;
    let idle = a
        .until_idle
        .as_deref()
        .map(|s| duration(s, "--until-idle"))
        .transpose()?;
    let opts = Options {
        idle,
        checkpoint: d.checkpoint.clone(),
        checkpoint_every: duration(&a.checkpoint_every, "--checkpoint-every")?,
        stop: Arc::new(AtomicBool::new(false)),
        metrics: None,
    };
    let mut opts = opts;
    // SIGTERM/SIGINT: finish the batch, checkpoint, acknowledge, exit 0.
    let metrics = parapet_watch::metrics::Metrics::new();
    parapet_watch::metrics::stop_on_signals(opts.stop.clone(), Some(metrics.clone()))
        .context("listening for SIGTERM")?;
    if let Some(addr) = &a.metrics_listen {
        parapet_watch::metrics::serve_in_thread(addr, metrics.clone())
            .with_context(|| format!("--metrics-listen {addr}"))?;
        opts.metrics = Some(metrics);
    }
    let ack_wait = duration(&a.ack_wait, "--ack-wait")?;
    if let Some(p) = a.partitions {
        return cluster_worker(&a, p, opts, ack_wait).await;
    }
    let feed = a.feed.start(|| crate::trail_cmd::actor_kinds(d))?;
    let (mut det, out) = d.start()?;
    let mut sink = Out {
        out,
        feed,
        d,
        format: d.format,
        skipped: 0,
        latencies: Vec::new(),
    };
    match &a.sqs {
        Some(url) => {
            let config = SqsConfig {
                queue_url: url.clone(),
                region: a.region.clone(),
                endpoint: a.endpoint_url.clone(),
                credentials: match &a.profile {
                    Some(p) => parapet_awsauth::CredentialSource::Profile(p.clone()),
                    None => parapet_awsauth::CredentialSource::DefaultChain,
                },
            };
            let open = async { Ok(SqsSource::new(&config).await?) };
            let Some(mut source) = or_stopped(&opts.stop, open).await? else {
                return Ok(0);
            };
            if d.verbose {
                eprintln!("parapet: SQS with {}", source.describe());
            }
            parapet_watch::run(&mut source, &mut det, &opts, &mut sink).await?;
        }
        None => {
            let open = async {
                let client = nats_connect(&a)?.connect().await?;
                Ok(NatsSource::open(client, &a.stream, &a.subject, &a.durable, ack_wait).await?)
            };
            let Some(mut source) = or_stopped(&opts.stop, open).await? else {
                return Ok(0);
            };
            parapet_watch::run(&mut source, &mut det, &opts, &mut sink).await?;
        }
    }
    let code = d.finish(&det, &mut sink.out, sink.skipped)?;
    if a.stats {
        sink.print_stats();
    }
    std::mem::replace(&mut sink.feed, crate::feed::Feed::none()).finish()?;
    // Stopped by a signal after a clean drain: success, whatever was found.
    Ok(if opts.stop.load(std::sync::atomic::Ordering::Relaxed) {
        0
    } else {
        code
    })
}

async fn cluster_worker(
    a: &WatchArgs,
    partitions: u32,
    opts: Options,
    ack_wait: Duration,
) -> Result<u8> {
    let d = &a.detect;
    if d.checkpoint.is_some() {
        anyhow::bail!("--checkpoint is for one process; a cluster keeps its state in JetStream");
    }
    let worker = match &a.worker {
        Some(w) => w.clone(),
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
            format!("{host}-{}", std::process::id())
        }
    };
    // This process's own (a restarted worker with the same id must not share it), made
    // private by tempfile, removed when the worker ends.
    let scratch = tempfile::Builder::new()
        .prefix(&format!("parapet-watch-{worker}-"))
        .tempdir()
        .context("a scratch directory for checkpoints in passing")?;
    let cfg = cluster::Config {
        stream: a.stream.clone(),
        subject: a.subject.clone(),
        name: a.durable.clone(),
        partitions,
        worker: worker.clone(),
        lease_ttl: duration(&a.lease, "--lease")?,
        ack_wait,
        checkpoint_every: opts.checkpoint_every,
        idle: opts.idle,
        stop: opts.stop.clone(),
        scratch: scratch.path().to_path_buf(),
    };
    if a.feed.auto_pin || a.feed.freeze_agents {
        anyhow::bail!(
            "--auto-pin and --freeze-agents are not available with --partitions yet: run them on a single worker"
        );
    }
    let (_, out) = d.start()?;
    let mut sink = Out {
        out,
        feed: crate::feed::Feed::none(),
        d,
        format: d.format,
        skipped: 0,
        latencies: Vec::new(),
    };
    let connect = async { Ok(nats_connect(a)?.connect().await?) };
    let Some(client) = or_stopped(&opts.stop, connect).await? else {
        return Ok(0);
    };
    if let Some(m) = &opts.metrics {
        m.up();
    }
    let new_detector = || -> Result<parapet_detect::Detector, cluster::BoxError> {
        let config = crate::trail_cmd::load_config(d)?;
        Ok(parapet_detect::Detector::new(config)?)
    };
    // Bad detector settings fail here, before the worker joins.
    new_detector().map_err(|e| anyhow::anyhow!(e))?;
    let outcome = cluster::work(client, &cfg, &new_detector, &mut sink).await?;
    drop(scratch);
    eprintln!(
        "parapet: worker {worker}: {} records routed, {} alerts already raised by another worker",
        outcome.routed, outcome.duplicates
    );
    let code = incidents(d, &outcome.detectors, &mut sink.out)?;
    eprintln!("parapet: {} skipped", sink.skipped);
    if a.stats {
        sink.print_stats();
    }
    Ok(code)
}

/// The incidents of the partitions this worker held at the end, and the exit status.
fn incidents(
    d: &DetectArgs,
    detectors: &[(u32, parapet_detect::Detector)],
    out: &mut dyn Write,
) -> Result<u8> {
    let min = d.min_level.level().unwrap_or(Level::Critical);
    let mut worst = None;
    for (_, det) in detectors {
        for i in det.incidents() {
            worst = worst.max(Some(i.level));
            if i.level < min {
                continue;
            }
            match d.format {
                Format::Timeline => writeln!(out, "{}", output::timeline(i)),
                Format::Jsonl => writeln!(out, "{}", output::incident_json(i)),
                Format::Ocsf => writeln!(out, "{}", output::incident_ocsf(i)),
            }
            .context("writing incidents")?;
        }
    }
    out.flush().context("writing incidents")?;
    Ok(match (d.fail_on.level(), worst) {
        (Some(t), Some(w)) if w >= t => EXIT_HELD,
        _ => EXIT_ALLOW,
    })
}

/// `work`, unless a stop signal comes first (connecting can take the connection
/// timeout, or longer through the AWS credential chain): None then, having said so, and
/// the watch ends at once (nothing was read, so nothing needs draining).
async fn or_stopped<T>(
    stop: &std::sync::atomic::AtomicBool,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<Option<T>> {
    let stopped = async {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        r = work => r.map(Some),
        () = stopped => {
            eprintln!("parapet: stopped by a signal while connecting; nothing was read");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_parse() {
        assert_eq!(
            super::duration("15s", "--lease").unwrap(),
            std::time::Duration::from_secs(15)
        );
        assert!(super::duration("soon", "--lease").is_err());
    }
}
