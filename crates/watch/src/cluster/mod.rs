//! N workers on one JetStream stream, sharing detection state.
//!
//! Every worker routes: it reads the ingest stream through one shared durable consumer
//! (each message goes to one worker) and publishes each record to its account's
//! partition subject, deduplicated by event id. Every partition is detected by one
//! worker at a time, holding its lease; its detector state lives in key-value and is
//! saved before the partition messages it covers are acknowledged. A worker that dies
//! stops renewing; another takes the lease, loads the state and replays the partition
//! from the state's sequence, in stream order, so the replay raises the same alerts,
//! which the alert stream drops as duplicates (by alert id). See docs/watch.md.

mod lease;
mod partition;
pub mod route;
mod state;

use crate::nats::{ensure_stream, NatsError, NatsSource};
use crate::run::Sink;
use crate::source::Source;
use async_nats::jetstream::{self, kv, stream};
use parapet_detect::{DetectError, Detector};
use partition::Partition;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error("JetStream key-value: {what}")]
    Kv {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("JetStream: {what}")]
    Publish {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("state of partition {partition}: {reason}")]
    State { partition: u32, reason: String },
    #[error("--partitions {ours}, but the cluster was started with {theirs}")]
    Partitions { ours: u32, theirs: String },
    #[error("worker id {0:?}: use letters, digits, '-' and '_'")]
    Worker(String),
    #[error("detector")]
    Detect(#[from] DetectError),
    #[error("detector settings")]
    Settings(#[source] BoxError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing alerts")]
    Output(#[source] std::io::Error),
}

/// How a worker joins its cluster. Every worker of one cluster has the same `name`,
/// stream, subject and partition count; `worker` is unique.
#[derive(Clone, Debug)]
pub struct Config {
    /// The ingest stream and subject (created when missing).
    pub stream: String,
    pub subject: String,
    /// The cluster's name: the shared ingest consumer, and the prefix of what the
    /// cluster keeps (`<name>_parts`, `<name>_state`, `<name>_leases`, `<name>_alerts`).
    pub name: String,
    pub partitions: u32,
    pub worker: String,
    /// A worker silent this long loses its partitions.
    pub lease_ttl: Duration,
    /// An ingest message not acknowledged within this is routed again (by another).
    pub ack_wait: Duration,
    pub checkpoint_every: Duration,
    /// End after this long with nothing routed or detected.
    pub idle: Option<Duration>,
    pub stop: Arc<AtomicBool>,
    /// A directory of this worker's own for checkpoint files in passing.
    pub scratch: PathBuf,
}

/// What a worker ends with: the detectors of the partitions it held at the end (for
/// their incidents) and counts.
pub struct Outcome {
    pub detectors: Vec<(u32, Detector)>,
    pub routed: u64,
    pub duplicates: u64,
}

/// The names derived from the cluster name.
pub(crate) struct Names {
    parts_stream: String,
    parts_prefix: String,
    alerts_stream: String,
    pub alerts_subject: String,
    state: String,
    leases: String,
}

impl Names {
    pub fn of(name: &str) -> Names {
        Names {
            parts_stream: format!("{name}_parts"),
            parts_prefix: format!("parapet.{name}.part"),
            alerts_stream: format!("{name}_alerts"),
            alerts_subject: format!("parapet.{name}.alerts"),
            state: format!("{name}_state"),
            leases: format!("{name}_leases"),
        }
    }
}

/// The subject alerts of cluster `name` are published on (one message per alert).
pub fn alerts_subject(name: &str) -> String {
    Names::of(name).alerts_subject
}

/// Run one worker until idle or stopped.
pub async fn work(
    client: async_nats::Client,
    cfg: &Config,
    new_detector: &dyn Fn() -> Result<Detector, BoxError>,
    sink: &mut dyn Sink,
) -> Result<Outcome, ClusterError> {
    if cfg.worker.is_empty()
        || !cfg
            .worker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ClusterError::Worker(cfg.worker.clone()));
    }
    crate::nats::check_name("cluster", &cfg.name)?;
    let n = Names::of(&cfg.name);
    let js = jetstream::new(client.clone());
    let leases = bucket(
        &js,
        kv::Config {
            bucket: n.leases.clone(),
            history: 1,
            max_age: cfg.lease_ttl,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await?;
    let states = bucket(
        &js,
        kv::Config {
            bucket: n.state.clone(),
            history: 1,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await?;
    lease::agree_partitions(&states, cfg.partitions).await?;
    // A record routed twice within this window is stored once.
    let parts = ensure_parts(&js, &n).await?;
    ensure_stream(
        &js,
        &n.alerts_stream,
        vec![n.alerts_subject.clone()],
        Some(Duration::from_secs(3600)),
    )
    .await?;
    let mut ingest = NatsSource::open(
        client.clone(),
        &cfg.stream,
        &cfg.subject,
        &cfg.name,
        cfg.ack_wait,
    )
    .await?;
    std::fs::create_dir_all(&cfg.scratch).map_err(|source| ClusterError::Io {
        what: cfg.scratch.display().to_string(),
        source,
    })?;
    let ctx = partition::Ctx {
        js: js.clone(),
        parts,
        states,
        prefix: n.parts_prefix.clone(),
        alerts_subject: n.alerts_subject.clone(),
        name: cfg.name.clone(),
        scratch: cfg.scratch.clone(),
        part_ack_wait: (cfg.checkpoint_every.max(cfg.ack_wait) * 2 + cfg.lease_ttl)
            .min(Duration::from_secs(86_400)),
    };
    let mut held: Vec<Partition> = Vec::new();
    let (mut routed, mut duplicates) = (0u64, 0u64);
    let mut last_work = Instant::now();
    let mut last_lease = Instant::now() - cfg.lease_ttl;
    // Start the scan for free partitions at a different place in each worker.
    let offset = route::partition_of(&cfg.worker, cfg.partitions);
    while !cfg.stop.load(Ordering::Relaxed) {
        if last_lease.elapsed() >= cfg.lease_ttl / 3 {
            last_lease = Instant::now();
            maintain(&leases, cfg, offset, &ctx, &mut held, new_detector, sink).await?;
        }
        let batch = ingest
            .fetch(Duration::from_millis(100))
            .await
            .map_err(ClusterError::Nats)?;
        let mut busy = !batch.is_empty();
        if busy {
            let (tokens, n) = route::route(&js, &ctx.prefix, cfg.partitions, batch, sink).await?;
            routed += n;
            ingest.ack(tokens).await?;
        }
        let mut lost = Vec::new();
        for (i, p) in held.iter_mut().enumerate() {
            match p.step(&ctx, sink).await? {
                partition::Step::Idle => {}
                partition::Step::Worked(d) => {
                    busy = true;
                    duplicates += d;
                }
                partition::Step::Lost => lost.push(i),
            }
            if (p.last_save.elapsed() >= cfg.checkpoint_every || p.must_save())
                && !p.save(&ctx).await?
            {
                lost.push(i);
            }
        }
        lost.sort_unstable();
        lost.dedup();
        for i in lost.into_iter().rev() {
            let p = held.remove(i);
            eprintln!("parapet: worker {} lost partition {}", cfg.worker, p.index);
        }
        sink.flush().map_err(ClusterError::Output)?;
        if busy {
            last_work = Instant::now();
        } else if cfg.idle.is_some_and(|i| last_work.elapsed() >= i) {
            break;
        }
    }
    // Drain: save every partition, then acknowledge and give the leases back.
    let mut detectors = Vec::new();
    for mut p in held {
        if p.save(&ctx).await? {
            lease::release(&leases, p.index, p.lease_rev).await;
        }
        detectors.push((p.index, p.detector));
    }
    lease::leave(&leases, &cfg.worker).await;
    Ok(Outcome {
        detectors,
        routed,
        duplicates,
    })
}

/// A key-value bucket, created when missing. Its stream is made here, as the KV
/// convention lays it out (`KV_<bucket>` over `$KV.<bucket>.>`): the client's own
/// create asks for account details older servers (2.9) answer in a shape it rejects.
async fn bucket(js: &jetstream::Context, config: kv::Config) -> Result<kv::Store, ClusterError> {
    let name = config.bucket.clone();
    let err = |e: Box<dyn std::error::Error + Send + Sync>| ClusterError::Kv {
        what: format!("bucket {name}"),
        source: e,
    };
    if let Ok(kv) = js.get_key_value(&name).await {
        return Ok(kv);
    }
    let made = js
        .create_stream(stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: config.history,
            max_age: config.max_age,
            storage: config.storage,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await;
    match (made, js.get_key_value(&name).await) {
        (_, Ok(kv)) => Ok(kv),
        (Err(e), Err(_)) => Err(err(Box::new(e))),
        (Ok(_), Err(e)) => Err(err(Box::new(e))),
    }
}

async fn ensure_parts(js: &jetstream::Context, n: &Names) -> Result<stream::Stream, ClusterError> {
    crate::nats::check_name("stream", &n.parts_stream)?;
    js.get_or_create_stream(stream::Config {
        name: n.parts_stream.clone(),
        subjects: vec![format!("{}.*", n.parts_prefix)],
        storage: stream::StorageType::File,
        // A record is kept until the partition's owner has saved the state covering
        // it and acknowledged it.
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .map_err(|e| {
        ClusterError::Nats(NatsError::Stream {
            name: n.parts_stream.clone(),
            source: Box::new(e),
        })
    })
}

/// Renew held leases (dropping lost ones), take free partitions up to this worker's
/// fair share, and give back what is over it (so a worker that joins gets work).
async fn maintain(
    leases: &kv::Store,
    cfg: &Config,
    offset: u32,
    ctx: &partition::Ctx,
    held: &mut Vec<Partition>,
    new_detector: &dyn Fn() -> Result<Detector, BoxError>,
    sink: &mut dyn Sink,
) -> Result<(), ClusterError> {
    lease::heartbeat(leases, &cfg.worker).await?;
    let mut kept = Vec::new();
    for mut p in std::mem::take(held) {
        match lease::renew(leases, p.index, &cfg.worker, p.lease_rev).await? {
            Some(rev) => {
                p.lease_rev = rev;
                kept.push(p);
            }
            None => eprintln!(
                "parapet: worker {} lost the lease of partition {}",
                cfg.worker, p.index
            ),
        }
    }
    *held = kept;
    let live = lease::live_workers(leases).await?;
    let share = (cfg.partitions as usize).div_ceil(live);
    if held.len() > share {
        // One at a time: the others are given back at later rounds if still over.
        if let Some(mut p) = held.pop() {
            if p.save(ctx).await? {
                lease::release(leases, p.index, p.lease_rev).await;
                eprintln!(
                    "parapet: worker {} gives back partition {}",
                    cfg.worker, p.index
                );
            }
        }
    }
    for k in 0..cfg.partitions {
        if held.len() >= share {
            break;
        }
        let p = (offset + k) % cfg.partitions;
        if held.iter().any(|h| h.index == p) {
            continue;
        }
        if let Some(rev) = lease::take(leases, p, &cfg.worker).await? {
            match Partition::claim(
                ctx,
                p,
                rev,
                new_detector().map_err(ClusterError::Settings)?,
                sink,
            )
            .await?
            {
                Some(part) => {
                    eprintln!("parapet: worker {} detects partition {p}", cfg.worker);
                    held.push(part)
                }
                None => lease::release(leases, p, rev).await,
            }
        }
    }
    Ok(())
}
