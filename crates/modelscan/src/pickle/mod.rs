//! Pickle analysis without unpickling: emulate every pickle in a stream, record what
//! would be imported and called, judge it by the allowlist.

mod args;
mod input;
mod joblib;
mod value;
mod vm;

pub use input::BlobSource;

use crate::globals::{Class, Globals};
use crate::{Finding, Severity};
use std::collections::HashMap;
use std::time::Instant;
use vm::{Halt, Vm};

/// Budgets that stop hostile inputs.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_ops: u64,
    pub max_stack: usize,
    pub max_memo: usize,
    pub max_line: usize,
    /// Bytes values up to this size are kept (a nested `pickle.loads` payload is scanned).
    pub keep_bytes: usize,
    /// Total kept bytes per stream.
    pub max_kept_bytes: usize,
    pub max_pickles: usize,
    pub max_depth: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ops: 200_000_000,
            max_stack: 4_000_000,
            max_memo: 4_000_000,
            max_line: 256 << 20,
            keep_bytes: 1 << 20,
            max_kept_bytes: 64 << 20,
            max_pickles: 10_000,
            max_depth: 3,
        }
    }
}

/// One import the pickle performs (GLOBAL, INST, STACK_GLOBAL, or getattr on an import).
#[derive(Debug, Clone)]
pub struct Import {
    pub full: String,
    pub offset: u64,
    pub via: &'static str,
    pub class: Class,
    /// Where it is called and with what (first three calls).
    pub calls: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    UnresolvableGlobal,
    ComputedCall,
    AttributeWrite,
    Extension,
    Nested,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub offset: u64,
    pub kind: EventKind,
    pub subject: String,
}

/// Everything learned from one stream of pickles.
#[derive(Debug, Default)]
pub struct StreamScan {
    /// (start, end, protocol) of each complete pickle.
    pub pickles: Vec<(u64, u64, u8)>,
    pub imports: Vec<Import>,
    pub events: Vec<Event>,
    /// Emulation stopped inside a pickle (malformed or over budget).
    pub halt: Option<Halt>,
    /// The first opcode was not valid: this is not a pickle.
    pub not_pickle: bool,
    /// Bytes after the last complete pickle that are not a pickle (offset, length).
    pub trailing: Option<(u64, u64)>,
    /// The first pickle is PyTorch's legacy magic number.
    pub torch_legacy: bool,
    pub ops: u64,
}

/// PyTorch's legacy-format magic number, 0x1950a86a20f9469cfc6c, as LONG1 bytes.
const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

pub fn scan_slice(
    data: &[u8],
    globals: &Globals,
    limits: &Limits,
    deadline: Option<Instant>,
    depth: u8,
) -> StreamScan {
    scan_stream(
        &mut BlobSource::new(&data, 0),
        globals,
        limits,
        deadline,
        depth,
    )
}

pub fn scan_stream(
    src: &mut BlobSource<'_>,
    globals: &Globals,
    limits: &Limits,
    deadline: Option<Instant>,
    depth: u8,
) -> StreamScan {
    let mut vm = Vm::new(globals, limits.clone(), deadline, depth);
    let mut out = StreamScan::default();
    while src.remaining() > 0 {
        let start = src.pos();
        let ops_before = vm.ops;
        match vm.run(src) {
            Ok(done) => {
                if out.pickles.is_empty() {
                    out.torch_legacy =
                        matches!(&done.value, value::Value::BigInt(b) if b[..] == TORCH_MAGIC);
                }
                out.pickles.push((start, src.pos(), done.protocol));
                // legacy PyTorch: magic, protocol, sys info, the object, storage keys;
                // raw tensor data follows and is never read
                let enough = if out.torch_legacy {
                    5
                } else {
                    limits.max_pickles
                };
                if out.pickles.len() >= enough {
                    if src.remaining() > 0 {
                        out.trailing = Some((src.pos(), src.remaining()));
                    }
                    break;
                }
            }
            Err(h) => {
                let first_op = vm.ops - ops_before <= 1 && !h.budget;
                if out.pickles.is_empty() && first_op {
                    out.not_pickle = true;
                } else if !out.pickles.is_empty() && !h.budget {
                    out.trailing = Some((start, src.remaining() + (src.pos() - start)));
                } else {
                    out.halt = Some(h);
                }
                break;
            }
        }
    }
    out.ops = vm.ops;
    out.imports = vm.imports;
    out.events = vm.events;
    out
}

impl StreamScan {
    /// Findings, one per distinct global or construct, first offset kept.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for imp in &self.imports {
            let (severity, why) = match &imp.class {
                Class::Allowed => continue,
                Class::Denied(why) => (Severity::Malicious, why.clone()),
                Class::Unlisted => (
                    Severity::Suspicious,
                    "not on the allowlist of globals that model files need; loading imports it \
                     and may call it"
                        .to_string(),
                ),
            };
            let evidence = imp
                .calls
                .first()
                .map(|(at, args)| format!("called at offset {at} with {args}"));
            if let Some(&i) = seen.get(&imp.full) {
                if out[i].evidence.is_none() {
                    out[i].evidence = evidence;
                }
                continue;
            }
            seen.insert(imp.full.clone(), out.len());
            out.push(Finding {
                severity,
                kind: "global".into(),
                subject: imp.full.clone(),
                offset: Some(imp.offset),
                member: None,
                why: format!("{} ({} at offset {})", why, imp.via, imp.offset),
                evidence,
            });
        }
        for e in &self.events {
            let (severity, kind, why) = match e.kind {
                EventKind::UnresolvableGlobal => (
                    Severity::Malicious,
                    "unresolvable-global",
                    format!(
                        "STACK_GLOBAL with {}: what gets imported is decided while loading, \
                         so no list can vouch for it",
                        e.subject
                    ),
                ),
                EventKind::ComputedCall => (
                    Severity::Malicious,
                    "computed-call",
                    format!(
                        "calls {}, a value produced while loading rather than a named global \
                         (a chained gadget)",
                        e.subject
                    ),
                ),
                EventKind::AttributeWrite => (
                    Severity::Malicious,
                    "attribute-write",
                    format!(
                        "BUILD sets attributes on the imported {}: it rewrites a module or class \
                         while loading, so later names resolve to something else",
                        e.subject
                    ),
                ),
                EventKind::Extension => (
                    Severity::Suspicious,
                    "extension-code",
                    format!(
                        "{}: resolved through copyreg's extension registry at load time, \
                         cannot be checked statically",
                        e.subject
                    ),
                ),
                EventKind::Nested => (
                    Severity::Malicious,
                    "nested-pickle",
                    format!("the nested pickle does something dangerous: {}", e.subject),
                ),
            };
            let key = format!("{kind}:{}", e.subject);
            if seen.contains_key(&key) {
                continue;
            }
            seen.insert(key, out.len());
            let subject = match e.kind {
                EventKind::UnresolvableGlobal => "computed import".to_string(),
                EventKind::Nested => "nested pickle".to_string(),
                _ => e.subject.clone(),
            };
            out.push(Finding {
                severity,
                kind: kind.into(),
                subject,
                offset: Some(e.offset),
                member: None,
                why,
                evidence: None,
            });
        }
        out
    }
}
