//! One mapping file (TOML): the servers it covers, and for each tool (by name glob) the
//! actions a call takes, read from the call's arguments with JSON pointers. The format
//! is described in docs/mcp-mappings.md.

use std::collections::BTreeMap;

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::Access;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    servers: OneOrMany,
    #[serde(default)]
    tools: Vec<RawTool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: OneOrMany,
    cli: Option<String>,
    action: Option<String>,
    access: Option<Access>,
    resource: Option<String>,
    params: Option<BTreeMap<String, String>>,
    #[serde(default)]
    actions: Vec<RawAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    action: String,
    access: Option<Access>,
    resource: Option<String>,
    params: Option<BTreeMap<String, String>>,
}

/// A compiled mapping file.
#[derive(Debug)]
pub(crate) struct MapFile {
    /// Where it came from (`embedded:aws-api.toml`, a path): named in errors and reasons.
    pub origin: String,
    servers: Vec<GlobMatcher>,
    tools: Vec<ToolRule>,
}

#[derive(Debug)]
pub(crate) struct ToolRule {
    names: Vec<GlobMatcher>,
    pub how: How,
}

#[derive(Debug)]
pub(crate) enum How {
    /// The argument at this pointer is AWS CLI command line(s).
    Cli(String),
    Actions(Vec<ActionRule>),
}

#[derive(Debug, Clone)]
pub(crate) struct ActionRule {
    pub action: String,
    pub access: Option<Access>,
    pub resource: Option<Template>,
    /// Parameter name -> pointer; `None`: the whole arguments object.
    pub params: Option<BTreeMap<String, String>>,
}

/// A resource: literal text and `{/pointer}` (required) or `{/pointer?}` (may be absent)
/// placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// The resource when it has no placeholder (the same for every call).
    pub(crate) fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Pointer { .. } => return None,
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Text(String),
    Pointer { pointer: String, optional: bool },
}

fn glob(s: &str, origin: &str) -> Result<GlobMatcher, String> {
    Glob::new(s)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("{origin}: bad glob {s:?}: {e}"))
}

fn pointer(p: &str, what: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!(
            "{what}: {p:?} is not a JSON pointer (it must start with /)"
        ));
    }
    Ok(p.to_string())
}

fn check_action(a: &str, what: &str) -> Result<(), String> {
    let ok = a.split_once(':').is_some_and(|(svc, op)| {
        !svc.is_empty()
            && !op.is_empty()
            && svc
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && op
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what}: action {a:?} must look like service:Operation (mcp:fs.ReadFile, s3:GetObject)"
        ))
    }
}

impl Template {
    fn parse(s: &str, what: &str) -> Result<Template, String> {
        if s.starts_with('/') {
            return Ok(Template {
                parts: vec![Part::Pointer {
                    pointer: s.to_string(),
                    optional: false,
                }],
            });
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let end = rest[i..]
                .find('}')
                .ok_or_else(|| format!("{what}: unclosed {{ in resource {s:?}"))?;
            let inner = &rest[i + 1..i + end];
            let (p, optional) = match inner.strip_suffix('?') {
                Some(p) => (p, true),
                None => (inner, false),
            };
            parts.push(Part::Pointer {
                pointer: pointer(p, what)?,
                optional,
            });
            rest = &rest[i + end + 1..];
        }
        if rest.contains('}') {
            return Err(format!("{what}: stray }} in resource {s:?}"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }
}

impl MapFile {
    pub fn parse(text: &str, origin: &str) -> Result<MapFile, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let servers = raw
            .servers
            .into_vec()
            .iter()
            .map(|s| glob(s, origin))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(format!("{origin}: `servers` names no server"));
        }
        let mut tools = Vec::new();
        for (i, t) in raw.tools.into_iter().enumerate() {
            let names = t.name.into_vec();
            let what = format!("{origin}: tools[{i}] ({})", names.join(", "));
            if names.is_empty() {
                return Err(format!("{what}: no tool name"));
            }
            let names = names
                .iter()
                .map(|n| glob(n, origin))
                .collect::<Result<Vec<_>, _>>()?;
            let single = t.action.is_some()
                || t.access.is_some()
                || t.resource.is_some()
                || t.params.is_some();
            let how = match (t.cli, single, t.actions.is_empty()) {
                (Some(p), false, true) => How::Cli(pointer(&p, &what)?),
                (None, true, true) => {
                    let action = t.action.ok_or_else(|| format!("{what}: `action` missing"))?;
                    How::Actions(vec![RawAction { action, access: t.access, resource: t.resource, params: t.params }.compile(&what)?])
                }
                (None, false, false) => How::Actions(
                    t.actions
                        .into_iter()
                        .map(|a| a.compile(&what))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => {
                    return Err(format!(
                        "{what}: give exactly one of `cli`, `action` (with access, resource, params) or `actions`"
                    ))
                }
            };
            tools.push(ToolRule { names, how });
        }
        Ok(MapFile {
            origin: origin.to_string(),
            servers,
            tools,
        })
    }

    pub fn covers(&self, server: &str) -> bool {
        self.servers.iter().any(|g| g.is_match(server))
    }

    pub fn tool(&self, tool: &str) -> Option<&ToolRule> {
        self.tools
            .iter()
            .find(|t| t.names.iter().any(|g| g.is_match(tool)))
    }
}

impl RawAction {
    fn compile(self, what: &str) -> Result<ActionRule, String> {
        check_action(&self.action, what)?;
        let resource = self
            .resource
            .as_deref()
            .map(|r| Template::parse(r, what))
            .transpose()?;
        if let Some(ps) = &self.params {
            for p in ps.values() {
                pointer(p, what)?;
            }
        }
        Ok(ActionRule {
            action: self.action,
            access: self.access,
            resource,
            params: self.params,
        })
    }
}
