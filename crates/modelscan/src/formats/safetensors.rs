//! safetensors: an 8-byte header length, a JSON header, raw tensor bytes. It cannot run
//! code; a header that lies about offsets is reported.

use super::{clip, Analysis};
use crate::blob::ReadAt;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The format's own limit on the header.
const MAX_HEADER: u64 = 100 << 20;

pub fn looks_like(head: &[u8], len: u64) -> bool {
    if head.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    (2..=MAX_HEADER).contains(&n) && n.saturating_add(8) <= len && head[8] == b'{'
}

fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

pub fn read(src: &dyn ReadAt) -> Analysis {
    let head = src.bytes_at(0, 8).unwrap_or_default();
    if head.len() < 8 {
        return Analysis::unknown("truncated: no header length");
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER || n + 8 > src.len() {
        return Analysis::unknown(format!("header length {n} does not fit the file"));
    }
    let text = match src.bytes_at(8, n as usize) {
        Ok(t) => t,
        Err(e) => return Analysis::unknown(format!("read error: {e}")),
    };
    let header: Map<String, Value> = match serde_json::from_slice(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Analysis::unknown("header is not a JSON object"),
        Err(e) => return Analysis::unknown(format!("header is not valid JSON: {e}")),
    };
    let data_len = src.len() - 8 - n;
    let mut out = Analysis::default();
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    let mut params: u64 = 0;
    let mut spans = Vec::new();
    for (name, t) in &header {
        if name == "__metadata__" {
            if let Value::Object(m) = t {
                let meta: Map<String, Value> = m
                    .iter()
                    .take(32)
                    .map(|(k, v)| (k.clone(), Value::String(clip(v.as_str().unwrap_or("")))))
                    .collect();
                out.info.insert("metadata".into(), Value::Object(meta));
            }
            continue;
        }
        let dtype = t.get("dtype").and_then(Value::as_str).unwrap_or("?");
        let shape: Option<Vec<u64>> = t
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let offs: Option<Vec<u64>> = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            return Analysis::unknown(format!("tensor {name:?} lacks a shape or data_offsets"));
        };
        let [start, end] = offs[..] else {
            return Analysis::unknown(format!("tensor {name:?}: data_offsets is not [start, end]"));
        };
        if start > end || end > data_len {
            return Analysis::unknown(format!(
                "tensor {name:?}: offsets {start}..{end} outside the {data_len} data bytes"
            ));
        }
        let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        if let (Some(count), Some(bits)) = (count, dtype_bits(dtype)) {
            if count.checked_mul(bits).map(|b| b.div_ceil(8)) != Some(end - start) {
                out.notes.push(format!(
                    "tensor {name:?}: {} bytes for shape {shape:?} of {dtype}",
                    end - start
                ));
            }
        }
        params = params.saturating_add(count.unwrap_or(0));
        *dtypes.entry(dtype.to_string()).or_default() += 1;
        spans.push((start, end));
    }
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        out.notes.push("tensors overlap in the data section".into());
    }
    out.info.insert("tensors".into(), json!(spans.len()));
    out.info.insert("parameters".into(), json!(params));
    out.info.insert("dtypes".into(), json!(dtypes));
    out
}
