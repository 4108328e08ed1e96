//! The text report: what AI the workload carries, then the ranked risks with reasons.

use crate::{Report, Source, Workload};
use parapet_modelscan::formats::clip_to as clip;
use std::fmt::Write;

pub fn text(r: &Report) -> String {
    let mut o = String::new();
    for w in &r.workloads {
        workload(&mut o, w, r.vulnerability_data.is_empty());
    }
    o
}

fn workload(o: &mut String, w: &Workload, no_vuln_data: bool) {
    let _ = writeln!(
        o,
        "{} ({}{})",
        w.target,
        w.kind,
        w.image
            .as_ref()
            .map(|i| format!(", {i}"))
            .unwrap_or_default()
    );
    let ai: Vec<_> = w.packages.iter().filter(|p| p.ai.is_some()).collect();
    let installed = w
        .packages
        .iter()
        .filter(|p| p.source == Source::Installed)
        .count();
    let _ = writeln!(
        o,
        "  {} files, {} layers; {} packages ({} installed), {} AI; {} models; {} AI APIs; {} exposure hints; {} vulnerabilities",
        w.stats.files,
        w.layers.len(),
        w.packages.len(),
        installed,
        ai.len(),
        w.models.len(),
        w.services.len(),
        w.exposures.len(),
        w.vulnerabilities.len()
    );
    if !w.risks.is_empty() {
        let _ = writeln!(o, "\n  Risk ranking");
        for r in w.risks.iter().take(25) {
            let _ = writeln!(
                o,
                "  {:>3}. {:<8} {:>3}  {} [{}]",
                r.rank,
                r.level.as_str(),
                r.score,
                r.subject,
                r.kind
            );
            for why in &r.reasons {
                let _ = writeln!(o, "                     - {}", clip(why, 160));
            }
        }
        if w.risks.len() > 25 {
            let _ = writeln!(
                o,
                "  ... and {} more (see --format json)",
                w.risks.len() - 25
            );
        }
    }
    if !ai.is_empty() {
        let _ = writeln!(o, "\n  AI components");
        for p in ai {
            let a = p.ai.as_ref().expect("filtered");
            let _ = writeln!(
                o,
                "    {:<10} {} {}  ({}; {})",
                a.kind,
                p.name,
                p.version.as_deref().unwrap_or("(no version)"),
                a.what,
                p.evidence.first().map(|e| e.at.path.as_str()).unwrap_or("")
            );
        }
    }
    if !w.models.is_empty() {
        let _ = writeln!(o, "\n  Models");
        // clean files a package ships (test data, bundled weights) are summed up per package
        let mut bundled: std::collections::BTreeMap<&str, usize> =
            std::collections::BTreeMap::new();
        for m in &w.models {
            if let (Some(p), parapet_modelscan::Verdict::Clean) = (&m.package, m.verdict()) {
                *bundled.entry(p.as_str()).or_default() += 1;
                continue;
            }
            let _ = writeln!(
                o,
                "    {:<10} {} ({}{}){}",
                m.verdict().as_str(),
                m.name,
                m.origin,
                m.revision
                    .as_ref()
                    .map(|r| format!(" @ {}", clip(r, 12)))
                    .unwrap_or_default(),
                m.package
                    .as_ref()
                    .map(|p| format!(", shipped by {p}"))
                    .unwrap_or_default()
            );
            for f in &m.files {
                let layer =
                    f.at.layer
                        .as_ref()
                        .map(|l| format!(" [layer {}]", l.index))
                        .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "               {} {} {} bytes{layer}",
                    f.scan.format, f.at.path, f.size
                );
                if let Some(top) = f.scan.findings.iter().max_by_key(|x| x.severity) {
                    let _ = writeln!(
                        o,
                        "               ! {}: {}",
                        clip(&top.subject, 80),
                        clip(&top.why, 120)
                    );
                }
            }
        }
        for (p, n) in bundled {
            let _ = writeln!(
                o,
                "    clean      {n} model file{} shipped by the package {p}",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    if !w.datasets.is_empty() {
        let _ = writeln!(o, "\n  Datasets");
        for d in &w.datasets {
            let _ = writeln!(o, "    {} ({})", d.name, d.origin);
        }
    }
    if !w.services.is_empty() {
        let _ = writeln!(o, "\n  External AI APIs used by the code");
        for s in &w.services {
            let at = s
                .evidence
                .first()
                .map(|e| format!("{}:{}", e.at.path, e.at.line.unwrap_or(0)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "    {} ({}) e.g. {at} ({})",
                s.name,
                s.provider,
                s.evidence.first().map(|e| e.what.as_str()).unwrap_or("")
            );
        }
    }
    if !w.vulnerabilities.is_empty() {
        let _ = writeln!(o, "\n  Vulnerabilities");
        for v in &w.vulnerabilities {
            let _ = writeln!(
                o,
                "    {:<8} {} {}{}: {}",
                v.severity.as_str(),
                v.id,
                v.package,
                v.fixed
                    .as_ref()
                    .map(|f| format!(" (fixed in {f})"))
                    .unwrap_or_default(),
                clip(&v.summary, 100)
            );
        }
    } else if no_vuln_data {
        let _ = writeln!(
            o,
            "\n  Vulnerabilities: not checked (give an OSV database with --osv)"
        );
    }
    if !w.skipped.is_empty() {
        let _ = writeln!(o, "\n  Not read ({})", w.skipped.len());
        for s in w.skipped.iter().take(10) {
            let _ = writeln!(o, "    {}: {}", s.path, s.why);
        }
    }
    o.push('\n');
}
