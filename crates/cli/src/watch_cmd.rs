use crate::trail_cmd::{alert_line, DetectArgs};
use anyhow::{Context, Result};
use clap::Args;
use parapet_detect::sigma::rule::parse_timespan;
use parapet_trail::nats::Consumer;
use parapet_trail::sqs::Queue;
use parapet_trail::{Item, Limits};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Watch a stream of CloudTrail and raise alerts as events arrive.
///
/// Sources: a NATS JetStream subject through a durable pull consumer (stream and consumer
/// are created when missing; a restart resumes where the consumer stopped), or, with
/// --sqs, an SQS queue of S3 object notifications (direct, SNS-wrapped or EventBridge):
/// each object named is fetched from S3 and read, and the message deleted once
/// processed. Credentials for SQS/S3 come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
/// and AWS_SESSION_TOKEN. Payloads may hold CloudTrail in any shape `trail scan` reads:
/// one record, JSON lines, `{"Records": [...]}`, gzip, EventBridge envelopes. Events are
/// processed as they come
/// (no reordering, so alerts are immediate); correlation windows accept events up to
/// --lateness late. Alerts are written as they are raised; incidents when the watch ends.
///
/// With --checkpoint the detector's state is saved every --checkpoint-every and messages
/// are acknowledged only after a save, so a crash replays at most that interval and
/// forgets nothing acknowledged. Without it, each batch is acknowledged once processed.
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
    /// AWS region of the queue and bucket.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Send SQS and S3 requests here instead of AWS (moto, LocalStack, VPC endpoints).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// NATS server with JetStream.
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// Subject CloudTrail is published on.
    #[arg(long, default_value = "cloudtrail")]
    pub subject: String,
    /// JetStream stream that holds the subject (created over --subject when missing).
    #[arg(long, default_value = "CLOUDTRAIL")]
    pub stream: String,
    /// Durable consumer name.
    #[arg(long, default_value = "parapet")]
    pub durable: String,
    /// End after this long without a message (`30s`, `5m`); by default run until stopped.
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,
    /// How often to save --checkpoint and acknowledge what it covers.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub checkpoint_every: String,
    /// On exit, print alert latency percentiles: from a message's arrival on the stream
    /// (its JetStream timestamp) to its alert being written.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub detect: DetectArgs,
}

/// The stream timestamp (ns) in a JetStream ack subject:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` or the
/// longer form with domain and account hash.
fn stream_time_ns(reply: Option<&str>) -> Option<u128> {
    let parts: Vec<&str> = reply?.split('.').collect();
    let i = match parts.len() {
        9 => 7,
        n if n >= 11 => 9,
        _ => return None,
    };
    parts[i].parse().ok()
}

/// One payload to read: a NATS message or an S3 object.
struct Unit {
    name: String,
    payload: Result<Vec<u8>, String>,
    arrived_ns: Option<u128>,
}

enum Source {
    Nats(Consumer),
    /// The queue and the receipts of messages processed but not yet deleted.
    Sqs(Queue, Vec<String>),
}

impl Source {
    fn fetch(&mut self, subject: &str) -> Result<Vec<Unit>> {
        match self {
            Source::Nats(c) => {
                let msgs = c.fetch(256, Duration::from_millis(500))?;
                let mut out = Vec::with_capacity(msgs.len());
                for m in msgs {
                    c.will_ack(&m);
                    out.push(Unit {
                        name: format!("nats:{subject}"),
                        arrived_ns: stream_time_ns(m.reply.as_deref()),
                        payload: Ok(m.payload),
                    });
                }
                Ok(out)
            }
            Source::Sqs(q, pending) => {
                let mut out = Vec::new();
                for d in q.receive(Duration::from_secs(1))? {
                    let arrived_ns = d.sent_ms.map(|ms| u128::from(ms) * 1_000_000);
                    if let Some(p) = d.problem {
                        out.push(Unit {
                            name: "sqs message".into(),
                            payload: Err(p),
                            arrived_ns,
                        });
                    }
                    // A message whose object could not be fetched stays on the queue
                    // (SQS redelivers it, or moves it to a dead-letter queue); one that
                    // can never be read is removed once counted.
                    let fetched = d.objects.iter().all(|o| o.body.is_ok());
                    for o in d.objects {
                        out.push(Unit {
                            name: format!("s3://{}/{}", o.bucket, o.key),
                            payload: o.body,
                            arrived_ns,
                        });
                    }
                    if fetched {
                        pending.push(d.receipt);
                    }
                }
                Ok(out)
            }
        }
    }

    /// Acknowledge (NATS) or delete (SQS) everything processed so far.
    fn ack(&mut self) -> Result<()> {
        match self {
            Source::Nats(c) => Ok(c.ack_pending()?),
            Source::Sqs(q, pending) => {
                for r in std::mem::take(pending) {
                    q.delete(&r)?;
                }
                Ok(())
            }
        }
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn watch(a: WatchArgs) -> Result<u8> {
    let d = &a.detect;
    let idle = a
        .until_idle
        .as_deref()
        .map(parse_timespan)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--until-idle")?
        .map(|ms| Duration::from_millis(ms as u64));
    let every = Duration::from_millis(
        parse_timespan(&a.checkpoint_every)
            .map_err(anyhow::Error::msg)
            .context("--checkpoint-every")? as u64,
    );
    let (mut det, mut out) = d.start()?;
    let mut source = match &a.sqs {
        Some(url) => Source::Sqs(
            Queue::new(url, &a.region, a.endpoint_url.as_deref())?,
            Vec::new(),
        ),
        None => Source::Nats(Consumer::open(&a.nats, &a.stream, &a.subject, &a.durable)?),
    };
    let (mut last_msg, mut last_save) = (Instant::now(), Instant::now());
    let (mut skipped, mut latencies) = (0u64, Vec::<u128>::new());
    loop {
        let batch = source.fetch(&a.subject)?;
        if batch.is_empty() {
            if idle.is_some_and(|i| last_msg.elapsed() >= i) {
                break;
            }
            continue;
        }
        last_msg = Instant::now();
        for unit in &batch {
            let payload = match &unit.payload {
                Ok(p) => p,
                Err(reason) => {
                    d.skipped(&unit.name, reason, &mut skipped);
                    continue;
                }
            };
            parapet_trail::read_bytes(&unit.name, payload, Limits::default(), &mut |i| match i {
                Item::Event(e) => {
                    for alert in det.process(&e) {
                        let _ = writeln!(out, "{}", alert_line(&alert, d.format));
                        if let Some(t) = unit.arrived_ns {
                            // Written to the buffer; flushed with the batch below.
                            latencies.push(now_ns().saturating_sub(t));
                        }
                    }
                }
                Item::Skipped { at, reason } => d.skipped(&at, &reason, &mut skipped),
            });
        }
        out.flush().context("writing alerts")?;
        match &d.checkpoint {
            None => source.ack()?,
            Some(cp) if last_save.elapsed() >= every => {
                det.save(cp)?;
                source.ack()?;
                last_save = Instant::now();
            }
            Some(_) => {}
        }
    }
    // The final checkpoint is saved before what it covers is acknowledged.
    let code = d.finish(&det, &mut out, skipped)?;
    source.ack()?;
    if a.stats && !latencies.is_empty() {
        latencies.sort_unstable();
        let p =
            |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
        eprintln!(
            "parapet: alert latency from stream arrival: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} alerts",
            p(0.5),
            p(0.99),
            p(1.0),
            latencies.len()
        );
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ack_subjects_carry_the_stream_time() {
        assert_eq!(
            super::stream_time_ns(Some("$JS.ACK.S.c.1.2.3.1700000000000000000.0")),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            super::stream_time_ns(Some("$JS.ACK.dom.acc.S.c.1.2.3.1700000000000000000.0.x")),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(super::stream_time_ns(Some("_INBOX.x")), None);
    }
}
