//! SARIF 2.1.0 for code-scanning UIs. One result per finding; a change that is
//! denied or held with no finding (incident mode, custom policies) gets one result
//! for its decision. Levels: deny -> error, review -> warning, allow -> note.

use parapet_model::{Outcome, PlanReport, Severity};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn level(o: Outcome) -> &'static str {
    match o {
        Outcome::Deny => "error",
        Outcome::Review => "warning",
        Outcome::Allow => "note",
    }
}

/// GitHub's `security-severity` scale (0-10).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

pub fn render(r: &PlanReport) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for c in &r.changes {
        let policies: Vec<&str> = c.decision.policies.iter().map(|p| p.id.as_str()).collect();
        let location = json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": r.input.path },
                "region": { "startLine": 1 }
            },
            "logicalLocations": [{ "fullyQualifiedName": c.change.address, "kind": "resource" }]
        }]);
        for f in &c.findings {
            rules.entry(f.id.to_string()).or_insert_with(|| {
                json!({
                    "id": f.id,
                    "shortDescription": { "text": f.id },
                    "fullDescription": { "text": f.explanation },
                    "defaultConfiguration": { "level": "warning" },
                    "properties": { "security-severity": security_severity(f.severity), "tags": ["security", "terraform"] }
                })
            });
            results.push(json!({
                "ruleId": f.id,
                "level": level(c.decision.outcome),
                "message": { "text": format!("{} [{}: {}]", f.summary, c.decision.outcome.as_str(), policies.join(", ")) },
                "locations": location,
                "partialFingerprints": { "parapet/v1": format!("{}|{}|{}", c.change.address, f.id, f.summary) },
                "properties": { "decision": c.decision.outcome.as_str(), "severity": f.severity.as_str(), "address": c.change.address, "policies": policies }
            }));
        }
        if c.findings.is_empty() && c.decision.outcome != Outcome::Allow {
            rules.entry("decision".into()).or_insert_with(|| {
                json!({
                    "id": "decision",
                    "shortDescription": { "text": "change held by policy" },
                    "fullDescription": { "text": "A policy denied this change or requires review, without a specific finding." },
                    "defaultConfiguration": { "level": "warning" }
                })
            });
            let reasons: Vec<&str> = c
                .decision
                .policies
                .iter()
                .map(|p| p.reason.as_str())
                .collect();
            results.push(json!({
                "ruleId": "decision",
                "level": level(c.decision.outcome),
                "message": { "text": format!("{} {}: {}", c.decision.outcome.as_str(), c.change.address, reasons.join(" ")) },
                "locations": location,
                "properties": { "decision": c.decision.outcome.as_str(), "address": c.change.address, "policies": policies }
            }));
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "parapet",
                "version": r.tool.version,
                "informationUri": "https://github.com/parapet-dev/parapet",
                "rules": rules.into_values().collect::<Vec<_>>()
            }},
            "results": results,
            "properties": { "decision": r.decision.outcome.as_str(), "actor": r.actor.to_string() }
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serialises");
    s.push('\n');
    s
}
