//! Shared by the protocol readers: error context, where-paths, scalars typed by shape, and
//! JSON values (JSON bodies, decoded CBOR) typed and renamed by shape.

use serde_json::{Map, Number, Value};

use crate::shape::{Compiled, Location, Member, Ref, Shape, Ty};
use crate::{Route, WireError, MAX_DEPTH};

pub(crate) struct Ctx<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub c: &'a Compiled,
    pub route: &'a Route<'a>,
}

impl<'a> Ctx<'a> {
    pub fn new(route: &'a Route<'a>, c: &'a Compiled) -> Ctx<'a> {
        Ctx {
            service: &route.service.id,
            operation: route.operation,
            c,
            route,
        }
    }

    pub fn bad(&self, at: impl Into<String>, reason: impl Into<String>) -> WireError {
        WireError::BadParameter {
            service: self.service.to_string(),
            operation: self.operation.to_string(),
            at: at.into(),
            reason: reason.into(),
        }
    }

    pub fn shape(&self, r: &Ref) -> &'a Shape {
        self.c.shape(r)
    }
}

/// Where a value is, rendered only when an error names it: `A.B[2].C`.
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    Root(&'a str),
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    pub fn render(&self) -> String {
        match self {
            At::Root(s) => s.to_string(),
            At::Key(p, k) => {
                let parent = p.render();
                if parent.is_empty() {
                    k.to_string()
                } else {
                    format!("{parent}.{k}")
                }
            }
            At::Index(p, i) => format!("{}[{i}]", p.render()),
        }
    }

    pub fn depth(&self) -> usize {
        match self {
            At::Root(_) => 0,
            At::Key(p, _) | At::Index(p, _) => p.depth() + 1,
        }
    }
}

/// The name a member has on the wire (`locationName`, else the member name).
pub(crate) fn wire_name(m: &Member) -> &str {
    m.r.name.as_deref().unwrap_or(&m.name)
}

/// A name that is not a member's but equals one but for case is refused: a server that
/// matches names without regard to case would read it as that member.
pub(crate) fn check_case_twin<'n>(
    ctx: &Ctx,
    at: &At,
    name: &str,
    mut names: impl Iterator<Item = &'n str>,
) -> Result<(), WireError> {
    if let Some(twin) = names.find(|n| *n != name && n.eq_ignore_ascii_case(name)) {
        return Err(ctx.bad(
            at.render(),
            format!("{name:?} differs from member {twin:?} only in case"),
        ));
    }
    Ok(())
}

/// A scalar from text (query values, labels, query strings, headers, XML text).
pub(crate) fn scalar(ctx: &Ctx, ty: Ty, s: &str, at: &At) -> Result<Value, WireError> {
    Ok(match ty {
        Ty::String | Ty::Timestamp | Ty::Blob => Value::String(s.to_string()),
        Ty::Integer | Ty::Long => match s.parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => return Err(ctx.bad(at.render(), format!("{s:?} is not an integer"))),
        },
        Ty::Boolean => match s {
            _ if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            _ if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(ctx.bad(at.render(), format!("{s:?} is not a boolean"))),
        },
        Ty::Float | Ty::Double => match s {
            "NaN" | "Infinity" | "-Infinity" => Value::String(s.to_string()),
            _ => match s.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(ctx.bad(at.render(), format!("{s:?} is not a number"))),
            },
        },
        Ty::Structure | Ty::List | Ty::Map => {
            return Err(ctx.bad(at.render(), "a structure, list or map given as text"))
        }
    })
}

/// Types and renames a JSON value by shape. `None` for null (an absent member).
/// `body_only`: at the top of a rest-json body, members bound to the URI, query string or
/// headers are not read from it.
pub(crate) fn from_json(
    ctx: &Ctx,
    r: &Ref,
    v: Value,
    at: &At,
    body_only: bool,
) -> Result<Option<Value>, WireError> {
    if at.depth() > MAX_DEPTH {
        return Err(ctx.bad(at.render(), format!("nested deeper than {MAX_DEPTH}")));
    }
    if v.is_null() {
        return Ok(None);
    }
    let shape = ctx.shape(r);
    let wrong = |want: &str| ctx.bad(at.render(), format!("expected {want}, got {}", kind(&v)));
    Ok(Some(match shape.ty {
        Ty::Structure if shape.document => v,
        Ty::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            let mut out = Map::new();
            for (k, item) in obj {
                let member = shape
                    .members
                    .iter()
                    .find(|m| wire_name(m) == k && !(body_only && m.r.location != Location::Body));
                let Some(m) = member else {
                    check_case_twin(ctx, at, &k, shape.members.iter().map(wire_name))?;
                    continue;
                };
                let child = At::Key(at, &m.name);
                if let Some(x) = from_json(ctx, &m.r, item, &child, false)? {
                    out.insert(m.name.clone(), x);
                }
            }
            Value::Object(out)
        }
        Ty::List => {
            let Value::Array(items) = v else {
                return Err(wrong("an array"));
            };
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let child = At::Index(at, i);
                out.push(from_json(ctx, member, item, &child, false)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        Ty::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong("an object"));
            };
            let value = shape
                .value
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "map without value"))?;
            let mut out = Map::new();
            for (k, item) in obj {
                let child = At::Key(at, &k);
                let x = from_json(ctx, value, item, &child, false)?.unwrap_or(Value::Null);
                out.insert(k, x);
            }
            Value::Object(out)
        }
        Ty::String | Ty::Blob => match v {
            Value::String(_) => v,
            _ => return Err(wrong("a string")),
        },
        Ty::Timestamp => match v {
            Value::String(_) | Value::Number(_) => v,
            _ => return Err(wrong("a timestamp")),
        },
        Ty::Integer | Ty::Long => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            _ => return Err(wrong("an integer")),
        },
        Ty::Boolean => match v {
            Value::Bool(_) => v,
            _ => return Err(wrong("a boolean")),
        },
        Ty::Float | Ty::Double => match &v {
            Value::Number(_) => v,
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => v,
            _ => return Err(wrong("a number")),
        },
    }))
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
