//! The watch loop: fetch, detect, write alerts, checkpoint, then acknowledge.

use crate::source::Source;
use parapet_detect::{Alert, Detector};
use parapet_trail::{Item, Limits};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("watch source")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("detector")]
    Detect(#[from] parapet_detect::DetectError),
    #[error("writing alerts")]
    Output(#[source] std::io::Error),
}

/// Where alerts and skipped payloads go.
pub trait Sink {
    /// An alert, and when the message that raised it reached the stream (Unix ns).
    fn alert(&mut self, alert: &Alert, arrived_ns: Option<u128>) -> std::io::Result<()>;
    /// A payload or record that could not be read (counted, never fatal).
    fn skipped(&mut self, at: &str, reason: &str);
    /// The end of a batch: make what was written visible.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Every event, after the detector saw it and before its alerts are handed on
    /// (`--auto-pin` reads people's changes, `--freeze-agents` who made the call).
    fn event(&mut self, _e: &parapet_trail::Event, _det: &Detector) {}
}

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// End after this long without a message; None: run until stopped.
    pub idle: Option<Duration>,
    /// Where the detector state is saved; None: acknowledge each batch once processed.
    pub checkpoint: Option<PathBuf>,
    /// How often to save the checkpoint and acknowledge what it covers.
    pub checkpoint_every: Duration,
    /// Set to end the loop after the batch in hand (drain): the state is saved and
    /// what it covers acknowledged before [`run`] returns.
    pub stop: Arc<AtomicBool>,
    /// Counters and readiness for `--metrics-listen` (see [`crate::metrics`]).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            idle: None,
            checkpoint: None,
            checkpoint_every: Duration::from_secs(10),
            stop: Arc::new(AtomicBool::new(false)),
            metrics: None,
        }
    }
}

/// How long one fetch waits for a message (and so how quickly idle and stop are seen).
const POLL: Duration = Duration::from_millis(500);

/// Read `source` into `det` until idle or stopped. Messages are acknowledged only after
/// the checkpoint that covers them is saved, so a crash replays at most one checkpoint
/// interval and forgets nothing acknowledged. The final checkpoint is saved and
/// acknowledged before this returns.
pub async fn run<S: Source>(
    source: &mut S,
    det: &mut Detector,
    opts: &Options,
    sink: &mut dyn Sink,
) -> Result<(), RunError> {
    let src = |e: S::Error| RunError::Source(Box::new(e));
    let (mut last_msg, mut last_save) = (Instant::now(), Instant::now());
    let mut pending: Vec<S::Token> = Vec::new();
    let metrics = opts.metrics.as_deref();
    if let Some(m) = metrics {
        m.ready(det);
    }
    let mut counted = crate::metrics::Counted {
        inner: sink,
        metrics,
    };
    let sink: &mut dyn Sink = &mut counted;
    while !opts.stop.load(Ordering::Relaxed) {
        let batch = source.fetch(POLL).await.map_err(src)?;
        let mut seen = crate::metrics::Batch {
            messages: batch.len(),
            payloads: batch.iter().map(|d| d.payloads.len()).sum(),
            newest_arrival_ns: batch
                .iter()
                .flat_map(|d| d.payloads.iter().filter_map(|p| p.arrived_ns))
                .max(),
            unacked: 0,
        };
        if batch.is_empty() {
            if opts.idle.is_some_and(|i| last_msg.elapsed() >= i) {
                break;
            }
        } else {
            last_msg = Instant::now();
        }
        for d in batch {
            for p in &d.payloads {
                feed(det, p, sink).map_err(RunError::Output)?;
            }
            pending.extend(d.token);
        }
        sink.flush().map_err(RunError::Output)?;
        match &opts.checkpoint {
            None => source
                .ack(std::mem::take(&mut pending))
                .await
                .map_err(src)?,
            Some(cp) if last_save.elapsed() >= opts.checkpoint_every && !pending.is_empty() => {
                det.save(cp)?;
                source
                    .ack(std::mem::take(&mut pending))
                    .await
                    .map_err(src)?;
                last_save = Instant::now();
                if let Some(m) = metrics {
                    m.checkpointed();
                }
            }
            Some(_) => {}
        }
        if let Some(m) = metrics {
            seen.unacked = pending.len();
            m.batch(&seen, det);
        }
    }
    if let Some(m) = metrics {
        m.draining();
    }
    if let Some(cp) = &opts.checkpoint {
        det.save(cp)?;
        if let Some(m) = metrics {
            m.checkpointed();
        }
    }
    source.ack(pending).await.map_err(src)
}

/// One payload's events through the detector.
pub fn feed(
    det: &mut Detector,
    p: &crate::source::Payload,
    sink: &mut dyn Sink,
) -> std::io::Result<()> {
    let body = match &p.body {
        Ok(b) => b,
        Err(reason) => {
            sink.skipped(&p.name, reason);
            return Ok(());
        }
    };
    let mut res = Ok(());
    parapet_trail::read_bytes(&p.name, body, Limits::default(), &mut |i| match i {
        Item::Event(e) => {
            let alerts = det.process(&e);
            sink.event(&e, det);
            for alert in alerts {
                if res.is_ok() {
                    res = sink.alert(&alert, p.arrived_ns);
                }
            }
        }
        Item::Skipped { at, reason } => sink.skipped(&at, &reason),
    });
    res
}
