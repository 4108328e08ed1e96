//! CycloneDX 1.6 JSON (an AIBOM): packages as `library`/`framework` components, models
//! as `machine-learning-model` with a model card and their files nested, datasets as
//! `data`, external AI APIs as `services`, OSV matches as `vulnerabilities`; paths and
//! layers as evidence occurrences.

use crate::{Model, Package, Report, Workload};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

fn spdx_ids() -> &'static HashSet<String> {
    static IDS: OnceLock<HashSet<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        include_str!("../data/spdx-ids.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(String::from)
            .collect()
    })
}

/// An SPDX id when the text is one (case as SPDX spells it), else a named licence.
fn license(text: &str) -> Value {
    let t = text.trim();
    let hit = spdx_ids().iter().find(|id| id.eq_ignore_ascii_case(t));
    match hit {
        Some(id) => json!([{ "license": { "id": id } }]),
        None if t.contains(" OR ") || t.contains(" AND ") || t.contains(" WITH ") => {
            json!([{ "expression": t }])
        }
        None => json!([{ "license": { "name": parapet_modelscan::formats::clip_to(t, 200) } }]),
    }
}

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn occurrence(at: &crate::Location, what: Option<&str>) -> Value {
    let mut o = Map::new();
    o.insert("location".into(), json!(at.path));
    if let Some(l) = at.line {
        o.insert("line".into(), json!(l));
    }
    let mut context: Vec<String> = what.map(String::from).into_iter().collect();
    if let Some(layer) = &at.layer {
        context.push(format!("image layer {} ({})", layer.index, layer.digest));
    }
    if !context.is_empty() {
        o.insert("additionalContext".into(), json!(context.join("; ")));
    }
    Value::Object(o)
}

fn package(p: &Package, workload: &str) -> Value {
    let ai = p.ai.as_ref();
    let kind = match ai.map(|a| a.kind.as_str()) {
        Some("framework" | "runtime" | "agent" | "serving") => "framework",
        _ => "library",
    };
    let mut c = Map::new();
    c.insert("type".into(), json!(kind));
    c.insert("bom-ref".into(), json!(p.purl()));
    c.insert("name".into(), json!(p.name));
    if let Some(v) = &p.version {
        c.insert("version".into(), json!(v));
    }
    if let Some(s) = &p.summary {
        c.insert("description".into(), json!(s));
    }
    if let Some(l) = &p.license {
        c.insert("licenses".into(), license(l));
    }
    if let Some(h) = &p.sha512 {
        c.insert("hashes".into(), json!([{ "alg": "SHA-512", "content": h }]));
    }
    c.insert("purl".into(), json!(p.purl()));
    c.insert(
        "evidence".into(),
        json!({ "occurrences": p.evidence.iter().map(|e| occurrence(&e.at, Some(&e.what))).collect::<Vec<_>>() }),
    );
    let mut props = vec![
        prop("parapet:workload", workload),
        prop("parapet:source", format!("{:?}", p.source).to_lowercase()),
    ];
    if let Some(a) = ai {
        props.push(prop("parapet:ai-kind", &a.kind));
        props.push(prop("parapet:ai-what", &a.what));
        if a.loads_untrusted_models {
            props.push(prop("parapet:loads-untrusted-models", "true"));
        }
    }
    c.insert("properties".into(), json!(props));
    Value::Object(c)
}

fn model_ref(m: &Model) -> String {
    match &m.revision {
        Some(r) => format!("model:{}:{}@{r}", m.origin, m.name),
        None => format!(
            "model:{}:{}",
            m.origin,
            m.files
                .first()
                .map(|f| f.at.path.as_str())
                .unwrap_or(&m.name)
        ),
    }
}

pub fn dataset_ref(name: &str) -> String {
    format!("data:{name}")
}

fn model(m: &Model, workload: &str) -> Value {
    let mut c = Map::new();
    c.insert("type".into(), json!("machine-learning-model"));
    c.insert("bom-ref".into(), json!(model_ref(m)));
    c.insert("name".into(), json!(m.name));
    if let Some(r) = &m.revision {
        c.insert("version".into(), json!(r));
    }
    if m.origin == "huggingface" {
        let purl = match &m.revision {
            Some(r) => format!("pkg:huggingface/{}@{r}", m.name),
            None => format!("pkg:huggingface/{}", m.name),
        };
        c.insert("purl".into(), json!(purl));
        c.insert(
            "supplier".into(),
            json!({ "name": m.name.split('/').next().unwrap_or(&m.name) }),
        );
    }
    if let Some(l) = &m.license {
        c.insert("licenses".into(), license(l));
    }
    if m.files.len() == 1 {
        if let Some(h) = &m.files[0].sha256 {
            c.insert("hashes".into(), json!([{ "alg": "SHA-256", "content": h }]));
        }
    }
    let mut params = Map::new();
    if let Some(t) = m.card.get("task") {
        params.insert("task".into(), json!(t));
    }
    if let Some(a) = m
        .card
        .get("architecture_family")
        .or(m.card.get("architecture"))
    {
        params.insert("architectureFamily".into(), json!(a));
    }
    if let Some(a) = m.card.get("architecture") {
        params.insert("modelArchitecture".into(), json!(a));
    }
    if !m.datasets.is_empty() {
        params.insert(
            "datasets".into(),
            json!(m
                .datasets
                .iter()
                .map(|d| json!({ "ref": dataset_ref(d) }))
                .collect::<Vec<_>>()),
        );
    }
    let formats: BTreeSet<&str> = m.files.iter().map(|f| f.scan.format.as_str()).collect();
    if !formats.is_empty() {
        params.insert(
            "inputs".into(),
            json!(formats
                .iter()
                .map(|f| json!({ "format": format!("model file: {f}") }))
                .collect::<Vec<_>>()),
        );
    }
    let mut card = Map::new();
    if !params.is_empty() {
        card.insert("modelParameters".into(), Value::Object(params));
    }
    let mut card_props = Vec::new();
    for (k, v) in &m.card {
        card_props.push(prop(&format!("parapet:{k}"), v));
    }
    if !card_props.is_empty() {
        card.insert("properties".into(), json!(card_props));
    }
    card.insert(
        "considerations".into(),
        json!({ "technicalLimitations": [format!("model scan verdict: {}", m.verdict().as_str())] }),
    );
    c.insert("modelCard".into(), Value::Object(card));
    let files: Vec<Value> = m
        .files
        .iter()
        .map(|f| {
            let mut fc = Map::new();
            fc.insert("type".into(), json!("file"));
            fc.insert("bom-ref".into(), json!(format!("file:{}", f.at.path)));
            fc.insert(
                "name".into(),
                json!(f.at.path.rsplit('/').next().unwrap_or(&f.at.path)),
            );
            if let Some(h) = &f.sha256 {
                fc.insert("hashes".into(), json!([{ "alg": "SHA-256", "content": h }]));
            }
            fc.insert(
                "evidence".into(),
                json!({ "occurrences": [occurrence(&f.at, None)] }),
            );
            let mut props = vec![
                prop("parapet:format", &f.scan.format),
                prop("parapet:size", f.size.to_string()),
                prop("parapet:model-scan", f.scan.verdict.as_str()),
            ];
            for x in f.scan.findings.iter().take(20) {
                props.push(prop(
                    "parapet:finding",
                    format!("{:?} {}: {}", x.severity, x.subject, x.why).to_lowercase(),
                ));
            }
            fc.insert("properties".into(), json!(props));
            Value::Object(fc)
        })
        .collect();
    c.insert("components".into(), json!(files));
    let mut props = vec![
        prop("parapet:workload", workload),
        prop("parapet:origin", &m.origin),
        prop("parapet:model-scan", m.verdict().as_str()),
    ];
    if let Some(p) = &m.package {
        props.push(prop("parapet:shipped-by", p));
    }
    c.insert("properties".into(), json!(props));
    Value::Object(c)
}

/// The whole report as one BOM. `timestamp` is RFC 3339; the serial number is derived
/// from the content and the timestamp (a BOM written twice differs only there).
pub fn bom(r: &Report, timestamp: &str) -> Value {
    let mut components = Vec::new();
    let mut services = Vec::new();
    let mut vulns = Vec::new();
    let mut refs: HashSet<String> = HashSet::new();
    let mut datasets: BTreeSet<String> = BTreeSet::new();
    for w in &r.workloads {
        add_workload(
            w,
            &mut components,
            &mut services,
            &mut vulns,
            &mut refs,
            &mut datasets,
        );
    }
    for d in &datasets {
        components.push(json!({
            "type": "data",
            "bom-ref": dataset_ref(d),
            "name": d,
            "data": [{ "type": "dataset", "name": d }],
        }));
    }
    let subject = match r.workloads.as_slice() {
        [w] => w.image.clone().unwrap_or_else(|| w.target.clone()),
        ws => ws
            .iter()
            .map(|w| w.target.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let kind = if r.workloads.iter().all(|w| w.kind != "directory") && !r.workloads.is_empty() {
        "container"
    } else {
        "application"
    };
    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "lifecycles": [{ "phase": "operations" }],
            "tools": { "components": [{ "type": "application", "name": "parapet", "version": r.tool_version }] },
            "component": { "type": kind, "bom-ref": "workload", "name": subject },
        },
        "components": components,
    });
    if !services.is_empty() {
        bom["services"] = json!(services);
    }
    if !vulns.is_empty() {
        bom["vulnerabilities"] = json!(vulns);
    }
    let digest = Sha256::digest(serde_json::to_vec(&bom).unwrap_or_default());
    let mut u = [0u8; 16];
    u.copy_from_slice(&Sha256::digest([&digest[..], timestamp.as_bytes()].concat())[..16]);
    u[6] = (u[6] & 0x0f) | 0x40; // version 4 layout (random-looking, content-derived)
    u[8] = (u[8] & 0x3f) | 0x80;
    let h = crate::hex(&u);
    bom["serialNumber"] = json!(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ));
    bom
}

fn add_workload(
    w: &Workload,
    components: &mut Vec<Value>,
    services: &mut Vec<Value>,
    vulns: &mut Vec<Value>,
    refs: &mut HashSet<String>,
    datasets: &mut BTreeSet<String>,
) {
    for p in &w.packages {
        if refs.insert(p.purl()) {
            components.push(package(p, &w.target));
        }
    }
    for m in &w.models {
        if refs.insert(model_ref(m)) {
            components.push(model(m, &w.target));
        }
        datasets.extend(m.datasets.iter().cloned());
    }
    for d in &w.datasets {
        datasets.insert(d.name.clone());
    }
    for s in &w.services {
        let r = format!("service:{}", s.id);
        if !refs.insert(r.clone()) {
            continue;
        }
        let mut props = vec![prop("parapet:workload", &w.target)];
        // templated endpoints (`{region}`) are not IRIs: kept as patterns
        let (endpoints, patterns): (Vec<&String>, Vec<&String>) =
            s.endpoints.iter().partition(|e| !e.contains('{'));
        for p in patterns {
            props.push(prop("parapet:endpoint-pattern", p.as_str()));
        }
        for e in s.evidence.iter().take(50) {
            props.push(prop(
                "parapet:evidence",
                format!("{}:{} ({})", e.at.path, e.at.line.unwrap_or(0), e.what),
            ));
        }
        services.push(json!({
            "bom-ref": r,
            "provider": { "name": s.provider },
            "name": s.name,
            "endpoints": endpoints,
            "authenticated": true,
            "x-trust-boundary": true,
            "trustZone": "external",
            "properties": props,
        }));
    }
    for v in &w.vulnerabilities {
        let r = format!("vuln:{}:{}", v.id, v.package);
        if !refs.insert(r.clone()) {
            continue;
        }
        let mut rating = Map::new();
        rating.insert("source".into(), json!({ "name": "OSV" }));
        rating.insert("severity".into(), json!(v.severity.as_str()));
        if let Some(s) = v.score {
            rating.insert("score".into(), json!(s));
        }
        if let Some(vec) = &v.vector {
            if vec.starts_with("CVSS:3.1") {
                rating.insert("method".into(), json!("CVSSv31"));
            } else if vec.starts_with("CVSS:3") {
                rating.insert("method".into(), json!("CVSSv3"));
            }
            rating.insert("vector".into(), json!(vec));
        }
        let mut o = json!({
            "bom-ref": r,
            "id": v.id,
            "source": { "name": "OSV", "url": format!("https://osv.dev/vulnerability/{}", v.id) },
            "ratings": [Value::Object(rating)],
            "description": v.summary,
            "affects": [{ "ref": v.package }],
        });
        if !v.aliases.is_empty() {
            o["references"] = json!(v
                .aliases
                .iter()
                .map(|a| json!({ "id": a, "source": { "name": if a.starts_with("CVE-") { "NVD" } else { "OSV" } } }))
                .collect::<Vec<_>>());
        }
        if let Some(f) = &v.fixed {
            o["recommendation"] = json!(format!("Upgrade to {f} or later"));
        }
        vulns.push(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences_use_spdx_ids_only_when_they_are() {
        assert_eq!(license("mit")[0]["license"]["id"], "MIT");
        assert_eq!(license("Apache-2.0")[0]["license"]["id"], "Apache-2.0");
        assert_eq!(
            license("MIT OR Apache-2.0")[0]["expression"],
            "MIT OR Apache-2.0"
        );
        assert_eq!(license("BSD License")[0]["license"]["name"], "BSD License");
    }
}
