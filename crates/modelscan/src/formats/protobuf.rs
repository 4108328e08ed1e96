//! A minimal protobuf wire reader, and what it is used for: ONNX models (custom operator
//! domains, external data paths) and TensorFlow SavedModels (file and Python ops).

use super::Analysis;
use crate::{Finding, Severity};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
pub enum Wire<'a> {
    Varint(u64),
    Fixed64,
    Len(&'a [u8]),
    Fixed32,
}

/// A message that is not protobuf wire format; `at` is the byte offset of the field
/// within its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("bad field key at byte {at}")]
    Key { at: usize },
    #[error("field number too large at byte {at}")]
    FieldNumber { at: usize },
    #[error("field number 0 at byte {at}")]
    FieldZero { at: usize },
    #[error("bad varint at byte {at}")]
    Varint { at: usize },
    #[error("truncated fixed64 at byte {at}")]
    Fixed64 { at: usize },
    #[error("bad length at byte {at}")]
    Length { at: usize },
    #[error("field {field} at byte {at} is longer than its message")]
    Overlong { field: u32, at: usize },
    #[error("truncated fixed32 at byte {at}")]
    Fixed32 { at: usize },
    #[error("wire type {wire} at byte {at}")]
    WireType { wire: u64, at: usize },
}

/// Fields of one message; an error names the offset within the message.
pub fn fields(mut b: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, WireError> {
    let total = b.len();
    let mut out = Vec::new();
    while !b.is_empty() {
        let at = total - b.len();
        let key = varint(&mut b).ok_or(WireError::Key { at })?;
        let field = u32::try_from(key >> 3).map_err(|_| WireError::FieldNumber { at })?;
        if field == 0 {
            return Err(WireError::FieldZero { at });
        }
        let w = match key & 7 {
            0 => Wire::Varint(varint(&mut b).ok_or(WireError::Varint { at })?),
            1 => {
                b = b.get(8..).ok_or(WireError::Fixed64 { at })?;
                Wire::Fixed64
            }
            2 => {
                let n = varint(&mut b).ok_or(WireError::Length { at })?;
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= b.len())
                    .ok_or(WireError::Overlong { field, at })?;
                let (v, rest) = b.split_at(n);
                b = rest;
                Wire::Len(v)
            }
            5 => {
                b = b.get(4..).ok_or(WireError::Fixed32 { at })?;
                Wire::Fixed32
            }
            wire => return Err(WireError::WireType { wire, at }),
        };
        out.push((field, w));
    }
    Ok(out)
}

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn text(w: &Wire) -> Option<String> {
    match w {
        Wire::Len(b) => std::str::from_utf8(b).ok().map(str::to_string),
        _ => None,
    }
}

fn sub<'a>(w: &Wire<'a>) -> Vec<(u32, Wire<'a>)> {
    match w {
        Wire::Len(b) => fields(b).unwrap_or_default(),
        _ => Vec::new(),
    }
}

const STANDARD_DOMAINS: [&str; 9] = [
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.ms.internal.nhwc",
    "org.pytorch.aten",
];

/// An ONNX ModelProto, or `None` when the bytes are not shaped like one: ir_version (1)
/// first, only ModelProto's field numbers, a graph (7).
pub fn onnx(data: &[u8]) -> Option<Analysis> {
    if data.first() != Some(&0x08) {
        return None;
    }
    let top = fields(data).ok()?;
    let known = top.iter().all(|(f, _)| matches!(f, 1..=9 | 14 | 20 | 25));
    if !known
        || !top
            .iter()
            .any(|(f, w)| *f == 7 && matches!(w, Wire::Len(_)))
    {
        return None;
    }
    let mut out = Analysis::default();
    let mut ops: BTreeMap<String, u64> = BTreeMap::new();
    let mut custom: BTreeMap<String, u64> = BTreeMap::new();
    let (mut nodes, mut inits, mut params) = (0u64, 0u64, 0u64);
    for (f, w) in &top {
        match (f, w) {
            (1, Wire::Varint(v)) => {
                out.info.insert("ir_version".into(), json!(v));
            }
            (2, w) => {
                out.info.insert("producer".into(), json!(text(w)));
            }
            (3, w) => {
                out.info.insert("producer_version".into(), json!(text(w)));
            }
            (8, w) => {
                let s = sub(w);
                let domain = s
                    .iter()
                    .find(|(f, _)| *f == 1)
                    .and_then(|(_, w)| text(w))
                    .unwrap_or_default();
                if !STANDARD_DOMAINS.contains(&domain.as_str()) {
                    out.notes.push(format!("imports operator set {domain:?}"));
                }
            }
            (7, w) => {
                for (gf, gw) in sub(w) {
                    match gf {
                        1 => {
                            nodes += 1;
                            let n = sub(&gw);
                            let op = n
                                .iter()
                                .find(|(f, _)| *f == 4)
                                .and_then(|(_, w)| text(w))
                                .unwrap_or_default();
                            let domain = n
                                .iter()
                                .find(|(f, _)| *f == 7)
                                .and_then(|(_, w)| text(w))
                                .unwrap_or_default();
                            if !STANDARD_DOMAINS.contains(&domain.as_str()) {
                                *custom.entry(format!("{domain}::{op}")).or_default() += 1;
                            }
                            if ops.len() < 200 || ops.contains_key(&op) {
                                *ops.entry(op).or_default() += 1;
                            }
                        }
                        5 => {
                            inits += 1;
                            let t = sub(&gw);
                            params = params.saturating_add(
                                t.iter()
                                    .filter_map(|(f, w)| match (f, w) {
                                        (1, Wire::Varint(d)) => Some(*d),
                                        _ => None,
                                    })
                                    .fold(1u64, u64::saturating_mul),
                            );
                            external_data(&t, &mut out);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    for (what, count) in &custom {
        out.findings.push(Finding {
            severity: Severity::Suspicious,
            kind: "custom-operator".into(),
            subject: what.clone(),
            offset: None,
            member: None,
            why: format!(
                "operator outside the standard ONNX domains ({count} node(s)): running the model \
                 needs a native library registered for it"
            ),
            evidence: None,
        });
    }
    out.info.insert("nodes".into(), json!(nodes));
    out.info.insert("initializers".into(), json!(inits));
    out.info.insert("parameters".into(), json!(params));
    out.info.insert("operators".into(), json!(ops));
    Some(out)
}

/// Tensor data stored outside the model: a path that leaves the model's directory reads
/// arbitrary files when the model loads (CVE-2022-25882, CVE-2024-27318).
fn external_data(tensor: &[(u32, Wire)], out: &mut Analysis) {
    for (f, w) in tensor {
        if *f != 13 {
            continue;
        }
        let kv = sub(w);
        let key = kv.iter().find(|(f, _)| *f == 1).and_then(|(_, w)| text(w));
        let val = kv.iter().find(|(f, _)| *f == 2).and_then(|(_, w)| text(w));
        if let (Some(k), Some(v)) = (key, val) {
            if k == "location" {
                let escapes = v.starts_with('/')
                    || v.starts_with('\\')
                    || v.split(['/', '\\']).any(|p| p == "..")
                    || v.get(1..2) == Some(":");
                if escapes {
                    out.findings.push(Finding {
                        severity: Severity::Malicious,
                        kind: "path-traversal".into(),
                        subject: super::clip(&v),
                        offset: None,
                        member: None,
                        why: "external tensor data outside the model's directory: loading reads \
                              that file (CVE-2022-25882, CVE-2024-27318)"
                            .into(),
                        evidence: None,
                    });
                } else {
                    out.notes
                        .push(format!("tensor data in external file {}", super::clip(&v)));
                }
            }
        }
    }
}

/// TensorFlow ops that touch files or run Python when the graph runs.
fn tf_op_risk(op: &str) -> Option<(Severity, &'static str)> {
    Some(match op {
        "WriteFile" => (Severity::Malicious, "writes a file on the host"),
        "PyFunc" | "PyFuncStateless" | "EagerPyFunc" => {
            (Severity::Malicious, "runs a Python function")
        }
        "ReadFile" | "MatchingFiles" => (Severity::Suspicious, "reads files on the host"),
        "DeleteFile" | "DeleteRecursively" => (Severity::Malicious, "deletes files on the host"),
        _ => return None,
    })
}

/// A SavedModel (`saved_model.pb`): every op in every graph and function.
pub fn saved_model(data: &[u8]) -> Analysis {
    let top = match fields(data) {
        Ok(t) => t,
        Err(e) => return Analysis::unknown(format!("not a readable SavedModel: {e}")),
    };
    let mut out = Analysis::default();
    let mut ops: BTreeMap<String, u64> = BTreeMap::new();
    let mut graphs = 0;
    for (f, w) in &top {
        if *f != 2 {
            continue;
        }
        graphs += 1;
        for (mf, mw) in sub(w) {
            if mf != 2 {
                continue;
            }
            for (gf, gw) in sub(&mw) {
                match gf {
                    1 => node_op(&gw, &mut ops),
                    2 => {
                        for (lf, lw) in sub(&gw) {
                            if lf == 1 {
                                for (ff, fw) in sub(&lw) {
                                    if ff == 3 {
                                        node_op(&fw, &mut ops);
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if graphs == 0 {
        return Analysis::unknown("no MetaGraphDef in the SavedModel");
    }
    for (op, n) in &ops {
        if let Some((severity, what)) = tf_op_risk(op) {
            out.findings.push(Finding {
                severity,
                kind: "tf-op".into(),
                subject: op.clone(),
                offset: None,
                member: None,
                why: format!("the graph has {n} {op} op(s): it {what} when the model runs"),
                evidence: None,
            });
        }
    }
    out.info.insert("meta_graphs".into(), json!(graphs));
    out.info.insert("ops".into(), json!(ops.len()));
    out
}

fn node_op(w: &Wire, ops: &mut BTreeMap<String, u64>) {
    if let Some(op) = sub(w)
        .iter()
        .find(|(f, _)| *f == 2)
        .and_then(|(_, w)| text(w))
    {
        *ops.entry(op).or_default() += 1;
    }
}
