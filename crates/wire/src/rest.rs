//! rest-json and rest-xml: members from URI labels, the query string, headers (and
//! `x-amz-meta-`-style prefixed maps), then the payload member or the body's structure.

use base64::Engine;
use serde_json::{Map, Value};

use crate::shape::{Location, Member, Ref, Ty};
use crate::text::{parse_pairs, split_header_list};
use crate::value::{from_json, scalar, wire_name, At, Ctx};
use crate::{json, route, xml, BodyUse, Head, Protocol, WireError};

/// Query keys that sign a presigned request rather than carry a parameter.
pub(crate) fn is_signing_key(k: &str) -> bool {
    k.len() > 6 && k[..6].eq_ignore_ascii_case("x-amz-") && {
        let rest = &k[6..];
        [
            "algorithm",
            "credential",
            "date",
            "expires",
            "signedheaders",
            "signature",
            "security-token",
        ]
        .iter()
        .any(|s| rest.eq_ignore_ascii_case(s))
    } || k == "x-id"
}

pub(crate) fn read(ctx: &Ctx, input: &Ref, head: &Head, body: &[u8]) -> Result<Value, WireError> {
    let shape = ctx.shape(input);
    let op = ctx.route.op;
    let path = route::effective_path(head.path, ctx.route.host_bucket.as_deref());
    let labels = op
        .uri
        .match_path(&path)
        .ok_or_else(|| ctx.bad("path", "the path no longer matches the operation's URI"))?;
    let pairs = parse_pairs(head.query).map_err(|e| ctx.bad("query string", e))?;
    let mut out = Map::new();
    let mut claimed: Vec<&str> = op.uri.query.iter().map(|(k, _)| k.as_str()).collect();
    for m in &shape.members {
        if m.r.location == Location::Querystring && ctx.shape(&m.r).ty != Ty::Map {
            claimed.push(wire_name(m));
        }
    }
    for m in &shape.members {
        let at = At::Key(&At::Root(""), &m.name);
        let v = match m.r.location {
            Location::Body => continue,
            Location::Uri => match labels.iter().find(|(k, _)| k == wire_name(m)) {
                Some((_, v)) => Some(scalar(ctx, ctx.shape(&m.r).ty, v, &at)?),
                None => None,
            },
            Location::Querystring => query_member(ctx, m, &pairs, &claimed, &at)?,
            Location::Header => header_member(ctx, m, head, &at)?,
            Location::Headers => prefixed_headers(ctx, m, head, &at)?,
        };
        if let Some(v) = v {
            out.insert(m.name.clone(), v);
        }
    }
    if ctx.route.body == BodyUse::Stream {
        return Ok(Value::Object(out));
    }
    let xml = ctx.route.protocol == Protocol::RestXml;
    if let Some(p) = shape.payload {
        let m = &shape.members[p];
        if let Some(v) = payload(ctx, m, body, xml)? {
            out.insert(m.name.clone(), v);
        }
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        let root = At::Root("");
        let v = if xml {
            let el = xml::parse(body).map_err(|e| ctx.bad("body", e))?;
            xml::read_struct(ctx, shape, &el, &root, true)?
        } else {
            let v = json::parse_strict(body).map_err(|e| ctx.bad("body", e))?;
            if !v.is_object() {
                return Err(ctx.bad("body", "the body is not a JSON object"));
            }
            from_json(ctx, input, v, &root, true)?.unwrap_or_default()
        };
        if let Value::Object(body_members) = v {
            for (k, v) in body_members {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// The payload member: the whole body is that structure (or string, or document).
fn payload(ctx: &Ctx, m: &Member, body: &[u8], xml: bool) -> Result<Option<Value>, WireError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let at = At::Key(&At::Root(""), &m.name);
    let target = ctx.shape(&m.r);
    match target.ty {
        Ty::String => {
            let s = std::str::from_utf8(body)
                .map_err(|_| ctx.bad(at.render(), "the body is not UTF-8"))?;
            Ok(Some(Value::String(s.to_string())))
        }
        Ty::Structure if xml => {
            let el = xml::parse(body).map_err(|e| ctx.bad("body", e))?;
            Ok(Some(xml::read(ctx, &m.r, &el, &at)?))
        }
        Ty::Structure => {
            let v = json::parse_strict(body).map_err(|e| ctx.bad("body", e))?;
            from_json(ctx, &m.r, v, &at, false)
        }
        _ => Err(ctx.bad(at.render(), "a payload of this type is not read")),
    }
}

fn query_member(
    ctx: &Ctx,
    m: &Member,
    pairs: &[(String, String)],
    claimed: &[&str],
    at: &At,
) -> Result<Option<Value>, WireError> {
    let shape = ctx.shape(&m.r);
    let name = wire_name(m);
    match shape.ty {
        Ty::List => {
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
            let mut items = Vec::new();
            for (i, (_, v)) in pairs.iter().filter(|(k, _)| k == name).enumerate() {
                items.push(scalar(ctx, ctx.shape(member).ty, v, &At::Index(at, i))?);
            }
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        // A map bound to the query string takes every key no other member claims.
        Ty::Map => {
            let vr = shape
                .value
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "map without value"))?;
            let vshape = ctx.shape(vr);
            let mut map = Map::new();
            for (k, v) in pairs {
                if claimed.contains(&k.as_str()) || is_signing_key(k) {
                    continue;
                }
                let kat = At::Key(at, k);
                if vshape.ty == Ty::List {
                    let item_ty = vshape
                        .member
                        .as_ref()
                        .map_or(Ty::String, |r| ctx.shape(r).ty);
                    let entry = map
                        .entry(k.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.push(scalar(ctx, item_ty, v, &kat)?);
                    }
                } else if map
                    .insert(k.clone(), scalar(ctx, vshape.ty, v, &kat)?)
                    .is_some()
                {
                    return Err(ctx.bad(kat.render(), "given more than once"));
                }
            }
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        ty => {
            let mut found = pairs.iter().filter(|(k, _)| k == name);
            let Some((_, v)) = found.next() else {
                return Ok(None);
            };
            if found.next().is_some() {
                return Err(ctx.bad(
                    at.render(),
                    format!("query parameter {name:?} given more than once"),
                ));
            }
            Ok(Some(scalar(ctx, ty, v, at)?))
        }
    }
}

fn header_text<'h>(ctx: &Ctx, v: &'h http::HeaderValue, at: &At) -> Result<&'h str, WireError> {
    v.to_str()
        .map_err(|_| ctx.bad(at.render(), "header value is not visible ASCII"))
}

fn header_member(ctx: &Ctx, m: &Member, head: &Head, at: &At) -> Result<Option<Value>, WireError> {
    let name = wire_name(m);
    let mut values = head.headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let shape = ctx.shape(&m.r);
    if shape.ty == Ty::List {
        let item_ty = shape
            .member
            .as_ref()
            .map_or(Ty::String, |r| ctx.shape(r).ty);
        let mut items = Vec::new();
        for v in std::iter::once(first).chain(values) {
            let text = header_text(ctx, v, at)?;
            let parts = split_header_list(text).map_err(|e| ctx.bad(at.render(), e))?;
            for p in parts {
                let i = items.len();
                items.push(scalar(ctx, item_ty, &p, &At::Index(at, i))?);
            }
        }
        return Ok(Some(Value::Array(items)));
    }
    if values.next().is_some() {
        return Err(ctx.bad(at.render(), format!("header {name:?} given more than once")));
    }
    let text = header_text(ctx, first, at)?;
    if m.r.jsonvalue {
        // A JSON value travels base64-encoded in the header.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| ctx.bad(at.render(), "a JSON header value is not base64"))?;
        let v = json::parse_strict(&raw).map_err(|e| ctx.bad(at.render(), e))?;
        return Ok(Some(v));
    }
    Ok(Some(scalar(ctx, shape.ty, text, at)?))
}

/// `x-amz-meta-*`: every header with the prefix, the prefix removed (names lowercase).
fn prefixed_headers(
    ctx: &Ctx,
    m: &Member,
    head: &Head,
    at: &At,
) -> Result<Option<Value>, WireError> {
    let prefix = wire_name(m).to_ascii_lowercase();
    let mut map = Map::new();
    for (name, v) in head.headers {
        let Some(key) = name.as_str().strip_prefix(prefix.as_str()) else {
            continue;
        };
        let kat = At::Key(at, key);
        let text = header_text(ctx, v, &kat)?;
        if map
            .insert(key.to_string(), Value::String(text.to_string()))
            .is_some()
        {
            return Err(ctx.bad(kat.render(), "header given more than once"));
        }
    }
    Ok((!map.is_empty()).then_some(Value::Object(map)))
}

/// Whether a required member bound to the query string or a header is present (used to
/// tell apart operations that share a URI, like PutObject and UploadPart).
pub(crate) fn present(
    ctx_shape: &crate::shape::Compiled,
    r: &Ref,
    head: &Head,
    pairs: &[(String, String)],
) -> Option<usize> {
    let shape = ctx_shape.shape(r);
    let mut n = 0;
    for m in shape.members.iter().filter(|m| m.required) {
        let ok = match m.r.location {
            Location::Querystring => pairs.iter().any(|(k, _)| k == wire_name(m)),
            Location::Header => head.headers.contains_key(wire_name(m)),
            _ => continue,
        };
        if !ok {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// How many of the request's query keys are members of the operation's input.
pub(crate) fn known_query_keys(
    c: &crate::shape::Compiled,
    r: &Ref,
    pairs: &[(String, String)],
) -> usize {
    let shape = c.shape(r);
    pairs
        .iter()
        .filter(|(k, _)| {
            shape
                .members
                .iter()
                .any(|m| m.r.location == Location::Querystring && wire_name(m) == k)
        })
        .count()
}
