//! One partition held by this worker: its detector, its consumer, what awaits a save.

use super::{state, ClusterError};
use crate::run::Sink;
use async_nats::jetstream::{self, consumer::pull, message::Acker, stream};
use async_nats::HeaderMap;
use futures_util::{FutureExt, StreamExt};
use parapet_detect::{Alert, Detector};
use parapet_trail::{Item, Limits};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What every partition of a worker shares.
pub struct Ctx {
    pub js: jetstream::Context,
    pub parts: stream::Stream,
    pub states: jetstream::kv::Store,
    pub prefix: String,
    pub alerts_subject: String,
    pub name: String,
    pub scratch: PathBuf,
    /// How long a partition message may wait for the save that acknowledges it before
    /// the server sends it again: past a checkpoint interval, so a redelivery means
    /// this worker stalled, not that it is saving seldom.
    pub part_ack_wait: Duration,
}

pub struct Partition {
    pub index: u32,
    pub lease_rev: u64,
    pub detector: Detector,
    pub last_save: Instant,
    state_rev: u64,
    messages: pull::Stream,
    pending: Vec<Acker>,
    /// The last sequence processed, and the last one the saved state covers.
    last_seq: u64,
    saved_seq: u64,
}

pub enum Step {
    Idle,
    /// Messages processed; how many of their alerts were already raised (a replay).
    Worked(u64),
    /// The consumer went away: another worker took the partition.
    Lost,
}

/// At most this many messages per step, so one busy partition does not starve others.
const STEP: usize = 1024;

/// Messages awaiting a save (and so their acknowledgement) at most; a partition holding
/// half of this saves at once, so the server never stops delivering to it.
pub const MAX_PENDING: usize = 100_000;

/// An alert's identity: the same rule on the same events over the same times. A replay
/// from a checkpoint raises alerts with the same ids.
pub fn alert_id(a: &Alert) -> String {
    let mut h = Sha256::new();
    for part in [a.rule_id.as_str(), a.kind.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for e in &a.event_ids {
        h.update(e.as_bytes());
        h.update([0]);
    }
    h.update(a.first_ms.to_be_bytes());
    h.update(a.last_ms.to_be_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Partition {
    /// Take over partition `p` (its lease is held): load its state, fence out any
    /// previous owner, and read its records from the first one the state does not cover.
    /// None: another worker wrote the state in between.
    pub async fn claim(
        ctx: &Ctx,
        p: u32,
        lease_rev: u64,
        mut detector: Detector,
        _sink: &mut dyn Sink,
    ) -> Result<Option<Partition>, ClusterError> {
        let loaded = state::load(&ctx.states, p).await?;
        if let Some(cp) = &loaded.checkpoint {
            state::restore(&mut detector, &ctx.scratch, p, cp)?;
        }
        // Writing the state back moves its revision: a previous owner still running
        // fails its next save and stops.
        let bytes = state::checkpoint_bytes(&detector, &ctx.scratch, p)?;
        let state_rev =
            match state::save(&ctx.states, p, &bytes, loaded.last_seq, loaded.revision).await? {
                state::Saved::Ok(rev) => rev,
                state::Saved::Lost => return Ok(None),
            };
        // A fresh consumer. The partition stream is a work queue: what the state covers
        // and was acknowledged is gone, so delivering all (the only policy a work queue
        // allows) starts at the first record the saved state may not cover. Records it
        // covers but that were not yet acknowledged (the owner died between saving and
        // acknowledging) are skipped by sequence in `step`. The replay is in stream
        // order, so it raises the alerts the previous owner raised, with the same ids.
        let durable = format!("{}_part_{p}", ctx.name);
        let _ = ctx.parts.delete_consumer(&durable).await;
        let deliver_policy = jetstream::consumer::DeliverPolicy::All;
        let consumer = ctx
            .parts
            .create_consumer(pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                deliver_policy,
                filter_subject: format!("{}.{p}", ctx.prefix),
                ack_wait: ctx.part_ack_wait,
                max_ack_pending: MAX_PENDING as i64,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                ClusterError::Nats(crate::nats::NatsError::Consumer {
                    name: durable.clone(),
                    source: Box::new(e),
                })
            })?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(STEP)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| {
                ClusterError::Nats(crate::nats::NatsError::Consumer {
                    name: durable,
                    source: Box::new(e),
                })
            })?;
        Ok(Some(Partition {
            index: p,
            lease_rev,
            detector,
            last_save: Instant::now(),
            state_rev,
            messages,
            pending: Vec::new(),
            last_seq: loaded.last_seq,
            saved_seq: loaded.last_seq,
        }))
    }

    /// Process what has arrived, without waiting.
    pub async fn step(&mut self, ctx: &Ctx, sink: &mut dyn Sink) -> Result<Step, ClusterError> {
        let mut got = Vec::new();
        while got.len() < STEP {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => got.push(m),
                Some(Some(Err(e))) if e.kind() == pull::MessagesErrorKind::MissingHeartbeat => {
                    break
                }
                Some(Some(Err(_))) | Some(None) => return Ok(Step::Lost),
                None => break,
            }
        }
        if got.is_empty() {
            return Ok(Step::Idle);
        }
        let mut dups = 0;
        let mut fresh = false;
        for m in got {
            let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
            let arrived_ns = m
                .info()
                .ok()
                .and_then(|i| u128::try_from(i.published.unix_timestamp_nanos()).ok());
            let (m, acker) = m.split();
            self.pending.push(acker);
            if seq <= self.last_seq {
                // Covered by the saved state (its owner saved but had not yet
                // acknowledged), or a redelivery of a message this worker processed and
                // has not yet saved: acknowledged with the next save, never processed
                // twice, and not work (a worker that only sees redeliveries is idle).
                continue;
            }
            fresh = true;
            self.last_seq = seq;
            let mut alerts = Vec::new();
            let name = format!("partition {}", self.index);
            let det = &mut self.detector;
            parapet_trail::read_bytes(&name, &m.payload, Limits::default(), &mut |i| match i {
                Item::Event(e) => alerts.extend(det.process(&e)),
                Item::Skipped { at, reason } => sink.skipped(&at, &reason),
            });
            for a in alerts {
                if publish_alert(ctx, &a).await? {
                    sink.alert(&a, arrived_ns).map_err(ClusterError::Output)?;
                } else {
                    dups += 1;
                }
            }
        }
        Ok(if fresh {
            Step::Worked(dups)
        } else {
            Step::Idle
        })
    }

    /// True when enough messages await a save that the server would soon stop sending.
    pub fn must_save(&self) -> bool {
        self.pending.len() >= MAX_PENDING / 2
    }

    /// Save the state and acknowledge what it covers. False: the partition was lost
    /// (another worker wrote its state); nothing was acknowledged.
    pub async fn save(&mut self, ctx: &Ctx) -> Result<bool, ClusterError> {
        self.last_save = Instant::now();
        if self.last_seq > self.saved_seq {
            let bytes = state::checkpoint_bytes(&self.detector, &ctx.scratch, self.index)?;
            match state::save(
                &ctx.states,
                self.index,
                &bytes,
                self.last_seq,
                self.state_rev,
            )
            .await?
            {
                state::Saved::Ok(rev) => self.state_rev = rev,
                state::Saved::Lost => return Ok(false),
            }
            self.saved_seq = self.last_seq;
        }
        for a in self.pending.drain(..) {
            a.ack().await.map_err(|e| ClusterError::Publish {
                what: format!("acknowledging partition {}", self.index),
                source: e,
            })?;
        }
        Ok(true)
    }
}

/// Publish an alert once: true when this is its first publication.
async fn publish_alert(ctx: &Ctx, a: &Alert) -> Result<bool, ClusterError> {
    let body = serde_json::to_vec(a).map_err(|e| ClusterError::Publish {
        what: "alert as JSON".into(),
        source: Box::new(e),
    })?;
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", alert_id(a).as_str());
    let err = |e: Box<dyn std::error::Error + Send + Sync>| ClusterError::Publish {
        what: format!("alert to {}", ctx.alerts_subject),
        source: e,
    };
    let ack = ctx
        .js
        .publish_with_headers(ctx.alerts_subject.clone(), h, body.into())
        .await
        .map_err(|e| err(Box::new(e)))?
        .await
        .map_err(|e| err(Box::new(e)))?;
    Ok(!ack.duplicate)
}
