//! One service's operations and input shapes, compiled from the data file on first use:
//! shape references become indices, and each reference carries its effective wire traits
//! (botocore merges a member reference's traits over its target shape's: the reference wins).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::template::Template;
use crate::BodyUse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Float,
    Double,
    Timestamp,
    Blob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Body,
    Uri,
    Querystring,
    Header,
    Headers,
}

/// A reference to a shape with its effective serialisation traits.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    pub shape: usize,
    pub location: Location,
    /// `locationName` (the wire name: JSON key, XML element, query key, header, label).
    pub name: Option<String>,
    /// ec2's `queryName`.
    pub query_name: Option<String>,
    pub flattened: bool,
    pub xml_attribute: bool,
    pub jsonvalue: bool,
    pub streaming: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub name: String,
    pub r: Ref,
    pub required: bool,
}

#[derive(Debug)]
pub(crate) struct Shape {
    pub ty: Ty,
    pub members: Vec<Member>,
    /// Index into `members` of the HTTP payload member.
    pub payload: Option<usize>,
    pub member: Option<Ref>,
    pub key: Option<Ref>,
    pub value: Option<Ref>,
    /// A document (free-form JSON) structure: kept as given.
    pub document: bool,
    pub eventstream: bool,
}

#[derive(Debug)]
pub(crate) struct Operation {
    pub name: String,
    pub method: String,
    pub uri: Template,
    pub input: Option<Ref>,
    pub deprecated: bool,
    pub s3express: bool,
    pub body: BodyUse,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub ops: Vec<Operation>,
    pub by_name: HashMap<String, usize>,
    pub shapes: Vec<Shape>,
}

impl Compiled {
    pub fn op(&self, name: &str) -> Option<&Operation> {
        self.by_name.get(name).map(|&i| &self.ops[i])
    }
    pub fn shape(&self, r: &Ref) -> &Shape {
        &self.shapes[r.shape]
    }
}

#[derive(Deserialize)]
struct RawRef {
    shape: String,
    location: Option<String>,
    #[serde(rename = "locationName")]
    location_name: Option<String>,
    #[serde(rename = "queryName")]
    query_name: Option<String>,
    #[serde(default)]
    flattened: bool,
    #[serde(default, rename = "xmlAttribute")]
    xml_attribute: bool,
    #[serde(default)]
    jsonvalue: bool,
    #[serde(default)]
    streaming: bool,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    members: BTreeMap<String, RawRef>,
    #[serde(default)]
    required: Vec<String>,
    payload: Option<String>,
    member: Option<RawRef>,
    key: Option<RawRef>,
    value: Option<RawRef>,
    #[serde(default)]
    flattened: bool,
    #[serde(rename = "locationName")]
    location_name: Option<String>,
    #[serde(default)]
    document: bool,
    #[serde(default)]
    streaming: bool,
    #[serde(default)]
    eventstream: bool,
}

#[derive(Deserialize)]
struct RawHttp {
    method: String,
    #[serde(rename = "requestUri")]
    request_uri: String,
}

#[derive(Deserialize)]
struct RawInput {
    shape: String,
    #[serde(rename = "locationName")]
    location_name: Option<String>,
}

#[derive(Deserialize)]
struct RawOp {
    http: RawHttp,
    input: Option<RawInput>,
    #[serde(default)]
    deprecated: bool,
    #[serde(default)]
    s3express: bool,
}

fn ty(name: &str) -> Result<Ty, String> {
    Ok(match name {
        "structure" => Ty::Structure,
        "list" => Ty::List,
        "map" => Ty::Map,
        "string" | "character" => Ty::String,
        "integer" | "short" | "byte" => Ty::Integer,
        "long" => Ty::Long,
        "boolean" => Ty::Boolean,
        "float" => Ty::Float,
        "double" | "bigdecimal" => Ty::Double,
        "timestamp" => Ty::Timestamp,
        "blob" => Ty::Blob,
        other => return Err(format!("unknown shape type {other:?}")),
    })
}

fn location(l: Option<&str>) -> Result<Location, String> {
    Ok(match l {
        None => Location::Body,
        Some("uri") => Location::Uri,
        Some("querystring") => Location::Querystring,
        Some("header") => Location::Header,
        Some("headers") => Location::Headers,
        Some(other) => return Err(format!("unknown member location {other:?}")),
    })
}

/// Compiles one service's `operations` and `shapes` objects from the data file.
pub(crate) fn compile(ops: &RawValue, shapes: &RawValue) -> Result<Compiled, String> {
    let raw_shapes: BTreeMap<String, RawShape> =
        serde_json::from_str(shapes.get()).map_err(|e| format!("shapes: {e}"))?;
    let raw_ops: BTreeMap<String, RawOp> =
        serde_json::from_str(ops.get()).map_err(|e| format!("operations: {e}"))?;
    let ids: HashMap<&str, usize> = raw_shapes
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let resolve = |r: &RawRef| -> Result<Ref, String> {
        let &id = ids
            .get(r.shape.as_str())
            .ok_or_else(|| format!("missing shape {}", r.shape))?;
        let target = &raw_shapes[&r.shape];
        Ok(Ref {
            shape: id,
            location: location(r.location.as_deref())?,
            name: r
                .location_name
                .clone()
                .or_else(|| target.location_name.clone()),
            query_name: r.query_name.clone(),
            flattened: r.flattened || target.flattened,
            xml_attribute: r.xml_attribute,
            jsonvalue: r.jsonvalue,
            streaming: r.streaming || target.streaming,
        })
    };
    let mut out = Vec::with_capacity(raw_shapes.len());
    for (name, s) in &raw_shapes {
        let t = ty(&s.ty).map_err(|e| format!("{name}: {e}"))?;
        let mut members = Vec::with_capacity(s.members.len());
        for (m, r) in &s.members {
            members.push(Member {
                name: m.clone(),
                r: resolve(r)?,
                required: s.required.iter().any(|x| x == m),
            });
        }
        let payload = match &s.payload {
            Some(p) => Some(
                members
                    .iter()
                    .position(|m| &m.name == p)
                    .ok_or_else(|| format!("{name}: payload {p} is not a member"))?,
            ),
            None => None,
        };
        let opt = |r: &Option<RawRef>| r.as_ref().map(resolve).transpose();
        out.push(Shape {
            ty: t,
            members,
            payload,
            member: opt(&s.member)?,
            key: opt(&s.key)?,
            value: opt(&s.value)?,
            document: s.document,
            eventstream: s.eventstream,
        });
    }
    let mut compiled_ops = Vec::with_capacity(raw_ops.len());
    for (name, o) in raw_ops {
        let input = match &o.input {
            Some(i) => {
                let &id = ids
                    .get(i.shape.as_str())
                    .ok_or_else(|| format!("{name}: missing input shape {}", i.shape))?;
                Some(Ref {
                    shape: id,
                    location: Location::Body,
                    name: i.location_name.clone(),
                    query_name: None,
                    flattened: false,
                    xml_attribute: false,
                    jsonvalue: false,
                    streaming: false,
                })
            }
            None => None,
        };
        let body = body_use(&out, input.as_ref());
        compiled_ops.push(Operation {
            uri: Template::parse(&o.http.request_uri).map_err(|e| format!("{name}: {e}"))?,
            name,
            method: o.http.method,
            input,
            deprecated: o.deprecated,
            s3express: o.s3express,
            body,
        });
    }
    let by_name = compiled_ops
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.clone(), i))
        .collect();
    Ok(Compiled {
        ops: compiled_ops,
        by_name,
        shapes: out,
    })
}

/// A payload member that is a blob, a streaming string or an event stream is the body
/// itself: it streams through and is never read for parameters.
fn body_use(shapes: &[Shape], input: Option<&Ref>) -> BodyUse {
    let Some(input) = input else {
        return BodyUse::Parse;
    };
    let s = &shapes[input.shape];
    if let Some(p) = s.payload {
        let m = &s.members[p];
        let t = &shapes[m.r.shape];
        if t.ty == Ty::Blob || m.r.streaming || t.eventstream {
            return BodyUse::Stream;
        }
    }
    BodyUse::Parse
}
