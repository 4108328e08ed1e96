//! Text and JSON for a single API call's decision.

use crate::text::{duration, TextOptions};
use parapet_model::{CallReport, Outcome};
use std::fmt::Write;

pub fn render_call(r: &CallReport, json: bool, opts: &TextOptions) -> String {
    if json {
        let mut s = serde_json::to_string_pretty(r).expect("report serialises");
        s.push('\n');
        return s;
    }
    let paint = |code: &str, s: &str| {
        if opts.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let level = r.access_level.unwrap_or("not in the catalog");
    let _ = writeln!(
        out,
        "{} {} on {} ({level}) by {}",
        paint("1", "parapet call check"),
        r.action,
        r.resource,
        r.actor
    );
    if let Some(i) = &r.incident {
        let _ = writeln!(out, "incident {i} open");
    }
    for f in &r.findings {
        let _ = writeln!(out, "  {:<8} {}", f.severity.as_str(), f.summary);
        let _ = writeln!(out, "           {}", paint("2", &f.explanation));
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "  {}", paint("2", "no effects parapet knows of"));
    }
    for p in r
        .decision
        .policies
        .iter()
        .filter(|p| p.outcome == r.decision.outcome && p.outcome != Outcome::Allow)
    {
        let _ = writeln!(out, "  {} {}: {}", paint("2", "policy"), p.id, p.reason);
    }
    for e in &r.decision.errors {
        let _ = writeln!(out, "  error {e}");
    }
    for n in &r.notes {
        let _ = writeln!(out, "{} {n}", paint("2", "note:"));
    }
    let verdict = match r.decision.outcome {
        Outcome::Deny => paint("1;31", "DENY"),
        Outcome::Review => paint("1;33", "REVIEW"),
        Outcome::Allow => paint("1;32", "ALLOW"),
    };
    let extra = match r.decision.approval {
        Some(a) if a.delay_seconds > 0 => format!(
            " (needs {} approver(s), then a {} cooling-off)",
            a.approvers,
            duration(a.delay_seconds)
        ),
        Some(a) => format!(" (needs {} approver(s))", a.approvers),
        None => String::new(),
    };
    let _ = writeln!(out, "Decision: {verdict}{extra}");
    out
}
