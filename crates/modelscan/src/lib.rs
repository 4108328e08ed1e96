//! Model file scanning: is this file a model, what does it hold, and can loading it run
//! code? Pickles are emulated (never unpickled) and judged by an allowlist; archives are
//! read leniently, as the loaders read them; other formats by their headers.
//!
//! ```no_run
//! let opts = parapet_modelscan::Options::default();
//! let report = parapet_modelscan::scan_paths(&["models/".into()], &opts, None);
//! for f in &report.files {
//!     println!("{} {:?}", f.path, f.verdict);
//! }
//! ```

pub mod blob;
pub mod codec;
pub mod container;
pub mod formats;
pub mod globals;
pub mod pickle;
pub mod render;
mod scan;
mod walk;

pub use globals::Globals;
pub use scan::{scan_blob, scan_file};
pub use walk::{scan_paths, Progress};

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// An error and its causes as one line (`what: why: deeper why`), for the reasons a
/// report gives: reports are text, and the cause is the useful part.
pub(crate) fn because(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// The longest prefix of `s` at most `max` bytes long that ends on a character boundary.
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A globals file that cannot be used. `origin` names it (a path, or the built-in one).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not TOML, or not the globals layout; the TOML error shows the place.
    #[error("{origin}")]
    Toml {
        origin: String,
        /// 1-based; column in characters.
        line: usize,
        column: usize,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{origin}:{line}:{column}: pattern {pattern:?}: a '*' may only follow the last '.'")]
    Pattern {
        origin: String,
        pattern: String,
        line: usize,
        column: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Suspicious,
    Malicious,
}

/// The judgement on one file. Ordered: a pipeline fails at a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Analysed completely; nothing outside the allowlist.
    Clean,
    /// Could not be analysed (encrypted, unsupported compression, over budget): the
    /// reasons say why.
    Unknown,
    /// Does something a model does not need.
    Suspicious,
    /// Imports or runs something dangerous.
    Malicious,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Unknown => "unknown",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// global, unresolvable-global, computed-call, attribute-write, nested-pickle,
    /// extension-code, keras-lambda, keras-import, tf-op, custom-operator,
    /// path-traversal, template-injection
    pub kind: String,
    /// The global, construct or operator.
    pub subject: String,
    /// Byte offset within the member (pickles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Path inside the archive(s), `outer!inner` when nested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Why it matters.
    pub why: String,
    /// What the pickle passes to it, when it calls it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// One scanned file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    pub verdict: Verdict,
    pub size: u64,
    pub findings: Vec<Finding>,
    /// Why parts could not be analysed (makes the verdict at least unknown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the format says about the model (architecture, parameters, tensors...).
    /// Sorted, so reports are stable whatever serde_json's map order.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub globals: Globals,
    pub limits: pickle::Limits,
    /// Largest archive member decompressed into memory.
    pub max_member: u64,
    pub max_members: usize,
    /// Archives inside archives.
    pub max_nesting: u8,
    /// Per file.
    pub time_budget: Duration,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            globals: Globals::default(),
            limits: pickle::Limits::default(),
            max_member: 1 << 30,
            max_members: 100_000,
            max_nesting: 4,
            time_budget: Duration::from_secs(120),
            threads: 0,
        }
    }
}

/// A whole scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub schema: &'static str,
    pub summary: Summary,
    pub files: Vec<FileReport>,
    /// Paths not scanned, with the reason (symlinks, unreadable).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Files looked at.
    pub files: u64,
    /// Of those, model files (reported in `files`).
    pub models: u64,
    pub clean: u64,
    pub unknown: u64,
    pub suspicious: u64,
    pub malicious: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub path: String,
    pub why: String,
    /// An I/O error (as opposed to a walk rule such as not following links).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

/// Formats that only hold other files: a report in one of them is a model file only if
/// [`FileReport::holds_model`].
pub const CONTAINER_FORMATS: [&str; 10] = [
    "zip",
    "tar",
    "7z",
    "gzip",
    "zlib",
    "joblib-zfile",
    "bzip2",
    "xz",
    "lzma",
    "lz4",
];

impl FileReport {
    /// A model format, or an archive or compressed stream with a model inside (counted
    /// in `info.models`), or anything found or left unanalysed.
    pub fn holds_model(&self) -> bool {
        !CONTAINER_FORMATS.contains(&self.format.as_str())
            || !self.findings.is_empty()
            || !self.unknown.is_empty()
            || self.info.get("models").and_then(Value::as_u64).unwrap_or(0) > 0
    }
}

impl ScanReport {
    /// The worst verdict (clean when nothing was found).
    pub fn worst(&self) -> Verdict {
        self.files
            .iter()
            .map(|f| f.verdict)
            .max()
            .unwrap_or(Verdict::Clean)
    }
}
