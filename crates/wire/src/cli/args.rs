//! argparse as awscli uses it: the global options (read anywhere on the line, as awscli's
//! main parser does with `parse_known_args`), then one operation's argument table built
//! from its input shape and the exceptions table, then each value unpacked as awscli's
//! `unpack_cli_arg` does.

use serde_json::{Map, Value};

use super::table::{CliService, CliTable, OpSpec};
use super::typed::{typed, Mode};
use super::{shorthand, CliCall, CliError};
use crate::shape::{Compiled, Ref, Shape, Ty};
use crate::ServiceModels;

/// The global options: name, whether it takes a value.
const GLOBALS: &[(&str, bool)] = &[
    ("debug", false),
    ("endpoint-url", true),
    ("no-verify-ssl", false),
    ("no-paginate", false),
    ("output", true),
    ("query", true),
    ("profile", true),
    ("region", true),
    ("version", false),
    ("color", true),
    ("no-sign-request", false),
    ("ca-bundle", true),
    ("cli-read-timeout", true),
    ("cli-connect-timeout", true),
    ("v2-debug", false),
];

#[derive(Debug, Default)]
pub(crate) struct Globals {
    pub command: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Everything after the command that is no global option, in order.
    pub rest: Vec<String>,
}

/// argparse: a word starting with `-` is an option unless it is a negative number or
/// holds a space (or is `-` alone).
pub(crate) fn is_option(w: &str) -> bool {
    if !w.starts_with('-') || w.len() == 1 || w.contains(' ') {
        return false;
    }
    let digits = &w[1..];
    let negative = !digits.is_empty()
        && (digits.bytes().all(|b| b.is_ascii_digit())
            || digits.split_once('.').is_some_and(|(a, b)| {
                a.bytes().all(|b| b.is_ascii_digit())
                    && !b.is_empty()
                    && b.bytes().all(|b| b.is_ascii_digit())
            }));
    !negative
}

/// An option word against a parser's option names (without `--`): exact, then `=`
/// split, then a unique prefix (argparse's abbreviations). `Ok(None)`: not one of them.
pub(crate) fn resolve<'n>(
    word: &str,
    names: impl Iterator<Item = &'n str> + Clone,
) -> Result<Option<(&'n str, Option<String>)>, String> {
    let Some(body) = word.strip_prefix("--") else {
        return Ok(None);
    };
    if let Some(n) = names.clone().find(|n| *n == body) {
        return Ok(Some((n, None)));
    }
    let (key, explicit) = match body.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (body, None),
    };
    if explicit.is_some() {
        if let Some(n) = names.clone().find(|n| *n == key) {
            return Ok(Some((n, explicit)));
        }
    }
    let matches: Vec<&str> = names.filter(|n| n.starts_with(key)).collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(Some((matches[0], explicit))),
        _ => Err(format!(
            "--{key} is ambiguous: it could be --{}",
            matches.join(", --")
        )),
    }
}

/// One value for an option that takes one: the explicit `=value`, else the next word
/// unless it is an option.
fn take_one(
    words: &[String],
    i: &mut usize,
    explicit: Option<String>,
    name: &str,
) -> Result<String, String> {
    if let Some(v) = explicit {
        return Ok(v);
    }
    match words.get(*i + 1) {
        Some(w) if !is_option(w) => {
            *i += 1;
            Ok(w.clone())
        }
        _ => Err(format!("--{name} expects one value")),
    }
}

pub(crate) fn globals(words: &[String]) -> Result<Globals, CliError> {
    let mut g = Globals::default();
    let mut i = 0;
    let syntax = |reason: String| CliError::Syntax(reason);
    while i < words.len() {
        let w = &words[i];
        if w == "--" {
            return Err(syntax("`--` (end of options) is not read".into()));
        }
        if is_option(w) {
            if let Some((name, explicit)) =
                resolve(w, GLOBALS.iter().map(|g| g.0)).map_err(syntax)?
            {
                let takes = GLOBALS.iter().any(|g| g.0 == name && g.1);
                if !takes {
                    if explicit.is_some() {
                        return Err(syntax(format!("--{name} takes no value")));
                    }
                    if name == "version" {
                        return Err(CliError::NoCall("--version".into()));
                    }
                } else {
                    let v = take_one(words, &mut i, explicit, name).map_err(syntax)?;
                    match name {
                        "endpoint-url" => return Err(CliError::EndpointOverride(v)),
                        "region" => g.region = Some(v),
                        "profile" => g.profile = Some(v),
                        _ => {}
                    }
                }
                i += 1;
                continue;
            }
        } else if g.command.is_none() {
            g.command = Some(w.clone());
            i += 1;
            continue;
        }
        if g.command.is_none() {
            return Err(syntax(format!("{w} before the service name")));
        }
        g.rest.push(w.clone());
        i += 1;
    }
    Ok(g)
}

/// How an argument is given on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `--x` sets true, `--no-x` false.
    Flag(bool),
    /// Zero or more words (a list member).
    Many,
    /// Exactly one word.
    One,
}

#[derive(Debug)]
enum Target<'m> {
    Member(&'m str, &'m Ref),
    CliInputJson,
    Skeleton,
    Paging,
    Outfile,
    Custom,
}

struct Arg<'m> {
    name: String,
    kind: Kind,
    target: Target<'m>,
}

/// The argument table of one operation, as awscli builds it.
fn arg_table<'m>(
    c: &'m Compiled,
    input: Option<&'m Ref>,
    spec: Option<&OpSpec>,
    t: &CliTable,
) -> Vec<Arg<'m>> {
    let mut out = Vec::new();
    if let Some(input) = input {
        for m in &c.shape(input).members {
            if spec.is_some_and(|s| s.hidden.contains(&m.name)) {
                continue;
            }
            let ty = c.shape(&m.r).ty;
            let names: Vec<String> = match spec.and_then(|s| s.args.get(&m.name)) {
                Some(names) => names.clone(),
                None if ty == Ty::Boolean => {
                    let d = t.xform(&m.name);
                    vec![format!("!no-{d}"), d]
                }
                None => vec![t.xform(&m.name)],
            };
            for n in names {
                let (name, kind) = match n.strip_prefix('!') {
                    Some(neg) => (neg.to_string(), Kind::Flag(false)),
                    None if ty == Ty::Boolean => (n, Kind::Flag(true)),
                    None if ty == Ty::List => (n, Kind::Many),
                    None => (n, Kind::One),
                };
                out.push(Arg {
                    name,
                    kind,
                    target: Target::Member(&m.name, &m.r),
                });
            }
        }
    }
    out.push(Arg {
        name: "cli-input-json".into(),
        kind: Kind::One,
        target: Target::CliInputJson,
    });
    out.push(Arg {
        name: "generate-cli-skeleton".into(),
        kind: Kind::Many,
        target: Target::Skeleton,
    });
    if let Some(s) = spec {
        if s.paginated {
            for p in ["max-items", "starting-token", "page-size"] {
                out.push(Arg {
                    name: p.into(),
                    kind: Kind::One,
                    target: Target::Paging,
                });
            }
        }
        for a in &s.custom_args {
            // The positional file a streaming output is written to (a local file).
            let target = if a == "outfile" {
                Target::Outfile
            } else {
                Target::Custom
            };
            out.push(Arg {
                name: a.clone(),
                kind: Kind::Many,
                target,
            });
        }
    }
    out
}

/// Reads `aws <service> <op_word> <words...>`.
pub(crate) fn operation(
    models: &ServiceModels,
    t: &CliTable,
    svc: &CliService,
    service_cli: &str,
    op_word: &str,
    words: &[String],
) -> Result<CliCall, CliError> {
    let command = format!("{service_cli} {op_word}");
    if words.len() == 1 && words[0] == "help" {
        return Err(CliError::NoCall(command));
    }
    let unknown_op = || CliError::UnknownOperation {
        service: service_cli.to_string(),
        operation: op_word.to_string(),
    };
    if svc.custom_ops.iter().any(|o| o == op_word) {
        return Err(CliError::Unsupported {
            command,
            reason: "an AWS CLI customization (it runs several calls or local steps); call the API operations it makes instead".into(),
        });
    }
    if svc.removed_ops.iter().any(|o| o == op_word) {
        return Err(unknown_op());
    }
    let service = models
        .service(&svc.id)
        .ok_or_else(|| CliError::UnknownService(service_cli.to_string()))?;
    let c = service.compiled()?;
    let spec = svc.ops.get(op_word);
    let op = match spec.and_then(|s| s.name.as_deref()) {
        Some(name) => c.op(name),
        None => c.ops.iter().find(|o| t.xform(&o.name) == op_word),
    }
    .ok_or_else(unknown_op)?;
    let table = arg_table(c, op.input.as_ref(), spec, t);
    let bad = |arg: &str, reason: String| CliError::BadArgument {
        command: command.clone(),
        arg: arg.to_string(),
        reason,
    };
    // Parse: last occurrence wins, as argparse's store does.
    let mut given: Vec<(usize, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let hit = if is_option(w) {
            resolve(w, table.iter().map(|a| a.name.as_str())).map_err(|e| bad(w, e))?
        } else {
            None
        };
        let Some((name, explicit)) = hit else {
            let outfile = table
                .iter()
                .position(|a| matches!(a.target, Target::Outfile));
            match outfile {
                Some(idx) if !is_option(w) && !given.iter().any(|(j, _)| *j == idx) => {
                    given.push((idx, vec![w.clone()]));
                    i += 1;
                    continue;
                }
                _ => return Err(bad(w, "unknown option or stray value".into())),
            }
        };
        let idx = table
            .iter()
            .position(|a| a.name == name)
            .unwrap_or_default();
        let a = &table[idx];
        let values = match a.kind {
            Kind::Flag(_) => {
                if explicit.is_some() {
                    return Err(bad(w, "a flag takes no value".into()));
                }
                vec![]
            }
            Kind::One => vec![take_one(words, &mut i, explicit, name).map_err(|e| bad(w, e))?],
            Kind::Many => match explicit {
                Some(v) => vec![v],
                None => {
                    let mut vs = Vec::new();
                    while let Some(v) = words.get(i + 1).filter(|v| !is_option(v)) {
                        vs.push(v.clone());
                        i += 1;
                    }
                    vs
                }
            },
        };
        // `--x` and `--no-x` share one destination.
        if let Target::Member(m, _) = a.target {
            given.retain(|(j, _)| !matches!(table[*j].target, Target::Member(n, _) if n == m));
        } else {
            given.retain(|(j, _)| *j != idx);
        }
        given.push((idx, values));
        i += 1;
    }
    let mut params = Map::new();
    let input_shape = op.input.as_ref();
    // --cli-input-json first; arguments given on the line override its members.
    for (idx, values) in &given {
        let a = &table[*idx];
        match a.target {
            Target::CliInputJson => {
                let v = &values[0];
                external(t, service, &command, &a.name, v, false)?;
                let Some(input) = input_shape else {
                    return Err(bad(
                        "--cli-input-json",
                        "the operation takes no input".into(),
                    ));
                };
                let json = crate::json::parse_strict(v.as_bytes())
                    .map_err(|e| bad("--cli-input-json", e))?;
                let Value::Object(obj) = typed(c, input, json, Mode::Json, "")
                    .map_err(|e| bad("--cli-input-json", e))?
                else {
                    return Err(bad("--cli-input-json", "not a JSON object".into()));
                };
                params.extend(obj);
            }
            Target::Skeleton => {
                return Err(CliError::NoCall(format!(
                    "{command} --generate-cli-skeleton"
                )))
            }
            Target::Custom => {
                return Err(CliError::Unsupported {
                    command: command.clone(),
                    reason: format!(
                        "--{} is an AWS CLI customization whose value awscli rewrites",
                        a.name
                    ),
                })
            }
            Target::Paging | Target::Outfile | Target::Member(..) => {}
        }
    }
    // A token given by hand turns awscli's paging off: its paging arguments then set
    // the members they hide (`--max-items` is MaxItems).
    let by_hand = given.iter().any(|(j, _)| {
        matches!(table[*j].target, Target::Member(m, _) if { let l = m.to_ascii_lowercase(); l.contains("token") || l.contains("marker") })
    });
    if by_hand {
        for (idx, values) in &given {
            let a = &table[*idx];
            if !matches!(a.target, Target::Paging) {
                continue;
            }
            let Some(input) = input_shape else { continue };
            let hidden = c.shape(input).members.iter().find(|m| {
                spec.is_some_and(|s| s.hidden.contains(&m.name)) && t.xform(&m.name) == a.name
            });
            if let Some(m) = hidden {
                let v = typed(
                    c,
                    &m.r,
                    Value::String(values[0].clone()),
                    Mode::Text,
                    &a.name,
                )
                .map_err(|e| bad(&a.name, e))?;
                params.insert(m.name.clone(), v);
            }
        }
    }
    for (idx, values) in &given {
        let a = &table[*idx];
        let Target::Member(member, r) = a.target else {
            continue;
        };
        let arg = format!("--{}", a.name);
        let shape = c.shape(r);
        let v = match a.kind {
            Kind::Flag(b) => Some(Value::Bool(b)),
            _ => {
                let disabled = t.paramfile_disabled.iter().any(|d| {
                    d.strip_suffix(&format!(".{}.{}", t.xform(&op.name), a.name))
                        .is_some_and(|s| {
                            s == service.endpoint_prefix
                                || s == service_cli
                                || s == service.id
                                || s == "custom"
                        })
                });
                if values.len() == 1 {
                    external(t, service, &command, &arg, &values[0], disabled)?;
                }
                unpack(
                    c,
                    r,
                    shape,
                    values,
                    &command,
                    &arg,
                    service_cli,
                    op_word,
                    &a.name,
                )?
            }
        };
        if let Some(v) = v {
            params.insert(member.to_string(), v);
        }
    }
    Ok(CliCall {
        service: service.id.clone(),
        operation: op.name.clone(),
        iam_action: format!("{}:{}", service.iam_prefix, op.name),
        params: Value::Object(params),
        resource: None,
        region: None,
        profile: None,
    })
}

/// awscli reads `file://`, `fileb://` (and, unless the argument is exempt, `http://` and
/// `https://`) values from there: never read here.
fn external(
    _t: &CliTable,
    _s: &crate::Service,
    command: &str,
    arg: &str,
    v: &str,
    url_exempt: bool,
) -> Result<(), CliError> {
    let local = v.starts_with("file://") || v.starts_with("fileb://");
    let remote = !url_exempt && (v.starts_with("http://") || v.starts_with("https://"));
    if local || remote {
        return Err(CliError::External {
            command: command.to_string(),
            arg: arg.to_string(),
            value: v.chars().take(200).collect(),
        });
    }
    Ok(())
}

fn is_doc_container(c: &Compiled, s: &Shape) -> bool {
    match s.ty {
        Ty::Structure => s.document,
        Ty::List => s
            .member
            .as_ref()
            .is_some_and(|m| is_doc_container(c, c.shape(m))),
        Ty::Map => s
            .value
            .as_ref()
            .is_some_and(|m| is_doc_container(c, c.shape(m))),
        _ => false,
    }
}

fn complex(s: &Shape) -> bool {
    matches!(s.ty, Ty::Structure | Ty::List | Ty::Map)
}

/// The lists of one-member structures awscli still reads the old way (`--records a b`).
const OLD_LIST_CASE: &[(&str, &str, &str)] = &[
    ("firehose", "put-record-batch", "records"),
    (
        "workspaces",
        "reboot-workspaces",
        "reboot-workspace-requests",
    ),
    (
        "workspaces",
        "rebuild-workspaces",
        "rebuild-workspace-requests",
    ),
    (
        "workspaces",
        "terminate-workspaces",
        "terminate-workspace-requests",
    ),
    ("elb", "remove-tags", "tags"),
    ("elb", "describe-instance-health", "instances"),
    (
        "elb",
        "deregister-instances-from-load-balancer",
        "instances",
    ),
    ("elb", "register-instances-with-load-balancer", "instances"),
];

/// awscli's unpacking of one argument's words by its shape. `None`: the member is left
/// out (a streaming body names a local file).
#[allow(clippy::too_many_arguments)]
fn unpack(
    c: &Compiled,
    r: &Ref,
    shape: &Shape,
    values: &[String],
    command: &str,
    arg: &str,
    service_cli: &str,
    op_word: &str,
    arg_name: &str,
) -> Result<Option<Value>, CliError> {
    let bad = |reason: String| CliError::BadArgument {
        command: command.to_string(),
        arg: arg.to_string(),
        reason,
    };
    let json = |s: &str| {
        crate::json::parse_strict(s.as_bytes()).map_err(|e| bad(format!("invalid JSON: {e}")))
    };
    let ty = |v: Value, mode: Mode| typed(c, r, v, mode, arg).map_err(&bad);
    let starts_json = |s: &str| s.trim_start().starts_with(['[', '{']);
    if shape.document || (r.jsonvalue && shape.ty == Ty::String) {
        return Ok(Some(json(&values[0])?));
    }
    match shape.ty {
        Ty::Blob if r.streaming => Ok(None),
        Ty::Structure | Ty::Map => {
            let v = &values[0];
            if starts_json(v) {
                if !v.trim_start().starts_with('{') {
                    return Err(bad("invalid JSON: expected an object".into()));
                }
                return Ok(Some(ty(json(v)?, Mode::Json)?));
            }
            if is_doc_container(c, shape) {
                return Err(bad("invalid JSON".into()));
            }
            if shape.ty == Ty::Structure
                && shape.members.len() == 1
                && shape.members[0].name == "Value"
                && c.shape(&shape.members[0].r).ty == Ty::String
                && !v.contains('=')
            {
                return Ok(Some(ty(serde_json::json!({ "Value": v }), Mode::Text)?));
            }
            Ok(Some(ty(shorthand::parse(v).map_err(bad)?, Mode::Text)?))
        }
        Ty::List => {
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| bad("list without member".into()))?;
            let ms = c.shape(member);
            if values.is_empty() {
                return Ok(Some(Value::Array(vec![])));
            }
            if values.len() == 1 && values[0].trim_start().starts_with('[') {
                return Ok(Some(ty(json(&values[0])?, Mode::Json)?));
            }
            if complex(ms) && !is_doc_container(c, shape) && !starts_json(&values[0]) {
                let old = OLD_LIST_CASE
                    .iter()
                    .any(|(s, o, a)| *s == service_cli && *o == op_word && *a == arg_name);
                if old && ms.ty == Ty::Structure && ms.members.len() == 1 {
                    let key = &ms.members[0].name;
                    let items = values
                        .iter()
                        .map(|v| serde_json::json!({ key.as_str(): v }))
                        .collect();
                    return Ok(Some(ty(Value::Array(items), Mode::Text)?));
                }
                let items = values
                    .iter()
                    .map(|v| shorthand::parse(v))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?;
                return Ok(Some(ty(Value::Array(items), Mode::Text)?));
            }
            let mut items = Vec::with_capacity(values.len());
            for v in values {
                items.push(if complex(ms) || ms.document {
                    if !starts_json(v) {
                        return Err(bad("invalid JSON".into()));
                    }
                    json(v)?
                } else {
                    Value::String(v.clone())
                });
            }
            let mode = if complex(ms) || ms.document {
                Mode::Json
            } else {
                Mode::Text
            };
            Ok(Some(ty(Value::Array(items), mode)?))
        }
        Ty::Boolean => {
            // Only customizations take a boolean as a word; awscli: "false" is false.
            Ok(Some(Value::Bool(
                !values[0].eq_ignore_ascii_case("false") && !values[0].is_empty(),
            )))
        }
        _ => Ok(Some(ty(Value::String(values[0].clone()), Mode::Text)?)),
    }
}
