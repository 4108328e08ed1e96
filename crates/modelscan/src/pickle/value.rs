//! Values on the emulated stack and memo. Containers are opaque except where the
//! analysis needs their contents (tuples as call arguments, small dicts as BUILD state);
//! strings and bytes keep bounded prefixes so memory stays bounded on hostile input.

use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;

/// Strings longer than this keep only a prefix (no module or attribute name is this long).
pub const KEEP_TEXT: usize = 4096;
/// Small dicts keep their entries (BUILD state of array wrappers); bigger ones do not.
pub const KEEP_DICT: usize = 64;

#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// Beyond i64: little-endian two's complement bytes (first 64 kept).
    BigInt(Rc<[u8]>),
    Float(f64),
    /// Text; `full` is false when only a prefix was kept.
    Str {
        text: Rc<str>,
        full: bool,
    },
    /// Bytes: the length, and the data when it was small enough to keep.
    Bytes {
        len: u64,
        data: Option<Rc<[u8]>>,
    },
    Tuple(Rc<[Value]>),
    List,
    Set,
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A global that the pickle imported: index into the scan's imports.
    Global(usize),
    /// An attribute reached with getattr on a global: index into the imports too.
    Object(Rc<Object>),
    /// A persistent id (storages in PyTorch files): resolved by the loader, not pickle.
    Persistent,
    /// A value the emulator cannot know (extension codes, out-of-band buffers).
    Opaque,
}

/// The result of calling something.
#[derive(Debug)]
pub struct Object {
    /// The import that was called, if the callee was an import.
    pub callee: Option<usize>,
    pub args: Value,
}

impl Value {
    pub fn text(s: String) -> Value {
        if s.len() <= KEEP_TEXT {
            return Value::Str {
                text: s.into(),
                full: true,
            };
        }
        Value::Str {
            text: crate::prefix(&s, KEEP_TEXT).into(),
            full: false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str { text, full: true } => Some(text),
            _ => None,
        }
    }

    /// A copy safe to store inside a dict: no dict inside, so no reference cycles.
    pub fn frozen(&self, depth: u8) -> Value {
        match self {
            Value::Dict(_) | Value::List | Value::Set => Value::Opaque,
            Value::Tuple(items) if depth < 4 => {
                Value::Tuple(items.iter().map(|v| v.frozen(depth + 1)).collect())
            }
            Value::Tuple(_) => Value::Opaque,
            Value::Object(o) if depth < 4 => Value::Object(Rc::new(Object {
                callee: o.callee,
                args: o.args.frozen(depth + 1),
            })),
            Value::Object(_) => Value::Opaque,
            v => v.clone(),
        }
    }

    /// A short Python-like rendering for evidence, with control characters escaped so
    /// hostile strings cannot drive the terminal.
    pub fn preview(&self, names: &dyn Fn(usize) -> String, out: &mut String, budget: usize) {
        if out.len() >= budget {
            return;
        }
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(b) => {
                let _ = write!(out, "<{}-byte int>", b.len());
            }
            Value::Float(f) => {
                let _ = write!(out, "{f}");
            }
            Value::Str { text, full } => {
                out.push('\'');
                for c in text.chars() {
                    if out.len() >= budget {
                        break;
                    }
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() || c == '\u{1b}' => {
                            let _ = write!(out, "{}", c.escape_unicode());
                        }
                        c => out.push(c),
                    }
                }
                out.push('\'');
                if !full {
                    out.push_str("...");
                }
            }
            Value::Bytes { len, .. } => {
                let _ = write!(out, "<{len} bytes>");
            }
            Value::Tuple(items) => {
                out.push('(');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.preview(names, out, budget);
                }
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::List => out.push_str("[...]"),
            Value::Set => out.push_str("{...}"),
            Value::Dict(_) => out.push_str("{...: ...}"),
            Value::Global(i) => out.push_str(&names(*i)),
            Value::Object(o) => {
                match o.callee {
                    Some(i) => out.push_str(&names(i)),
                    None => out.push_str("<computed>"),
                }
                o.args.preview(names, out, budget);
            }
            Value::Persistent => out.push_str("<persistent id>"),
            Value::Opaque => out.push_str("<?>"),
        }
        if out.len() > budget {
            out.truncate(crate::prefix(out, budget).len());
            out.push_str("...");
        }
    }

    /// The value a dict maps `key` to, when the dict kept its entries.
    pub fn dict_get(&self, key: &str) -> Option<Value> {
        let Value::Dict(d) = self else { return None };
        d.borrow()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v.clone())
    }
}
