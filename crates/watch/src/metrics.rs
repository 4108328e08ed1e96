//! What a watch worker is doing, for Prometheus and for an orchestrator, on
//! `--metrics-listen`: `GET /metrics` (Prometheus text), `GET /ready` (200 once the
//! source is connected and the state restored; 503 before that and while draining after
//! SIGTERM, so traffic and rollouts wait) and `GET /healthz` (200 while the process
//! runs). Labels are fixed words: never an actor, a key or a credential.

use crate::run::Sink;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parapet_detect::Detector;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// The events/s gauge is the rate over at least this long.
const RATE_WINDOW: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Metrics {
    messages: AtomicU64,
    payloads: AtomicU64,
    skipped: AtomicU64,
    events: AtomicU64,
    alerts: AtomicU64,
    late_events: AtomicU64,
    checkpoints: AtomicU64,
    /// f64 bits.
    events_per_second: AtomicU64,
    /// Now minus the stream arrival of the newest message processed (ms); -1 unknown.
    stream_lag_ms: AtomicI64,
    /// Now minus the newest event time seen (ms); -1 before the first event.
    event_lag_ms: AtomicI64,
    held: AtomicI64,
    unacked: AtomicI64,
    identities: AtomicI64,
    windows: AtomicI64,
    incidents: AtomicI64,
    last_checkpoint_unix: AtomicI64,
    ready: AtomicBool,
    draining: AtomicBool,
    /// Where the rate window started, and the events counted then; and the detector's
    /// event count when the run started (a restored checkpoint carries an old count).
    window: Mutex<Option<(Instant, u64)>>,
    base_events: AtomicU64,
    base_alerts: AtomicU64,
    base_late: AtomicU64,
}

/// What the loop knows after a batch.
pub struct Batch {
    pub messages: usize,
    pub payloads: usize,
    /// Stream arrival (Unix ns) of the newest message in the batch.
    pub newest_arrival_ns: Option<u128>,
    /// Messages processed and not yet acknowledged (waiting for a checkpoint).
    pub unacked: usize,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

/// A [`Sink`] that also counts what was skipped.
pub struct Counted<'a> {
    pub inner: &'a mut dyn Sink,
    pub metrics: Option<&'a Metrics>,
}

impl Sink for Counted<'_> {
    fn alert(
        &mut self,
        alert: &parapet_detect::Alert,
        arrived_ns: Option<u128>,
    ) -> std::io::Result<()> {
        self.inner.alert(alert, arrived_ns)
    }
    fn skipped(&mut self, at: &str, reason: &str) {
        if let Some(m) = self.metrics {
            m.skipped();
        }
        self.inner.skipped(at, reason)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
    fn event(&mut self, e: &parapet_trail::Event, det: &parapet_detect::Detector) {
        self.inner.event(e, det)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let m = Metrics::default();
        m.stream_lag_ms.store(-1, Relaxed);
        m.event_lag_ms.store(-1, Relaxed);
        Arc::new(m)
    }

    /// The source is connected and `det` restored: the worker can take traffic.
    pub fn ready(&self, det: &Detector) {
        let s = det.stats();
        self.base_events.store(s.events, Relaxed);
        self.base_alerts.store(s.alerts, Relaxed);
        self.base_late.store(s.late_events, Relaxed);
        self.state(det);
        self.ready.store(true, Relaxed);
    }

    /// Stopping: readiness goes 503 while the last batch drains.
    pub fn draining(&self) {
        self.draining.store(true, Relaxed);
    }

    /// Ready without a detector to read from (a cluster worker once connected; its
    /// partitions' detectors come and go).
    pub fn up(&self) {
        self.ready.store(true, Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed) && !self.draining.load(Relaxed)
    }

    pub fn skipped(&self) {
        self.skipped.fetch_add(1, Relaxed);
    }

    /// Events held back (a reorder buffer waiting out lateness).
    pub fn set_held(&self, n: usize) {
        self.held.store(n as i64, Relaxed);
    }

    pub fn checkpointed(&self) {
        self.checkpoints.fetch_add(1, Relaxed);
        self.last_checkpoint_unix.store(now_ms() / 1000, Relaxed);
    }

    fn state(&self, det: &Detector) {
        let s = det.stats();
        let since = |now: u64, base: &AtomicU64| now.saturating_sub(base.load(Relaxed));
        self.events
            .store(since(s.events, &self.base_events), Relaxed);
        self.alerts
            .store(since(s.alerts, &self.base_alerts), Relaxed);
        self.late_events
            .store(since(s.late_events, &self.base_late), Relaxed);
        if s.events > 0 {
            self.event_lag_ms
                .store((now_ms() - s.max_time_ms).max(0), Relaxed);
        }
        let (identities, windows, incidents) = det.state_size();
        self.identities.store(identities as i64, Relaxed);
        self.windows.store(windows as i64, Relaxed);
        self.incidents.store(incidents as i64, Relaxed);
    }

    /// After each turn of the loop (also when nothing came, so rates fall to zero).
    pub fn batch(&self, b: &Batch, det: &Detector) {
        self.messages.fetch_add(b.messages as u64, Relaxed);
        self.payloads.fetch_add(b.payloads as u64, Relaxed);
        self.unacked.store(b.unacked as i64, Relaxed);
        if let Some(ns) = b.newest_arrival_ns {
            let lag = now_ms() - (ns / 1_000_000) as i64;
            self.stream_lag_ms.store(lag.max(0), Relaxed);
        } else if b.messages == 0 {
            // Nothing waiting: caught up with the stream.
            self.stream_lag_ms.store(0, Relaxed);
        }
        self.state(det);
        let events = self.events.load(Relaxed);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        match *w {
            Some((at, n)) if at.elapsed() >= RATE_WINDOW => {
                let rate = (events - n.min(events)) as f64 / at.elapsed().as_secs_f64();
                self.events_per_second.store(rate.to_bits(), Relaxed);
                *w = Some((Instant::now(), events));
            }
            Some(_) => {}
            None => *w = Some((Instant::now(), events)),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut one = |name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        let c = |a: &AtomicU64| a.load(Relaxed).to_string();
        let g = |a: &AtomicI64| a.load(Relaxed).to_string();
        let secs = |a: &AtomicI64| match a.load(Relaxed) {
            ms if ms < 0 => "NaN".to_string(),
            ms => format!("{}", ms as f64 / 1000.0),
        };
        one(
            "parapet_watch_messages_total",
            "counter",
            "Messages (NATS messages, SQS notifications) processed.",
            c(&self.messages),
        );
        one(
            "parapet_watch_payloads_total",
            "counter",
            "Payloads (messages, S3 objects) read.",
            c(&self.payloads),
        );
        one(
            "parapet_watch_skipped_total",
            "counter",
            "Payloads and records that could not be read.",
            c(&self.skipped),
        );
        one(
            "parapet_watch_events_total",
            "counter",
            "CloudTrail events processed since start.",
            c(&self.events),
        );
        one(
            "parapet_watch_late_events_total",
            "counter",
            "Events later than --lateness behind the newest.",
            c(&self.late_events),
        );
        one(
            "parapet_watch_alerts_total",
            "counter",
            "Alerts raised since start.",
            c(&self.alerts),
        );
        one(
            "parapet_watch_checkpoints_total",
            "counter",
            "Checkpoints saved (each acknowledges what it covers).",
            c(&self.checkpoints),
        );
        one(
            "parapet_watch_events_per_second",
            "gauge",
            "Events processed per second over the last few seconds.",
            format!("{}", f64::from_bits(self.events_per_second.load(Relaxed))),
        );
        one("parapet_watch_stream_lag_seconds", "gauge", "Now minus the stream arrival time of the newest message processed (0 when none waits).", secs(&self.stream_lag_ms));
        one(
            "parapet_watch_event_lag_seconds",
            "gauge",
            "Now minus the newest CloudTrail event time seen.",
            secs(&self.event_lag_ms),
        );
        one(
            "parapet_watch_held_events",
            "gauge",
            "Events held back waiting out lateness.",
            g(&self.held),
        );
        one(
            "parapet_watch_unacked_messages",
            "gauge",
            "Messages processed and waiting for a checkpoint to be acknowledged.",
            g(&self.unacked),
        );
        let _ = writeln!(
            out,
            "# HELP parapet_watch_state_entries Detector state held, by kind.\n# TYPE parapet_watch_state_entries gauge"
        );
        for (kind, v) in [
            ("identities", &self.identities),
            ("windows", &self.windows),
            ("incidents", &self.incidents),
        ] {
            let _ = writeln!(
                out,
                "parapet_watch_state_entries{{kind=\"{kind}\"}} {}",
                v.load(Relaxed)
            );
        }
        let mut one = |name: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        one(
            "parapet_watch_last_checkpoint_timestamp_seconds",
            "When the last checkpoint was saved (Unix seconds; 0 never).",
            g(&self.last_checkpoint_unix),
        );
        one(
            "parapet_watch_ready",
            "1 when the worker takes traffic (connected, state restored, not draining).",
            u8::from(self.is_ready()).to_string(),
        );
        out
    }
}

fn reply(status: StatusCode, kind: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = kind.parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn answer(m: &Metrics, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => reply(StatusCode::OK, "text/plain; version=0.0.4", m.render()),
        "/ready" if m.is_ready() => reply(StatusCode::OK, TEXT, "ready\n".into()),
        "/ready" if m.draining.load(Relaxed) => {
            reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, "draining\n".into())
        }
        "/ready" => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, "starting\n".into()),
        "/healthz" => reply(StatusCode::OK, TEXT, "ok\n".into()),
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "try /metrics, /ready or /healthz\n".into(),
        ),
    }
}

/// Serve `m` on `listener` until the task is dropped. A connection's failure is its own.
pub async fn serve(listener: TcpListener, m: Arc<Metrics>) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of descriptors and the like: wait rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let m = m.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let r = answer(&m, &req);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Serve `m` on `addr` from a thread and runtime of its own, so `/metrics` and
/// `/ready` answer even while the watch loop is busy or blocked on its output.
pub fn serve_in_thread(addr: &str, m: Arc<Metrics>) -> std::io::Result<std::net::SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                if let Ok(l) = TcpListener::from_std(std_listener) {
                    let _ = serve(l, m).await;
                }
            })
        })?;
    Ok(local)
}

/// Set `stop` (and mark `m` draining) on SIGTERM or SIGINT, so the loop finishes the
/// batch in hand, saves its checkpoint, acknowledges and returns.
pub fn stop_on_signals(
    stop: Arc<AtomicBool>,
    m: Option<Arc<Metrics>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if let Some(m) = &m {
            m.draining();
        }
        stop.store(true, Relaxed);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_lags_and_readiness() {
        let det = Detector::new(parapet_detect::Config::builtin()).unwrap();
        let m = Metrics::new();
        assert!(!m.is_ready());
        assert!(m.render().contains("parapet_watch_stream_lag_seconds NaN"));
        m.ready(&det);
        let sent = (now_ms() - 2500) as u128 * 1_000_000;
        m.batch(
            &Batch {
                messages: 3,
                payloads: 4,
                newest_arrival_ns: Some(sent),
                unacked: 3,
            },
            &det,
        );
        m.skipped();
        m.set_held(7);
        m.checkpointed();
        let t = m.render();
        for want in [
            "parapet_watch_messages_total 3",
            "parapet_watch_payloads_total 4",
            "parapet_watch_skipped_total 1",
            "parapet_watch_held_events 7",
            "parapet_watch_unacked_messages 3",
            "parapet_watch_checkpoints_total 1",
            "parapet_watch_state_entries{kind=\"identities\"} 0",
            "parapet_watch_ready 1",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
        let lag: f64 = t
            .lines()
            .find_map(|l| l.strip_prefix("parapet_watch_stream_lag_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(lag >= 2.5, "{lag}");
        m.draining();
        assert!(!m.is_ready());
        assert!(m.render().contains("parapet_watch_ready 0"));
    }
}
