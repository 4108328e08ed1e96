//! Typed errors. [`Error`] is what [`crate::inventory`] and the loaders return: the
//! place (target, catalog or OSV path) and the problem read as one message, and the
//! foreign cause (I/O, JSON, TOML) is its `source`. The others say why one file inside
//! a target was not read; they become the `why` of a [`crate::Skipped`].

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A target that cannot be read at all.
    Target { path: String, problem: TargetError },
    /// A catalog file (`--catalog`).
    Catalog { path: String, problem: CatalogError },
    /// An OSV database (`--osv`).
    Osv { path: String, problem: OsvError },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Target { path, problem } => write!(f, "{path}: {problem}"),
            Error::Catalog { path, problem } => write!(f, "catalog {path}: {problem}"),
            Error::Osv { path, problem } => write!(f, "OSV database {path}: {problem}"),
        }
    }
}

impl std::error::Error for Error {
    /// The problem is part of the message; what caused it comes next.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Target { problem, .. } => problem.source(),
            Error::Catalog { problem, .. } => problem.source(),
            Error::Osv { problem, .. } => problem.source(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// An image (OCI layout, OCI archive, `docker save` tarball) that cannot be read, or a
/// layer of it (then the layer is listed as skipped and the rest is read).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read")]
    Io(#[source] std::io::Error),
    #[error("gzip")]
    Gzip(#[source] std::io::Error),
    #[error("not an image tarball: {0}")]
    NotTarball(String),
    #[error("no manifest.json (docker save) or index.json (OCI layout)")]
    NoManifest,
    #[error("{0}: path leaves the layout")]
    Leaves(String),
    #[error("{name}")]
    Member {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not in the archive")]
    Missing(String),
    #[error("{name}: {len} bytes is too large for image metadata")]
    TooLarge { name: String, len: u64 },
    #[error("{name}: not valid JSON")]
    Json {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{name}: content does not match its digest (got {got})")]
    Digest { name: String, got: String },
    #[error("digest {0:?} has no algorithm")]
    NoAlgorithm(String),
    #[error("digest {0:?} is not a sha256 digest")]
    NotSha256(String),
    /// A manifest or index without a field it needs (`manifest.json: no Config`).
    #[error("{0}")]
    Manifest(&'static str),
    #[error("zstd-compressed layers are not read yet; its files are missing from this inventory")]
    Zstd,
}

/// A file of a target that was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{size} bytes, more than the {max} read for this kind of file")]
    TooLarge { size: u64, max: u64 },
    #[error("cannot read")]
    Io(#[from] std::io::Error),
    #[error("truncated: {got} of {want} bytes")]
    Truncated { got: usize, want: u64 },
}

/// Package metadata or a lock file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("not JSON")]
    Json(#[from] serde_json::Error),
    #[error("not TOML")]
    Toml(#[from] toml::de::Error),
    #[error("expected an object")]
    NotObject,
    #[error("no {0}")]
    Missing(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not TOML, or not the catalog layout; the TOML error shows the place.
    #[error("unreadable")]
    Toml {
        line: usize,
        column: usize,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("ecosystem {0:?}: expected PyPI or npm")]
    Ecosystem(String),
    #[error("package entry {0:?} has neither names nor prefixes")]
    Empty(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error("cannot read")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    File(String, #[source] std::io::Error),
    #[error("a zip without readable members: {0}")]
    Zip(String),
    #[error("no OSV records read{}", first.as_ref().map(|r| format!(" (first problem: {r})")).unwrap_or_default())]
    Empty { first: Option<String> },
}

/// An error and its causes as one line (`what: why: deeper why`), for the reasons a
/// workload lists: they are text, and the cause is the useful part.
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

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}
