//! Model formats that are read by their headers: what the file is, what it holds, and
//! the few ways each can still run code or reach outside itself.

pub mod gguf;
pub mod keras;
pub mod numpy;
pub mod protobuf;
pub mod safetensors;

use crate::Finding;
use serde_json::{Map, Value};

/// What a format reader (or the scan of an archive member) learned.
#[derive(Debug, Default)]
pub struct Analysis {
    /// What the content turned out to be (set by the scan, which identifies formats).
    pub format: &'static str,
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// Why (parts of) the file could not be analysed.
    pub unknown: Vec<String>,
    /// Facts for the report and the AIBOM (architecture, tensors, parameters...).
    pub info: Map<String, Value>,
}

impl Analysis {
    pub fn of(format: &'static str) -> Analysis {
        Analysis {
            format,
            ..Analysis::default()
        }
    }

    pub fn unknown(reason: impl Into<String>) -> Analysis {
        Analysis {
            unknown: vec![reason.into()],
            ..Analysis::default()
        }
    }
}

/// A value from the file, safe to print: at most 200 bytes, control characters dropped.
pub fn clip(s: &str) -> String {
    let kept = crate::prefix(s, 200);
    let mut t: String = kept.chars().filter(|c| !c.is_control()).collect();
    if kept.len() < s.len() {
        t.push_str("...");
    }
    t
}
