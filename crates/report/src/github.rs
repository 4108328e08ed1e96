//! GitHub Actions workflow commands: `::error` for denied changes, `::warning` for
//! changes held for review, one line per finding.

use parapet_model::{Outcome, PlanReport};
use std::fmt::Write;

fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(r: &PlanReport) -> String {
    let mut out = String::new();
    for c in &r.changes {
        let cmd = match c.decision.outcome {
            Outcome::Deny => "error",
            Outcome::Review => "warning",
            Outcome::Allow => continue,
        };
        let title = property(&format!(
            "parapet {}: {}",
            c.decision.outcome.as_str(),
            c.change.address
        ));
        let file = property(&r.input.path);
        let policies: Vec<&str> = c.decision.policies.iter().map(|p| p.id.as_str()).collect();
        if c.findings.is_empty() {
            let reasons: Vec<&str> = c
                .decision
                .policies
                .iter()
                .map(|p| p.reason.as_str())
                .collect();
            let _ = writeln!(
                out,
                "::{cmd} file={file},title={title}::{}",
                data(&reasons.join(" "))
            );
        }
        for f in &c.findings {
            let msg = format!(
                "[{}] {} (policies: {})",
                f.severity.as_str(),
                f.summary,
                policies.join(", ")
            );
            let _ = writeln!(out, "::{cmd} file={file},title={title}::{}", data(&msg));
        }
    }
    let _ = writeln!(
        out,
        "::notice title=parapet::decision {} ({} deny, {} review, {} allow)",
        r.decision.outcome.as_str(),
        r.counts.deny,
        r.counts.review,
        r.counts.allow
    );
    out
}
