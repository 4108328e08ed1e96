//! The query and ec2 protocols: `Action=..&Version=..&A.member.1.B=..` in a form body or
//! the query string, read into the input shape as botocore's serialisers write it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::shape::{Ref, Ty};
use crate::text::parse_pairs;
use crate::value::{check_case_twin, scalar, wire_name, At, Ctx};
use crate::{Head, WireError, MAX_DEPTH};

/// Keys that sign or address a request rather than carry a parameter.
const SIGNING_KEYS: [&str; 12] = [
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "SignatureVersion",
];

/// Whether the request carries a form body.
pub(crate) fn is_form(head: &Head) -> bool {
    head.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The query string's pairs plus the form body's. A key given twice (in either or across
/// both) is refused: servers disagree on which one wins. A non-empty body that is not a
/// form is refused rather than ignored.
pub(crate) fn pairs(head: &Head, body: Option<&[u8]>) -> Result<Vec<(String, String)>, String> {
    let mut out = parse_pairs(head.query)?;
    if let Some(b) = body.filter(|b| !b.is_empty()) {
        if !is_form(head) {
            return Err("a query-protocol body must be application/x-www-form-urlencoded".into());
        }
        let text = std::str::from_utf8(b).map_err(|_| "the form body is not UTF-8".to_string())?;
        out.extend(parse_pairs(text)?);
    }
    let mut seen = std::collections::HashSet::with_capacity(out.len());
    for (k, _) in &out {
        if !seen.insert(k.as_str()) {
            return Err(format!("parameter {k:?} given more than once"));
        }
    }
    Ok(out)
}

pub(crate) fn get<'p>(pairs: &'p [(String, String)], key: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The pairs as a tree on their dot-separated keys.
#[derive(Default)]
struct Node<'a> {
    value: Option<&'a str>,
    children: BTreeMap<&'a str, Node<'a>>,
}

pub(crate) fn read(
    ctx: &Ctx,
    input: &Ref,
    pairs: &[(String, String)],
    ec2: bool,
) -> Result<Value, WireError> {
    let mut root = Node::default();
    for (k, v) in pairs {
        if SIGNING_KEYS.contains(&k.as_str()) {
            continue;
        }
        let mut node = &mut root;
        for (depth, seg) in k.split('.').enumerate() {
            if depth > MAX_DEPTH {
                return Err(ctx.bad(k.clone(), format!("nested deeper than {MAX_DEPTH}")));
            }
            node = node.children.entry(seg).or_default();
        }
        node.value = Some(v);
    }
    let r = Reader { ctx, ec2 };
    r.value(input, &root, &At::Root(""))
}

struct Reader<'c, 'a> {
    ctx: &'c Ctx<'a>,
    ec2: bool,
}

/// The key a structure member is written under.
pub(crate) fn query_key<'m>(ctx: &Ctx<'m>, m: &'m crate::shape::Member, ec2: bool) -> Cow<'m, str> {
    if ec2 {
        // ec2: queryName, else the locationName capitalised, else the member name.
        if let Some(q) = &m.r.query_name {
            return Cow::Borrowed(q);
        }
        return match &m.r.name {
            Some(n) => {
                let mut c = n.chars();
                match c.next() {
                    Some(f) if !f.is_ascii_uppercase() => {
                        Cow::Owned(f.to_ascii_uppercase().to_string() + c.as_str())
                    }
                    _ => Cow::Borrowed(n),
                }
            }
            None => Cow::Borrowed(&m.name),
        };
    }
    let shape = ctx.shape(&m.r);
    // A flattened list whose member has a name is written under that name (botocore
    // replaces the last key segment with it).
    if shape.ty == Ty::List && m.r.flattened {
        if let Some(n) = shape.member.as_ref().and_then(|x| x.name.as_deref()) {
            return Cow::Borrowed(n);
        }
    }
    Cow::Borrowed(wire_name(m))
}

impl Reader<'_, '_> {
    fn value(&self, r: &Ref, node: &Node, at: &At) -> Result<Value, WireError> {
        let ctx = self.ctx;
        if at.depth() > MAX_DEPTH {
            return Err(ctx.bad(at.render(), format!("nested deeper than {MAX_DEPTH}")));
        }
        let shape = ctx.shape(r);
        match shape.ty {
            Ty::Structure => {
                if node.value.is_some_and(|v| !v.is_empty()) {
                    return Err(ctx.bad(at.render(), "a structure given as a value"));
                }
                let mut out = Map::new();
                for (key, child) in &node.children {
                    let Some(m) = shape
                        .members
                        .iter()
                        .find(|m| query_key(ctx, m, self.ec2) == *key)
                    else {
                        let names: Vec<Cow<str>> = shape
                            .members
                            .iter()
                            .map(|m| query_key(ctx, m, self.ec2))
                            .collect();
                        check_case_twin(ctx, at, key, names.iter().map(|n| n.as_ref()))?;
                        continue;
                    };
                    let c = At::Key(at, &m.name);
                    out.insert(m.name.clone(), self.value(&m.r, child, &c)?);
                }
                Ok(Value::Object(out))
            }
            Ty::List => {
                let member = shape
                    .member
                    .as_ref()
                    .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
                // The query protocol writes an empty list as `Name=`.
                if node.children.is_empty() && node.value == Some("") {
                    return Ok(Value::Array(Vec::new()));
                }
                let items = if self.ec2 || r.flattened {
                    node
                } else {
                    let name = member.name.as_deref().unwrap_or("member");
                    only_child(ctx, node, name, at)?
                };
                let entries = indexed(ctx, items, at)?;
                let mut out = Vec::with_capacity(entries.len());
                for (i, n) in entries.into_iter().enumerate() {
                    out.push(self.value(member, n, &At::Index(at, i))?);
                }
                Ok(Value::Array(out))
            }
            Ty::Map => {
                let (Some(kr), Some(vr)) = (&shape.key, &shape.value) else {
                    return Err(ctx.bad(at.render(), "map without key or value"));
                };
                let entries = if r.flattened {
                    node
                } else {
                    only_child(ctx, node, "entry", at)?
                };
                let kname = kr.name.as_deref().unwrap_or("key");
                let vname = vr.name.as_deref().unwrap_or("value");
                let mut out = Map::new();
                for (i, e) in indexed(ctx, entries, at)?.into_iter().enumerate() {
                    let ea = At::Index(at, i);
                    let k = e.children.get(kname).and_then(|k| k.value).ok_or_else(|| {
                        ctx.bad(ea.render(), format!("map entry without {kname}"))
                    })?;
                    let v = match e.children.get(vname) {
                        Some(v) => self.value(vr, v, &At::Key(&ea, k))?,
                        None => Value::Null,
                    };
                    if out.insert(k.to_string(), v).is_some() {
                        return Err(ctx.bad(ea.render(), format!("map key {k:?} given twice")));
                    }
                }
                Ok(Value::Object(out))
            }
            ty => {
                if !node.children.is_empty() {
                    return Err(ctx.bad(at.render(), "a scalar given nested keys"));
                }
                scalar(ctx, ty, node.value.unwrap_or(""), at)
            }
        }
    }
}

/// A list or map wrapper (`member`, `entry`): the node must hold only that child.
fn only_child<'n, 'a>(
    ctx: &Ctx,
    node: &'n Node<'a>,
    name: &str,
    at: &At,
) -> Result<&'n Node<'a>, WireError> {
    if let Some(other) = node.children.keys().find(|k| **k != name) {
        return Err(ctx.bad(
            at.render(),
            format!("unexpected key {other:?} (expected {name:?})"),
        ));
    }
    match node.children.get(name) {
        Some(n) => Ok(n),
        None => Err(ctx.bad(at.render(), format!("expected {name}.N keys"))),
    }
}

/// Children `1..=n` in order. Indices must be canonical (no sign, no leading zero) and
/// contiguous: a lone `.member.99999999` is refused without allocating for it.
fn indexed<'n, 'a>(ctx: &Ctx, node: &'n Node<'a>, at: &At) -> Result<Vec<&'n Node<'a>>, WireError> {
    if node.value.is_some_and(|v| !v.is_empty()) {
        return Err(ctx.bad(at.render(), "a list or map given as a value"));
    }
    let mut by_index = BTreeMap::new();
    for (k, child) in &node.children {
        let i = match k.parse::<usize>() {
            Ok(i) if i >= 1 && !k.starts_with('0') && !k.starts_with('+') => i,
            _ => {
                return Err(ctx.bad(
                    at.render(),
                    format!("{k:?} is not a list index (1, 2, ...)"),
                ))
            }
        };
        if i > node.children.len() {
            return Err(ctx.bad(
                at.render(),
                format!(
                    "index {i} with only {} entries: indices must run 1..n",
                    node.children.len()
                ),
            ));
        }
        by_index.insert(i, child);
    }
    Ok(by_index.into_values().collect())
}
