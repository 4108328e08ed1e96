//! Offline OSV: the per-ecosystem `all.zip` osv.dev publishes (or a directory of OSV
//! JSON records), indexed by ecosystem and PEP 503 / npm name; versions matched with
//! each ecosystem's ordering against `ECOSYSTEM`/`SEMVER` ranges and `versions` lists.

use crate::error::OsvError;
use crate::version::compare;
use crate::{Ecosystem, Error, Package, Severity, Vulnerability};
use parapet_modelscan::blob::FileBlob;
use parapet_modelscan::container::zip;
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

const MAX_RECORD: u64 = 16 << 20;

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<PackageRef>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PackageRef {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub introduced: Option<String>,
    #[serde(default)]
    pub fixed: Option<String>,
    #[serde(default)]
    pub last_affected: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
}

#[derive(Debug, Default)]
pub struct Database {
    records: Vec<Record>,
    /// (ecosystem, key) → (record, affected entry) indexes.
    index: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
    pub sources: Vec<String>,
    /// Records that did not parse, with why (counted, not fatal).
    pub rejected: Vec<String>,
}

fn ecosystem(s: &str) -> Option<Ecosystem> {
    // "PyPI", "npm"; ecosystems may carry a suffix (`Debian:11`)
    match s.split(':').next()? {
        "PyPI" => Some(Ecosystem::PyPI),
        "npm" => Some(Ecosystem::Npm),
        _ => None,
    }
}

impl Database {
    /// Load an `all.zip`, a directory of `.json` records, or one record.
    pub fn load(&mut self, path: &Path) -> Result<(), Error> {
        let shown = path.display().to_string();
        let err = |problem: OsvError| Error::Osv {
            path: shown.clone(),
            problem,
        };
        let before = self.records.len();
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| err(e.into()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                let data = std::fs::read(&f)
                    .map_err(|e| err(OsvError::File(f.display().to_string(), e)))?;
                self.add(&data, &f.display().to_string());
            }
        } else {
            let file = std::fs::File::open(path).map_err(|e| err(e.into()))?;
            let len = file.metadata().map_err(|e| err(e.into()))?.len();
            let blob = FileBlob { file, len };
            let head = parapet_modelscan::blob::ReadAt::bytes_at(&blob, 0, 4)
                .map_err(|e| err(e.into()))?;
            if zip::looks_like_zip(&head) {
                let a = zip::read(&blob, 2_000_000);
                if a.entries.is_empty() {
                    return Err(err(OsvError::Zip(a.notes.join("; "))));
                }
                for e in &a.entries {
                    if !e.name.ends_with(".json") {
                        continue;
                    }
                    match zip::extract(&blob, e, MAX_RECORD) {
                        Ok(data) => self.add(&data, &format!("{shown}:{}", e.name)),
                        Err(why) => self.rejected.push(format!(
                            "{shown}:{}: {}",
                            e.name,
                            crate::error::because(&why)
                        )),
                    }
                }
            } else {
                let data = std::fs::read(path).map_err(|e| err(e.into()))?;
                self.add(&data, &shown);
            }
        }
        if self.records.len() == before {
            return Err(err(OsvError::Empty {
                first: self.rejected.first().cloned(),
            }));
        }
        self.sources
            .push(format!("{shown} ({} records)", self.records.len() - before));
        Ok(())
    }

    /// Add one record (JSON bytes); a record that does not parse is counted in `rejected`.
    pub fn add_bytes(&mut self, data: &[u8], name: &str) {
        self.add(data, name);
    }

    fn add(&mut self, data: &[u8], name: &str) {
        let r: Record = match serde_json::from_slice(data) {
            Ok(r) => r,
            Err(e) => {
                self.rejected.push(format!("{name}: {e}"));
                return;
            }
        };
        if r.withdrawn.is_some() {
            return;
        }
        let ri = self.records.len();
        for (ai, a) in r.affected.iter().enumerate() {
            let Some(p) = &a.package else { continue };
            let Some(eco) = ecosystem(&p.ecosystem) else {
                continue;
            };
            self.index
                .entry((eco, eco.key(&p.name)))
                .or_default()
                .push((ri, ai));
        }
        self.records.push(r);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record that affects this package at its version.
    pub fn matches(&self, p: &Package) -> Vec<Vulnerability> {
        let Some(version) = &p.version else {
            return Vec::new();
        };
        let Some(hits) = self.index.get(&(p.ecosystem, p.key.clone())) else {
            return Vec::new();
        };
        let mut out: Vec<Vulnerability> = Vec::new();
        for &(ri, ai) in hits {
            let r = &self.records[ri];
            let a = &r.affected[ai];
            let Some(fixed) = affects(p.ecosystem, a, version) else {
                continue;
            };
            if out.iter().any(|v| v.id == r.id) {
                continue;
            }
            let (severity, score, vector) = rate(r, a);
            out.push(Vulnerability {
                id: r.id.clone(),
                aliases: r.aliases.clone(),
                summary: parapet_modelscan::formats::clip_to(
                    r.summary
                        .as_deref()
                        .or(r.details.as_deref())
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or(""),
                    200,
                ),
                severity,
                score,
                vector,
                fixed,
                package: p.purl(),
            });
        }
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        out
    }
}

/// `Some(first fixed version above it)` when `version` is affected.
fn affects(eco: Ecosystem, a: &crate::osv::Affected, version: &str) -> Option<Option<String>> {
    let same = |x: &str| compare(eco, x, version) == Some(Ordering::Equal) || x == version;
    let mut hit = a.versions.iter().any(|v| same(v));
    let mut fixed_above: Option<String> = None;
    for r in &a.ranges {
        if !(r.kind == "ECOSYSTEM" || r.kind == "SEMVER") {
            continue; // GIT ranges need commits, not versions
        }
        let ev: Vec<(&str, &str)> = r
            .events
            .iter()
            .filter_map(|e| {
                e.introduced
                    .as_deref()
                    .map(|v| ("introduced", v))
                    .or(e.fixed.as_deref().map(|v| ("fixed", v)))
                    .or(e.last_affected.as_deref().map(|v| ("last_affected", v)))
                    .or(e.limit.as_deref().map(|v| ("limit", v)))
            })
            .collect();
        let le = |x: &str| {
            x == "0"
                || matches!(
                    compare(eco, x, version),
                    Some(Ordering::Less | Ordering::Equal)
                )
        };
        let lt = |x: &str| matches!(compare(eco, x, version), Some(Ordering::Less));
        // sort by version ("0" first); events that do not parse keep their place last
        let mut sorted = ev.clone();
        sorted.sort_by(|a, b| match (a.1, b.1) {
            ("0", "0") => Ordering::Equal,
            ("0", _) => Ordering::Less,
            (_, "0") => Ordering::Greater,
            (x, y) => compare(eco, x, y).unwrap_or(Ordering::Equal),
        });
        let mut affected = false;
        for (kind, v) in &sorted {
            match *kind {
                "introduced" if le(v) => affected = true,
                "fixed" if le(v) => affected = false,
                "last_affected" if lt(v) => affected = false,
                "limit" if le(v) => affected = false,
                _ => {}
            }
        }
        if affected {
            hit = true;
            fixed_above = sorted
                .iter()
                .filter(|(k, v)| *k == "fixed" && !le(v))
                .map(|(_, v)| v.to_string())
                .next();
        }
    }
    hit.then_some(fixed_above)
}

/// Severity from a CVSS v3 vector when there is one, else the database's own label.
fn rate(r: &Record, a: &Affected) -> (Severity, Option<f32>, Option<String>) {
    let entries = a.severity.iter().chain(&r.severity);
    for s in entries {
        if s.kind == "CVSS_V3" {
            if let Some(score) = cvss3_base(&s.score) {
                return (band(score), Some(score), Some(s.score.clone()));
            }
        }
    }
    let label = r
        .database_specific
        .as_ref()
        .and_then(|d| d["severity"].as_str())
        .map(|s| s.to_ascii_lowercase());
    let sev = match label.as_deref() {
        Some("critical") => Severity::Critical,
        Some("high") => Severity::High,
        Some("moderate" | "medium") => Severity::Medium,
        Some("low") => Severity::Low,
        _ => Severity::Unknown,
    };
    let vector = r.severity.first().map(|s| s.score.clone());
    (sev, None, vector)
}

fn band(score: f32) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// CVSS v3.0/v3.1 base score from a vector string (the specification's formulas).
pub fn cvss3_base(vector: &str) -> Option<f32> {
    let mut m: HashMap<&str, &str> = HashMap::new();
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    for p in parts {
        let (k, v) = p.split_once(':')?;
        m.insert(k, v);
    }
    let changed = *m.get("S")? == "C";
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        Some(match *m.get(k)? {
            "H" => 0.56,
            "L" => 0.22,
            "N" => 0.0,
            _ => return None,
        })
    };
    let iss = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(roundup(raw) as f32)
}

/// CVSS 3.1's Roundup: the smallest one-decimal number not below the input.
fn roundup(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) as f64 + 1.0) / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_scores_match_the_calculator() {
        assert_eq!(
            cvss3_base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"),
            Some(9.1)
        );
        assert_eq!(
            cvss3_base("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3_base("CVSS:2.0/AV:N"), None);
        assert_eq!(cvss3_base("garbage"), None);
    }

    fn affected(ranges: &str, versions: &[&str]) -> Affected {
        serde_json::from_str(&format!(
            r#"{{"ranges":[{{"type":"ECOSYSTEM","events":{ranges}}}],"versions":{}}}"#,
            serde_json::to_string(versions).unwrap()
        ))
        .unwrap()
    }

    #[test]
    fn ranges_use_the_ecosystem_order() {
        let a = affected(r#"[{"introduced":"0"},{"fixed":"2.11.3"}]"#, &[]);
        assert_eq!(
            affects(Ecosystem::PyPI, &a, "2.11.2"),
            Some(Some("2.11.3".into()))
        );
        assert_eq!(affects(Ecosystem::PyPI, &a, "2.11.3"), None);
        assert_eq!(
            affects(Ecosystem::PyPI, &a, "2.11.3rc1"),
            Some(Some("2.11.3".into()))
        );
        assert_eq!(
            affects(Ecosystem::PyPI, &a, "2.9"),
            Some(Some("2.11.3".into()))
        );
        // two windows, unsorted
        let a = affected(
            r#"[{"introduced":"3.0"},{"fixed":"3.2"},{"introduced":"1.0"},{"fixed":"1.5"}]"#,
            &[],
        );
        assert!(affects(Ecosystem::PyPI, &a, "1.4").is_some());
        assert!(affects(Ecosystem::PyPI, &a, "2.0").is_none());
        assert!(affects(Ecosystem::PyPI, &a, "3.1.9").is_some());
        let a = affected(r#"[{"introduced":"1.0"},{"last_affected":"1.4"}]"#, &[]);
        assert!(affects(Ecosystem::PyPI, &a, "1.4").is_some());
        assert!(affects(Ecosystem::PyPI, &a, "1.4.1").is_none());
        // explicit versions, equal under PEP 440
        let a = affected("[]", &["2.0"]);
        assert!(affects(Ecosystem::PyPI, &a, "2.0.0").is_some());
        let a = affected(r#"[{"introduced":"0"},{"fixed":"4.17.12"}]"#, &[]);
        assert!(affects(Ecosystem::Npm, &a, "4.17.11").is_some());
        assert!(affects(Ecosystem::Npm, &a, "4.17.12-beta.1").is_some());
        assert!(affects(Ecosystem::Npm, &a, "4.17.21").is_none());
    }
}
