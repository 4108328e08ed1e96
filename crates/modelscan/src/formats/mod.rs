//! Model formats that are read by their headers: what the file is, what it holds, and
//! the few ways each can still run code or reach outside itself.

pub mod gguf;
pub mod keras;
pub mod numpy;
pub mod protobuf;
pub mod safetensors;

use crate::Finding;
use serde_json::{Map, Value};

/// What a format reader learned.
#[derive(Debug, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// Set when the file could not be analysed: the reason.
    pub unknown: Option<String>,
    /// Facts for the report and the AIBOM (architecture, tensors, parameters...).
    pub info: Map<String, Value>,
}

impl Analysis {
    pub fn unknown(reason: impl Into<String>) -> Analysis {
        Analysis {
            unknown: Some(reason.into()),
            ..Analysis::default()
        }
    }
}
