//! What AI a workload carries: packages (installed, locked, required), AI frameworks,
//! runtimes and SDKs from a catalog, model files identified by content (and scanned for
//! code), datasets, AI API use in source, and exposure hints. Targets are directories
//! and virtualenvs, OCI image layouts and `docker save` / OCI tarballs (layers applied
//! in order, whiteouts honoured, each finding attributed to its layer). Output: a report
//! (text, JSON), a CycloneDX 1.6 AIBOM, offline OSV matches and a ranked risk list.

pub mod catalog;
pub mod cyclonedx;
pub mod error;
mod image;
mod inventory;
mod models;
mod npm;
pub mod osv;
mod python;
pub mod render;
mod risk;
mod source;
mod tree;
pub mod version;

pub use catalog::Catalog;
pub use error::Error;
pub use inventory::{inventory, Options};
pub use osv::Database;

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    #[serde(rename = "PyPI")]
    PyPI,
    #[serde(rename = "npm")]
    Npm,
}

impl Ecosystem {
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
        }
    }
    /// The name as packages are matched: PEP 503 for PyPI, lowercase for npm.
    pub fn key(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => pep503(name),
            Ecosystem::Npm => name.to_ascii_lowercase(),
        }
    }
    /// The ecosystem name OSV uses.
    pub fn osv(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
        }
    }
}

/// Where something was seen: a path inside the target, and for images the layer that
/// put it there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Layer index (0 = base) and digest, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LayerRef {
    pub index: usize,
    pub digest: String,
}

/// How a package is known: installed files beat a lock file beat a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Installed,
    Locked,
    Required,
}

#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// PEP 503 normalised (PyPI) or as is (npm): the matching key.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub source: Source,
    /// Each place it was found, with what said so ("dist-info", "poetry.lock"...).
    pub evidence: Vec<Evidence>,
    /// From the AI catalog, when it is an AI component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai: Option<catalog::AiInfo>,
    /// SHA-512 from a lock file's integrity field, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
}

impl Package {
    pub fn new(
        ecosystem: Ecosystem,
        name: &str,
        version: Option<String>,
        source: Source,
    ) -> Package {
        Package {
            ecosystem,
            name: name.to_string(),
            key: ecosystem.key(name),
            version,
            license: None,
            summary: None,
            source,
            evidence: Vec::new(),
            ai: None,
            sha512: None,
        }
    }

    pub fn purl(&self) -> String {
        let name = match self.ecosystem {
            Ecosystem::PyPI => self.key.clone(),
            Ecosystem::Npm => self.name.replace('@', "%40"),
        };
        match &self.version {
            Some(v) => format!("pkg:{}/{name}@{v}", self.ecosystem.purl_type()),
            None => format!("pkg:{}/{name}", self.ecosystem.purl_type()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub what: String,
    pub at: Location,
}

/// A model: one Hugging Face snapshot, one ollama model, or a loose model file.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub name: String,
    /// "huggingface", "ollama" or "file".
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// What config.json and the README's front matter say (task, architecture...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub card: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    pub files: Vec<ModelFile>,
    /// The package whose RECORD lists the file, when a package ships it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

impl Model {
    pub fn verdict(&self) -> parapet_modelscan::Verdict {
        self.files
            .iter()
            .map(|f| f.scan.verdict)
            .max()
            .unwrap_or(parapet_modelscan::Verdict::Clean)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelFile {
    pub at: Location,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The model scan of this file (format, verdict, findings, header info).
    pub scan: parapet_modelscan::FileReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub name: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Location>,
}

/// An external AI API the workload's own code calls.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceUse {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub endpoints: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// Something that suggests the workload listens where others can reach it, or carries
/// what it should not (a credential in the image config).
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub kind: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// 0-100, how much this alone adds to risk.
    pub weight: u8,
    pub at: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Vulnerability {
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// The first fixed version after the installed one, when the record names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// purl of the affected package.
    pub package: String,
}

/// One ranked risk with its reasons.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub rank: usize,
    pub score: u32,
    pub level: Severity,
    /// What it is about: a purl, a model name, a service id or "workload".
    pub subject: String,
    pub kind: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// Files this layer deleted from the layers below.
    pub whiteouts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub path: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub model_candidates: u64,
    pub source_files: u64,
}

/// Everything found in one target.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub target: String,
    /// "directory", "oci-layout", "oci-archive" or "docker-archive".
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerInfo>,
    pub packages: Vec<Package>,
    pub models: Vec<Model>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<Dataset>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<Exposure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool_version: &'static str,
    /// The OSV databases read, with their record counts (none: no vulnerability claims).
    pub vulnerability_data: Vec<String>,
    pub workloads: Vec<Workload>,
}

impl Report {
    pub fn worst_model(&self) -> parapet_modelscan::Verdict {
        self.workloads
            .iter()
            .flat_map(|w| w.models.iter().map(Model::verdict))
            .max()
            .unwrap_or(parapet_modelscan::Verdict::Clean)
    }
    pub fn worst_risk(&self) -> Option<Severity> {
        self.workloads
            .iter()
            .flat_map(|w| w.risks.iter().map(|r| r.level))
            .max()
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// PEP 503: runs of `-`, `_`, `.` become one `-`, lowercased.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalises() {
        assert_eq!(pep503("Llama_Index.Core"), "llama-index-core");
        assert_eq!(pep503("zope..interface"), "zope-interface");
        assert_eq!(pep503("Jinja2"), "jinja2");
    }
}

/// Every parser of untrusted input in one place, for fuzz targets and property tests.
#[doc(hidden)]
pub mod fuzzing {
    /// Feed arbitrary bytes to each reader; none may panic.
    pub fn all_parsers(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let _ = crate::python::parse_metadata(&text);
        let _ = crate::python::parse_record(&text);
        let _ = crate::python::parse_requirements(&text);
        let _ = crate::python::parse_toml_lock(&text);
        let _ = crate::python::parse_pipfile_lock(&text);
        let _ = crate::npm::parse_lock(&text);
        let _ = crate::npm::parse_installed(&text);
        let _ = crate::source::exposure("Dockerfile", &text);
        let _ = crate::source::exposure("app/x.py", &text);
        let _ = crate::source::exposure("docker-compose.yml", &text);
        let _ = crate::source::exposure("jupyter_server_config.py", &text);
        let _ = crate::source::api_use(&text, true, &crate::Catalog::default());
        let _ = crate::source::api_use(&text, false, &crate::Catalog::default());
        let _ = crate::version::Pep440::parse(&text);
        let _ = crate::version::SemVer::parse(&text);
        let _ = crate::osv::cvss3_base(&text);
        let mut db = crate::osv::Database::default();
        db.add_bytes(data, "fuzz");
        crate::image::apply_bytes(data);
    }
}
