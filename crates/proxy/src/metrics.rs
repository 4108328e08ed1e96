//! Counters and latency histograms in Prometheus text format, served at
//! `GET /_parapet/metrics` on the proxy's listener (unsigned requests only) and on
//! `--metrics-listen` when given. Labels are fixed words: never an actor, a key, a
//! parameter or a credential.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a request ended, one count each.
pub const OUTCOMES: &[&str] = &[
    "read",            // pure read allowed, forwarded without a store write
    "allow",           // judged write allowed and forwarded
    "approved",        // held or retried call approved and forwarded
    "deny",            // denied by policy (or freeze)
    "review_timeout",  // not approved within the hold: answered with the approval URL
    "rejected",        // a reviewer rejected it (or it expired) while held
    "dry_run_blocked", // dry-run: a write answered with what the decision would be
    "observed",        // observe: forwarded whatever the decision
    "refused",         // refused before judging (see the refusal reasons)
    "error",           // the proxy or the upstream failed
];

/// Why a request was refused before it was judged.
pub const REFUSALS: &[&str] = &[
    "auth",
    "replay",
    "body",
    "limits",
    "framing",
    "unknown_operation",
    "bad_request",
    "frozen",
    "region",
    "credentials",
];

pub const UPSTREAM: &[&str] = &["ok", "connect_error", "timeout", "error"];

const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

pub struct Metrics {
    outcomes: Vec<AtomicU64>,
    refusals: Vec<AtomicU64>,
    upstream: Vec<AtomicU64>,
    judge: Histogram,
    total: Histogram,
    held: AtomicI64,
    in_flight: AtomicI64,
    connections: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Metrics {
            outcomes: zeros(OUTCOMES.len()),
            refusals: zeros(REFUSALS.len()),
            upstream: zeros(UPSTREAM.len()),
            judge: Histogram::new(),
            total: Histogram::new(),
            held: AtomicI64::new(0),
            in_flight: AtomicI64::new(0),
            connections: AtomicI64::new(0),
        }
    }
}

fn bump(names: &[&str], counters: &[AtomicU64], name: &str) {
    // An unknown label is a bug in this crate; it counts under the last label rather
    // than panicking on a request path.
    let i = names
        .iter()
        .position(|n| *n == name)
        .unwrap_or(names.len() - 1);
    counters[i].fetch_add(1, Relaxed);
}

/// Decrements a gauge when dropped.
pub struct GaugeGuard<'a>(&'a AtomicI64);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    pub fn outcome(&self, name: &str) {
        bump(OUTCOMES, &self.outcomes, name);
    }

    pub fn refused(&self, reason: &str) {
        bump(REFUSALS, &self.refusals, reason);
        self.outcome("refused");
    }

    pub fn upstream(&self, result: &str) {
        bump(UPSTREAM, &self.upstream, result);
    }

    pub fn judged(&self, d: Duration) {
        self.judge.observe(d);
    }

    /// Time from the request's head to the response's head.
    pub fn answered(&self, d: Duration) {
        self.total.observe(d);
    }

    pub fn holding(&self) -> GaugeGuard<'_> {
        self.held.fetch_add(1, Relaxed);
        GaugeGuard(&self.held)
    }

    pub fn in_flight(&self) -> GaugeGuard<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        GaugeGuard(&self.in_flight)
    }

    pub fn connection(&self) -> GaugeGuard<'_> {
        self.connections.fetch_add(1, Relaxed);
        GaugeGuard(&self.connections)
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut family =
            |name: &str, help: &str, label: &str, names: &[&str], counters: &[AtomicU64]| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for (n, c) in names.iter().zip(counters) {
                    let _ = writeln!(out, "{name}{{{label}=\"{n}\"}} {}", c.load(Relaxed));
                }
            };
        family(
            "parapet_proxy_requests_total",
            "Requests by how they ended.",
            "outcome",
            OUTCOMES,
            &self.outcomes,
        );
        family(
            "parapet_proxy_refusals_total",
            "Requests refused before they were judged, by reason.",
            "reason",
            REFUSALS,
            &self.refusals,
        );
        family(
            "parapet_proxy_upstream_total",
            "Requests sent upstream, by result.",
            "result",
            UPSTREAM,
            &self.upstream,
        );
        self.judge.render(
            &mut out,
            "parapet_proxy_judge_seconds",
            "Time to judge a call (gate, and the store for writes).",
        );
        self.total.render(
            &mut out,
            "parapet_proxy_response_seconds",
            "Time from a request's head to its response's head (holds included).",
        );
        for (name, help, g) in [
            (
                "parapet_proxy_held",
                "Calls held waiting for approval now.",
                &self.held,
            ),
            (
                "parapet_proxy_in_flight",
                "Requests being handled now.",
                &self.in_flight,
            ),
            (
                "parapet_proxy_connections",
                "Client connections open now.",
                &self.connections,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                g.load(Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.outcome("allow");
        m.refused("replay");
        m.upstream("timeout");
        m.judged(Duration::from_micros(300));
        let _g = m.holding();
        let text = m.render();
        assert!(
            text.contains("parapet_proxy_requests_total{outcome=\"allow\"} 1"),
            "{text}"
        );
        assert!(text.contains("parapet_proxy_requests_total{outcome=\"refused\"} 1"));
        assert!(text.contains("parapet_proxy_refusals_total{reason=\"replay\"} 1"));
        assert!(text.contains("parapet_proxy_upstream_total{result=\"timeout\"} 1"));
        assert!(text.contains("parapet_proxy_judge_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("parapet_proxy_judge_seconds_bucket{le=\"0.00025\"} 0"));
        assert!(text.contains("parapet_proxy_held 1"));
        drop(_g);
        assert!(m.render().contains("parapet_proxy_held 0"));
    }
}
