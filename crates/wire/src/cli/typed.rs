//! Values from the command line typed by the operation's input shape, keyed by member
//! name (as botocore takes them, not the wire names): JSON values are checked the way
//! botocore's validator checks them; shorthand strings are converted the way awscli's
//! `BackCompatVisitor` converts them (numbers, `true`/`false`, a single value where a
//! list goes). Blobs become their base64 text, as the AWS proxy reports them.

use base64::Engine;
use serde_json::{Map, Number, Value};

use crate::shape::{Compiled, Ref, Ty};
use crate::MAX_DEPTH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A JSON value (`--x '{"A":1}'`, `--cli-input-json`).
    Json,
    /// Strings from shorthand syntax or plain words.
    Text,
}

/// Types `v` by the shape `r` names; `at` names where it is for errors.
pub(crate) fn typed(
    c: &Compiled,
    r: &Ref,
    v: Value,
    mode: Mode,
    at: &str,
) -> Result<Value, String> {
    typed_at(c, r, v, mode, at, 0)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn typed_at(
    c: &Compiled,
    r: &Ref,
    v: Value,
    mode: Mode,
    at: &str,
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: nested deeper than {MAX_DEPTH}"));
    }
    let shape = c.shape(r);
    let wrong = |want: &str, v: &Value| format!("{at}: expected {want}, got {}", kind(v));
    Ok(match shape.ty {
        Ty::Structure if shape.document => {
            if mode == Mode::Text && !v.is_string() {
                return Err(format!(
                    "{at}: shorthand syntax cannot give a document; use JSON"
                ));
            }
            v
        }
        Ty::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object", &v));
            };
            let mut out = Map::new();
            for (k, item) in obj {
                let Some(m) = shape.members.iter().find(|m| m.name == k) else {
                    return Err(format!("{at}: unknown member {k:?}"));
                };
                if item.is_null() {
                    continue;
                }
                let child = format!("{at}.{k}");
                out.insert(k, typed_at(c, &m.r, item, mode, &child, depth + 1)?);
            }
            Value::Object(out)
        }
        Ty::List => {
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| format!("{at}: list without member"))?;
            let items = match v {
                Value::Array(items) => items,
                // awscli: `Key=a` where a list goes is `[a]`.
                other if mode == Mode::Text => vec![other],
                other => return Err(wrong("a list", &other)),
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(typed_at(
                    c,
                    member,
                    item,
                    mode,
                    &format!("{at}[{i}]"),
                    depth + 1,
                )?);
            }
            Value::Array(out)
        }
        Ty::Map => {
            let value = shape
                .value
                .as_ref()
                .ok_or_else(|| format!("{at}: map without value"))?;
            let Value::Object(obj) = v else {
                return Err(wrong("an object", &v));
            };
            let mut out = Map::new();
            for (k, item) in obj {
                let child = format!("{at}.{k}");
                out.insert(
                    k.clone(),
                    typed_at(c, value, item, mode, &child, depth + 1)?,
                );
            }
            Value::Object(out)
        }
        Ty::String => match v {
            Value::String(_) => v,
            other => return Err(wrong("a string", &other)),
        },
        Ty::Blob => match v {
            Value::String(s) => Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
            other => return Err(wrong("a string", &other)),
        },
        Ty::Timestamp => match v {
            Value::String(_) | Value::Number(_) => v,
            other => return Err(wrong("a timestamp", &other)),
        },
        Ty::Integer | Ty::Long => match (&v, mode) {
            (Value::Number(n), _) if n.is_i64() || n.is_u64() => v,
            (Value::String(s), Mode::Text) => match s.trim().parse::<i64>() {
                Ok(n) => Value::Number(n.into()),
                Err(_) => return Err(format!("{at}: {s:?} is not an integer")),
            },
            _ => return Err(wrong("an integer", &v)),
        },
        Ty::Float | Ty::Double => match (&v, mode) {
            (Value::Number(_), _) => v,
            (Value::String(s), Mode::Text) => match s.trim().parse::<f64>() {
                Ok(f) => {
                    Number::from_f64(f).map_or_else(|| Value::String(s.clone()), Value::Number)
                }
                Err(_) => return Err(format!("{at}: {s:?} is not a number")),
            },
            _ => return Err(wrong("a number", &v)),
        },
        Ty::Boolean => match (&v, mode) {
            (Value::Bool(_), _) => v,
            (Value::String(s), Mode::Text) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            (Value::String(s), Mode::Text) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("true or false", &v)),
        },
    })
}
