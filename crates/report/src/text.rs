//! The human report: denials first, then reviews, then allowed changes with findings;
//! quiet changes are counted, not listed (unless verbose).

use parapet_model::{ChangeKind, DecidedChange, Outcome, PlanReport, Severity};
use std::fmt::Write;

#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    pub color: bool,
    /// List every change, including allowed ones without findings.
    pub verbose: bool,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn outcome(&self, o: Outcome) -> String {
        match o {
            Outcome::Deny => self.wrap("1;31", "DENY  "),
            Outcome::Review => self.wrap("1;33", "REVIEW"),
            Outcome::Allow => self.wrap("1;32", "ALLOW "),
        }
    }
    fn severity(&self, s: Severity) -> String {
        let label = format!("{:<8}", s.as_str());
        match s {
            Severity::Critical => self.wrap("1;31", &label),
            Severity::High => self.wrap("31", &label),
            Severity::Medium => self.wrap("33", &label),
            Severity::Low => self.wrap("36", &label),
            Severity::Info => self.wrap("2", &label),
        }
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

fn approval_text(c: &parapet_model::Decision) -> String {
    match c.approval {
        Some(a) if a.delay_seconds > 0 => format!(
            "needs {} approver(s), then a {} cooling-off",
            a.approvers,
            duration(a.delay_seconds)
        ),
        Some(a) => format!("needs {} approver(s)", a.approvers),
        None => String::new(),
    }
}

pub fn duration(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub fn render(r: &PlanReport, opts: &TextOptions) -> String {
    let p = Paint { on: opts.color };
    let mut out = String::new();
    let tf = r
        .input
        .terraform_version
        .as_deref()
        .map(|v| format!("Terraform {v}, "))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {} ({tf}plan format {})",
        p.bold("parapet plan check"),
        r.input.path,
        r.input.format_version
    );
    let incident = r
        .incident
        .as_deref()
        .map(|i| format!(" · incident {i} open"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "actor {}{incident} · {} change(s): {} deny, {} review, {} allow",
        r.actor, r.counts.changes, r.counts.deny, r.counts.review, r.counts.allow
    );
    for order in [Outcome::Deny, Outcome::Review, Outcome::Allow] {
        for c in r.changes.iter().filter(|c| c.decision.outcome == order) {
            if order == Outcome::Allow && c.findings.is_empty() && !opts.verbose {
                continue;
            }
            change(&mut out, &p, c);
        }
    }
    let quiet: Vec<&DecidedChange> = r
        .changes
        .iter()
        .filter(|c| c.decision.outcome == Outcome::Allow && c.findings.is_empty())
        .collect();
    if !quiet.is_empty() && !opts.verbose {
        let names: Vec<&str> = quiet
            .iter()
            .take(4)
            .map(|c| c.change.address.as_str())
            .collect();
        let more = if quiet.len() > 4 {
            format!(" and {} more", quiet.len() - 4)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\n{} {} change(s) with nothing to report: {}{more}",
            p.outcome(Outcome::Allow),
            quiet.len(),
            names.join(", ")
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "\n{} {n}", p.dim("note:"));
    }
    let verdict = match r.decision.outcome {
        Outcome::Deny => p.wrap("1;31", "DENY"),
        Outcome::Review => p.wrap("1;33", "REVIEW"),
        Outcome::Allow => p.wrap("1;32", "ALLOW"),
    };
    let extra = approval_text(&r.decision);
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({extra})")
    };
    let _ = writeln!(out, "\nDecision: {verdict}{extra}");
    out
}

/// Statement and rule lines shown per attribute; the JSON report has all of them.
const MAX_DETAIL_LINES: usize = 40;

fn change(out: &mut String, p: &Paint, c: &DecidedChange) {
    let ch = &c.change;
    let mut head = format!(
        "\n{}  {}  {}",
        p.outcome(c.decision.outcome),
        p.bold(&ch.address),
        ch.kind.verb()
    );
    let appr = approval_text(&c.decision);
    if !appr.is_empty() {
        let _ = write!(head, "  {}", p.dim(&format!("[{appr}]")));
    }
    let _ = writeln!(out, "{head}");
    for f in &c.findings {
        let _ = writeln!(out, "  {} {}", p.severity(f.severity), f.summary);
        let _ = writeln!(out, "           {}", p.dim(&f.explanation));
    }
    // A create's attributes are in the JSON report; the terminal shows what changes.
    let diff: &[_] = if ch.kind == ChangeKind::Create {
        &[]
    } else {
        &ch.diff
    };
    for d in diff.iter().take(8) {
        let b = d.before.as_deref().unwrap_or("(none)");
        let a = d.after.as_deref().unwrap_or("(none)");
        let _ = writeln!(out, "  {} {}: {} -> {}", p.dim("~"), d.path, b, a);
        // Statements and rules removed and added, in full: what a reviewer approves.
        if let Some(detail) = &d.detail {
            let lines = detail.lines();
            for (sign, text) in lines.iter().take(MAX_DETAIL_LINES) {
                let mark = match sign {
                    '-' => p.wrap("31", "-"),
                    '+' => p.wrap("32", "+"),
                    _ => p.wrap("33", "~"),
                };
                let _ = writeln!(out, "      {mark} {text}");
            }
            if lines.len() > MAX_DETAIL_LINES {
                let _ = writeln!(
                    out,
                    "      {} {} more (in the JSON report)",
                    p.dim("…"),
                    lines.len() - MAX_DETAIL_LINES
                );
            }
        }
    }
    if diff.len() > 8 {
        let _ = writeln!(out, "  {} {} more attribute(s)", p.dim("~"), diff.len() - 8);
    }
    // The policies that carry the outcome; the JSON report lists every satisfied one.
    for pol in c
        .decision
        .policies
        .iter()
        .filter(|x| x.outcome == c.decision.outcome && x.outcome != Outcome::Allow)
    {
        let _ = writeln!(out, "  {} {}: {}", p.dim("policy"), pol.id, pol.reason);
    }
    for e in &c.decision.errors {
        let _ = writeln!(out, "  {} {e}", p.wrap("31", "error"));
    }
}
