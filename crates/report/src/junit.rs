//! JUnit XML: one test case per change; deny and review are failures (with the
//! type saying which), so CI dashboards show what needs attention.

use parapet_model::{Outcome, PlanReport};
use std::fmt::Write;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(r: &PlanReport) -> String {
    let failures = r.counts.deny + r.counts.review;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"parapet\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        r.counts.changes
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"parapet plan check {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        escape(&r.input.path),
        r.counts.changes
    );
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(
        out,
        "      <property name=\"actor\" value=\"{}\"/>",
        escape(&r.actor.to_string())
    );
    let _ = writeln!(
        out,
        "      <property name=\"decision\" value=\"{}\"/>",
        r.decision.outcome.as_str()
    );
    let _ = writeln!(out, "    </properties>");
    for c in &r.changes {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&c.change.resource_type),
            escape(&c.change.address)
        );
        if c.decision.outcome == Outcome::Allow {
            let _ = writeln!(out, "/>");
            continue;
        }
        let _ = writeln!(out, ">");
        let headline = c
            .findings
            .first()
            .map(|f| f.summary.clone())
            .or_else(|| c.decision.policies.first().map(|p| p.reason.clone()))
            .unwrap_or_default();
        let mut body = String::new();
        for f in &c.findings {
            let _ = writeln!(body, "[{}] {}: {}", f.severity.as_str(), f.id, f.summary);
        }
        for p in &c.decision.policies {
            let _ = writeln!(body, "policy {}: {}", p.id, p.reason);
        }
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            c.decision.outcome.as_str(),
            escape(&format!("{}: {headline}", c.decision.outcome.as_str())),
            escape(&body)
        );
        let _ = writeln!(out, "    </testcase>");
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}
