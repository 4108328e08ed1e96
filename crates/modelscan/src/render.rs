//! Model scan reports as text, JSON and SARIF.

use crate::{FileReport, ScanReport, Severity, Verdict};
use serde_json::json;
use std::fmt::Write;

/// Terminal text: every file that is not clean (all files with `verbose`), then a summary.
pub fn text(r: &ScanReport, verbose: bool) -> String {
    let mut out = String::new();
    for f in &r.files {
        if f.verdict == Verdict::Clean && !verbose {
            continue;
        }
        file_text(f, verbose, &mut out);
    }
    if verbose {
        for s in &r.skipped {
            let _ = writeln!(out, "skipped    {}: {}", s.path, s.why);
        }
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "{} file(s), {} model file(s): {} malicious, {} suspicious, {} unknown, {} clean{}",
        s.files,
        s.models,
        s.malicious,
        s.suspicious,
        s.unknown,
        s.clean,
        if r.skipped.is_empty() {
            String::new()
        } else {
            format!("; {} path(s) skipped", r.skipped.len())
        }
    );
    out
}

fn file_text(f: &FileReport, verbose: bool, out: &mut String) {
    let _ = writeln!(
        out,
        "{:<10} {}  ({}, {})",
        f.verdict.as_str().to_uppercase(),
        f.path,
        f.format,
        human(f.size)
    );
    for x in &f.findings {
        let mark = match x.severity {
            Severity::Malicious => "!!",
            Severity::Suspicious => "? ",
        };
        let place = match (&x.member, x.offset) {
            (Some(m), Some(o)) => format!(" in {m} at offset {o}"),
            (Some(m), None) => format!(" in {m}"),
            (None, Some(o)) => format!(" at offset {o}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "  {mark} {}{place}: {}", x.subject, x.why);
        if let Some(e) = &x.evidence {
            let _ = writeln!(out, "       {e}");
        }
    }
    for u in &f.unknown {
        let _ = writeln!(out, "  ?? not analysed: {u}");
    }
    if verbose {
        for n in &f.notes {
            let _ = writeln!(out, "  -- {n}");
        }
        let facts: Vec<String> = f
            .info
            .iter()
            .filter(|(k, _)| *k != "globals" && *k != "operators" && *k != "dtypes")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !facts.is_empty() {
            let _ = writeln!(out, "  -- {}", facts.join(" "));
        }
    }
}

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn json(r: &ScanReport) -> String {
    serde_json::to_string_pretty(r).expect("report serialises")
}

/// SARIF 2.1.0 for code scanning: one result per finding, and one per file that could
/// not be analysed.
pub fn sarif(r: &ScanReport) -> String {
    let mut results = Vec::new();
    let mut rules = std::collections::BTreeMap::new();
    for f in &r.files {
        for x in &f.findings {
            let rule = format!("model/{}", x.kind);
            rules.entry(rule.clone()).or_insert_with(|| {
                json!({"id": rule, "shortDescription": {"text": format!("Model file: {}", x.kind)}})
            });
            let member = x
                .member
                .as_deref()
                .map(|m| format!(" (in {m})"))
                .unwrap_or_default();
            results.push(json!({
                "ruleId": rule,
                "level": match x.severity { Severity::Malicious => "error", Severity::Suspicious => "warning" },
                "message": {"text": format!("{}{member}: {}", x.subject, x.why)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path}}}],
                "properties": {"verdict": f.verdict, "format": f.format, "offset": x.offset},
            }));
        }
        for u in &f.unknown {
            rules.entry("model/unknown".into()).or_insert_with(|| {
                json!({"id": "model/unknown", "shortDescription": {"text": "Model file could not be analysed"}})
            });
            results.push(json!({
                "ruleId": "model/unknown",
                "level": "note",
                "message": {"text": u},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path}}}],
            }));
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "parapet",
                "informationUri": "https://github.com/parapet-dev/parapet",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("SARIF serialises")
}
