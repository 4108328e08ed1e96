//! One ranked list per workload: model files that run code, known vulnerabilities, what
//! kind of AI component it is, and whether the workload is reachable. Each entry says
//! why it ranks where it does; scores are additive and documented in docs/inventory.md.

use crate::{Package, Risk, Severity, Workload};
use parapet_modelscan::Verdict;

fn level(score: u32) -> Severity {
    match score {
        s if s >= 90 => Severity::Critical,
        s if s >= 60 => Severity::High,
        s if s >= 30 => Severity::Medium,
        _ => Severity::Low,
    }
}

fn kind_weight(kind: &str) -> (u32, &'static str) {
    match kind {
        "serving" => (15, "serves models or notebooks over the network"),
        "agent" => (10, "agent framework: LLM output drives tools and code"),
        "mcp" => (10, "MCP SDK: exposes or calls tools for agents"),
        "runtime" => (8, "executes model files"),
        "framework" => (8, "loads and runs models"),
        "sdk" => (5, "sends data to an external AI API"),
        "vector-db" => (5, "stores embeddings of the workload's data"),
        _ => (3, "AI tooling"),
    }
}

fn vuln_points(s: Severity) -> u32 {
    match s {
        Severity::Critical => 50,
        Severity::High => 35,
        Severity::Medium => 15,
        Severity::Low => 5,
        Severity::Unknown => 10,
    }
}

pub fn rank(w: &Workload) -> Vec<Risk> {
    let mut out: Vec<Risk> = Vec::new();
    let exposed: Vec<&crate::Exposure> = w
        .exposures
        .iter()
        .filter(|e| e.kind != "credential-in-image")
        .collect();
    let reachable = !exposed.is_empty();
    let reach_why = exposed
        .iter()
        .map(|e| e.detail.as_str())
        .take(2)
        .collect::<Vec<_>>()
        .join("; ");

    for m in &w.models {
        let (score, why) = match m.verdict() {
            Verdict::Malicious => (100, "a model file runs code when loaded"),
            Verdict::Suspicious => (
                60,
                "a model file imports or calls something outside the allowlist",
            ),
            Verdict::Unknown => (15, "a model file could not be fully analysed"),
            Verdict::Clean => continue,
        };
        let mut reasons = vec![why.to_string()];
        for f in &m.files {
            if let Some(top) = f.scan.findings.iter().max_by_key(|x| x.severity) {
                reasons.push(format!("{}: {} ({})", f.at.path, top.subject, top.why));
            } else if let Some(u) = f.scan.unknown.first() {
                reasons.push(format!("{}: {u}", f.at.path));
            }
        }
        if let Some(p) = &m.package {
            reasons.push(format!("shipped by the package {p}"));
        }
        out.push(Risk {
            rank: 0,
            score,
            level: level(score),
            subject: m.name.clone(),
            kind: "model".into(),
            reasons,
        });
    }

    for p in &w.packages {
        let vulns: Vec<&crate::Vulnerability> = w
            .vulnerabilities
            .iter()
            .filter(|v| v.package == p.purl())
            .collect();
        if p.ai.is_none() && vulns.is_empty() {
            continue;
        }
        let (score, reasons) = package_score(p, &vulns, reachable, &reach_why);
        out.push(Risk {
            rank: 0,
            score,
            level: level(score),
            subject: p.purl(),
            kind: "package".into(),
            reasons,
        });
    }

    for s in &w.services {
        let mut score = 10;
        let mut reasons = vec![format!(
            "the code sends data to {} ({})",
            s.name, s.provider
        )];
        if w.exposures
            .iter()
            .any(|e| e.kind == "credential-in-image" && e.detail.contains(&format!("({})", s.name)))
        {
            score += 20;
            reasons.push(format!("a {} credential is baked into the image", s.name));
        }
        out.push(Risk {
            rank: 0,
            score,
            level: level(score),
            subject: s.id.clone(),
            kind: "service".into(),
            reasons,
        });
    }

    for e in &w.exposures {
        let score = u32::from(e.weight);
        out.push(Risk {
            rank: 0,
            score,
            level: level(score),
            subject: e.at.path.clone(),
            kind: format!("exposure:{}", e.kind),
            reasons: vec![e.detail.clone()],
        });
    }

    out.sort_by(|a, b| b.score.cmp(&a.score).then(a.subject.cmp(&b.subject)));
    for (i, r) in out.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    out
}

fn package_score(
    p: &Package,
    vulns: &[&crate::Vulnerability],
    reachable: bool,
    reach_why: &str,
) -> (u32, Vec<String>) {
    let mut score = 0;
    let mut reasons = Vec::new();
    if let Some(worst) = vulns.first() {
        score += vuln_points(worst.severity);
        let more = vulns.len() - 1;
        score += (more as u32 * 5).min(20);
        reasons.push(format!(
            "{} known vulnerabilit{} (worst {} {}{})",
            vulns.len(),
            if vulns.len() == 1 { "y" } else { "ies" },
            worst.id,
            worst.severity.as_str(),
            worst
                .fixed
                .as_ref()
                .map(|f| format!(", fixed in {f}"))
                .unwrap_or_default()
        ));
    }
    if let Some(ai) = &p.ai {
        let (w, why) = kind_weight(&ai.kind);
        score += w;
        reasons.push(format!("{}: {why}", ai.what));
        if ai.loads_untrusted_models {
            score += 5;
            reasons.push("loads model formats that can carry code".into());
        }
        if reachable && (ai.serves || ai.kind == "serving") {
            score += 25;
            reasons.push(format!("the workload is reachable: {reach_why}"));
        }
    }
    if reachable && !vulns.is_empty() && p.ai.as_ref().is_none_or(|a| !a.serves) {
        score += 5;
        reasons.push("in a workload that listens on the network".into());
    }
    (score, reasons)
}
