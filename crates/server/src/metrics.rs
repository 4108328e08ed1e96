//! Prometheus metrics, kept as atomics: no registry, no locks on the decide path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the decide-latency histogram buckets.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
pub struct Metrics {
    pub decisions_allow: AtomicU64,
    pub decisions_review: AtomicU64,
    pub decisions_deny: AtomicU64,
    pub decision_errors: AtomicU64,
    pub approvals: AtomicU64,
    pub rejections: AtomicU64,
    pub webhooks_accepted: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub notifications_failed: AtomicU64,
    latency_buckets: [AtomicU64; 10],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    pub fn observe_decision(&self, outcome: &str, seconds: f64) {
        match outcome {
            "allow" => &self.decisions_allow,
            "review" => &self.decisions_review,
            _ => &self.decisions_deny,
        }
        .fetch_add(1, Ordering::Relaxed);
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        s.push_str("# HELP parapet_decisions_total Decisions made, by outcome.\n# TYPE parapet_decisions_total counter\n");
        for (o, v) in [
            ("allow", &self.decisions_allow),
            ("review", &self.decisions_review),
            ("deny", &self.decisions_deny),
        ] {
            let _ = writeln!(s, "parapet_decisions_total{{outcome=\"{o}\"}} {}", g(v));
        }
        for (name, help, v) in [
            (
                "parapet_decision_errors_total",
                "Decision requests that failed (answered as deny).",
                &self.decision_errors,
            ),
            (
                "parapet_approvals_total",
                "Approvals recorded.",
                &self.approvals,
            ),
            (
                "parapet_rejections_total",
                "Rejections recorded.",
                &self.rejections,
            ),
            (
                "parapet_webhooks_accepted_total",
                "Incident webhooks accepted.",
                &self.webhooks_accepted,
            ),
            (
                "parapet_webhooks_rejected_total",
                "Incident webhooks rejected (forged, replayed, stale).",
                &self.webhooks_rejected,
            ),
            (
                "parapet_notifications_sent_total",
                "Reviews posted to the chat webhook.",
                &self.notifications_sent,
            ),
            (
                "parapet_notifications_failed_total",
                "Chat notifications that could not be delivered.",
                &self.notifications_failed,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                g(v)
            );
        }
        s.push_str("# HELP parapet_decide_seconds Time to judge and record a decision.\n# TYPE parapet_decide_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "parapet_decide_seconds_bucket{{le=\"{b}\"}} {}",
                g(&self.latency_buckets[i])
            );
        }
        let _ = writeln!(
            s,
            "parapet_decide_seconds_bucket{{le=\"+Inf\"}} {}",
            g(&self.latency_count)
        );
        let _ = writeln!(
            s,
            "parapet_decide_seconds_sum {}",
            g(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(s, "parapet_decide_seconds_count {}", g(&self.latency_count));
        s
    }
}
