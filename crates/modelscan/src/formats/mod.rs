//! Model formats that are read by their headers: what the file is, what it holds, and
//! the few ways each can still run code or reach outside itself.

pub mod gguf;
pub mod keras;
pub mod numpy;
pub mod protobuf;
pub mod safetensors;
pub mod tokenizer;

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
    clip_to(s, 200)
}

/// As `clip`, at most `max` bytes.
pub fn clip_to(s: &str, max: usize) -> String {
    let kept = crate::prefix(s, max);
    let mut t: String = kept.chars().filter(|c| !c.is_control()).collect();
    if kept.len() < s.len() {
        t.push_str("...");
    }
    t
}

/// Standard or URL-safe base64; characters outside the alphabet (padding, line breaks)
/// are skipped.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
