//! rest-xml bodies: a small element tree (quick-xml; no DTDs, so no entity expansion)
//! read into the input shape, honouring locationName, flattened lists and maps, and
//! attributes (S3's `xsi:type`).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::shape::{Ref, Shape, Ty};
use crate::value::{check_case_twin, scalar, wire_name, At, Ctx};
use crate::{WireError, MAX_DEPTH};

#[derive(Debug, Default)]
pub(crate) struct Element {
    /// The local name (a namespace prefix is dropped).
    pub name: String,
    /// Attributes by their qualified name (`xsi:type`).
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

fn local(qname: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(qname).map_err(|_| "a name is not UTF-8".to_string())?;
    Ok(s.rsplit(':').next().unwrap_or(s).to_string())
}

/// Parses a document into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buf = Vec::new();
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("XML at byte {pos}: {e}"))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(format!("XML at byte {pos}: content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML at byte {pos}: nested deeper than {MAX_DEPTH}"));
                }
                let mut el = Element {
                    name: local(s.name().as_ref())?,
                    ..Default::default()
                };
                for a in s.attributes() {
                    let a = a.map_err(|e| format!("XML at byte {pos}: {e}"))?;
                    let key = std::str::from_utf8(a.key.as_ref())
                        .map_err(|_| "an attribute name is not UTF-8".to_string())?
                        .to_string();
                    let value = a
                        .unescape_value()
                        .map_err(|e| format!("XML at byte {pos}: {e}"))?
                        .into_owned();
                    el.attrs.push((key, value));
                }
                if matches!(ev, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("XML: unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| format!("XML at byte {pos}: {e}"))?;
                let text = quick_xml::escape::unescape(&text)
                    .map_err(|e| format!("XML at byte {pos}: {e}"))?;
                push_text(&mut stack, &text, pos)?;
            }
            Event::CData(t) => {
                let text =
                    std::str::from_utf8(&t).map_err(|_| "XML: CDATA is not UTF-8".to_string())?;
                push_text(&mut stack, text, pos)?;
            }
            Event::GeneralRef(r) => {
                let name = std::str::from_utf8(&r)
                    .map_err(|_| "XML: a reference is not UTF-8".to_string())?;
                let text = match name {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "apos" => "'".to_string(),
                    "quot" => "\"".to_string(),
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(format!("XML at byte {pos}: unknown entity &{name};")),
                    },
                };
                push_text(&mut stack, &text, pos)?;
            }
            Event::DocType(_) => return Err("XML: a DOCTYPE is not accepted".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err("XML: unclosed element".into());
    }
    root.ok_or_else(|| "XML: no root element".to_string())
}

fn push_text(stack: &mut [Element], text: &str, pos: u64) -> Result<(), String> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(format!("XML at byte {pos}: text outside the root element")),
    }
}

/// Reads an element as the shape `r` refers to.
pub(crate) fn read(ctx: &Ctx, r: &Ref, el: &Element, at: &At) -> Result<Value, WireError> {
    if at.depth() > MAX_DEPTH {
        return Err(ctx.bad(at.render(), format!("nested deeper than {MAX_DEPTH}")));
    }
    let shape = ctx.shape(r);
    match shape.ty {
        Ty::Structure => read_struct(ctx, shape, el, at, false),
        Ty::List => {
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| ctx.bad(at.render(), "list without member"))?;
            let name = member.name.as_deref().unwrap_or("member");
            let mut out = Vec::new();
            for (i, c) in el.children.iter().filter(|c| c.name == name).enumerate() {
                out.push(read(ctx, member, c, &At::Index(at, i))?);
            }
            Ok(Value::Array(out))
        }
        Ty::Map => {
            let mut out = Map::new();
            for (i, c) in el.children.iter().filter(|c| c.name == "entry").enumerate() {
                map_entry(ctx, shape, c, &At::Index(at, i), &mut out)?;
            }
            Ok(Value::Object(out))
        }
        ty => {
            if !el.children.is_empty() {
                return Err(ctx.bad(at.render(), "a scalar holds elements"));
            }
            scalar(ctx, ty, &el.text, at)
        }
    }
}

/// A structure's members from an element's children and attributes. `body_only`: the top
/// of a rest-xml body, where members bound to the URI, query or headers are not read.
pub(crate) fn read_struct(
    ctx: &Ctx,
    shape: &Shape,
    el: &Element,
    at: &At,
    body_only: bool,
) -> Result<Value, WireError> {
    if shape.document {
        return Err(ctx.bad(at.render(), "a document in an XML body"));
    }
    let mut out = Map::new();
    let mut used = vec![false; el.children.len()];
    for m in &shape.members {
        if body_only && m.r.location != crate::shape::Location::Body {
            continue;
        }
        let name = wire_name(m);
        let child_at = At::Key(at, &m.name);
        if m.r.xml_attribute {
            let local_name = name.rsplit(':').next().unwrap_or(name);
            let found: Vec<&(String, String)> = el
                .attrs
                .iter()
                .filter(|(k, _)| k == name || k.rsplit(':').next() == Some(local_name))
                .collect();
            match found.as_slice() {
                [] => {}
                [(_, v)] => {
                    out.insert(
                        m.name.clone(),
                        scalar(ctx, ctx.shape(&m.r).ty, v, &child_at)?,
                    );
                }
                _ => return Err(ctx.bad(child_at.render(), "attribute given twice")),
            }
            continue;
        }
        let target = ctx.shape(&m.r);
        let idx: Vec<usize> = (0..el.children.len())
            .filter(|&i| el.children[i].name == name)
            .collect();
        for &i in &idx {
            used[i] = true;
        }
        if idx.is_empty() {
            continue;
        }
        let v = if m.r.flattened && target.ty == Ty::List {
            let member = target
                .member
                .as_ref()
                .ok_or_else(|| ctx.bad(child_at.render(), "list without member"))?;
            let mut items = Vec::with_capacity(idx.len());
            for (n, &i) in idx.iter().enumerate() {
                items.push(read(
                    ctx,
                    member,
                    &el.children[i],
                    &At::Index(&child_at, n),
                )?);
            }
            Value::Array(items)
        } else if m.r.flattened && target.ty == Ty::Map {
            let mut map = Map::new();
            for (n, &i) in idx.iter().enumerate() {
                map_entry(
                    ctx,
                    target,
                    &el.children[i],
                    &At::Index(&child_at, n),
                    &mut map,
                )?;
            }
            Value::Object(map)
        } else if idx.len() > 1 {
            return Err(ctx.bad(
                child_at.render(),
                format!("element <{name}> given {} times", idx.len()),
            ));
        } else {
            read(ctx, &m.r, &el.children[idx[0]], &child_at)?
        };
        out.insert(m.name.clone(), v);
    }
    for (i, c) in el.children.iter().enumerate() {
        if !used[i] {
            check_case_twin(ctx, at, &c.name, shape.members.iter().map(wire_name))?;
        }
    }
    Ok(Value::Object(out))
}

fn map_entry(
    ctx: &Ctx,
    shape: &Shape,
    entry: &Element,
    at: &At,
    out: &mut Map<String, Value>,
) -> Result<(), WireError> {
    let (Some(kr), Some(vr)) = (&shape.key, &shape.value) else {
        return Err(ctx.bad(at.render(), "map without key or value"));
    };
    let kname = kr.name.as_deref().unwrap_or("key");
    let vname = vr.name.as_deref().unwrap_or("value");
    let one = |name: &str| -> Result<Option<&Element>, WireError> {
        let mut it = entry.children.iter().filter(|c| c.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(ctx.bad(at.render(), format!("<{name}> given twice in a map entry")));
        }
        Ok(first)
    };
    let k =
        one(kname)?.ok_or_else(|| ctx.bad(at.render(), format!("map entry without <{kname}>")))?;
    let key = k.text.clone();
    let v = match one(vname)? {
        Some(v) => read(ctx, vr, v, &At::Key(at, &key))?,
        None => Value::Null,
    };
    if out.insert(key.clone(), v).is_some() {
        return Err(ctx.bad(at.render(), format!("map key {key:?} given twice")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree() {
        let el = parse(br#"<?xml version="1.0"?><a:R xmlns:a="x" xmlns:xsi="y"><B xsi:type="T">1 &amp; &#65;</B><C/><![CDATA[<z>]]></a:R>"#).unwrap();
        assert_eq!(el.name, "R");
        assert_eq!(el.children[0].text, "1 & A");
        assert_eq!(el.children[0].attrs[0], ("xsi:type".into(), "T".into()));
        assert_eq!(el.children[1].name, "C");
        assert_eq!(el.text, "<z>");
    }

    #[test]
    fn refused() {
        assert!(parse(b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").is_err());
        assert!(parse(b"<a>&x;</a>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"x<a/>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
