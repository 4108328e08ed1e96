//! Which service and operation a request is: by X-Amz-Target (json), the rpc-v2-cbor
//! path, Action/Version (query, ec2), or method + request URI template (rest), among the
//! services that share the request's signing name.

use crate::models::{Service, ServiceModels};
use crate::shape::Operation;
use crate::template::split_path;
use crate::text::{host_only, is_ip, parse_pairs};
use crate::{query, rest, Head, Protocol, Route, WireError};

/// Routing settings beyond the request itself.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The host names clients use to reach the proxy (`AWS_ENDPOINT_URL`'s host, no port):
    /// `<bucket>.<one of these>` is an S3 virtual-hosted request, the host itself path style.
    pub endpoint_hosts: Vec<String>,
}

/// [`route_with`] with default [`Routing`].
pub fn route<'m>(
    models: &'m ServiceModels,
    head: &Head,
    signing_name: &str,
    body: Option<&[u8]>,
) -> Result<Route<'m>, WireError> {
    route_with(models, head, signing_name, body, &Routing::default())
}

/// Signing names that S3's endpoint rules give some operations (their `authSchemes`), not
/// the models' metadata: S3 Object Lambda's WriteGetObjectResponse, directory buckets'
/// CreateSession and ListDirectoryBuckets, S3 on Outposts.
const S3_SIGNING_ALIASES: [&str; 3] = ["s3-object-lambda", "s3express", "s3-outposts"];

fn group<'m>(models: &'m ServiceModels, signing_name: &str) -> Vec<&'m Service> {
    if S3_SIGNING_ALIASES.contains(&signing_name) {
        return models.by_signing_name("s3");
    }
    models.by_signing_name(signing_name)
}

/// Whether a request signed for `signing_name` may need its body to route: a service of
/// that name speaks query or ec2 (the Action is usually in the form body).
pub fn needs_body_to_route(models: &ServiceModels, signing_name: &str) -> bool {
    group(models, signing_name)
        .iter()
        .any(|s| s.speaks(Protocol::Query) || s.speaks(Protocol::Ec2))
}

fn unknown(service: &str, detail: String) -> WireError {
    WireError::UnknownOperation {
        service: service.to_string(),
        detail,
    }
}

fn one_header<'h>(head: &'h Head, name: &str, service: &str) -> Result<Option<&'h str>, WireError> {
    let mut it = head.headers.get_all(name).iter();
    let Some(v) = it.next() else { return Ok(None) };
    let bad = |reason: String| WireError::BadRequest {
        service: service.to_string(),
        reason,
    };
    if it.next().is_some() {
        return Err(bad(format!("header {name} given more than once")));
    }
    v.to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| bad(format!("header {name} is not visible ASCII")))
}

/// Routes a request signed for `signing_name` (its SigV4 credential scope service).
pub fn route_with<'m>(
    models: &'m ServiceModels,
    head: &Head,
    signing_name: &str,
    body: Option<&[u8]>,
    opts: &Routing,
) -> Result<Route<'m>, WireError> {
    let group = group(models, signing_name);
    if group.is_empty() {
        return Err(WireError::UnknownService {
            signing_name: signing_name.to_string(),
        });
    }
    let host = head.host.map(host_only);
    if let Some(target) = one_header(head, "x-amz-target", signing_name)? {
        return by_target(&group, target, host.as_deref(), signing_name);
    }
    if let Some(p) = one_header(head, "smithy-protocol", signing_name)? {
        if p != "rpc-v2-cbor" {
            return Err(unknown(
                signing_name,
                format!("smithy-protocol {p:?} is not supported"),
            ));
        }
        return by_cbor_path(&group, head, signing_name);
    }
    let speaks_query = group
        .iter()
        .any(|s| s.speaks(Protocol::Query) || s.speaks(Protocol::Ec2));
    let rest: Vec<&Service> = group
        .iter()
        .copied()
        .filter(|s| s.speaks(Protocol::RestJson) || s.speaks(Protocol::RestXml))
        .collect();
    if speaks_query {
        let form = head.method.eq_ignore_ascii_case("POST") && query::is_form(head);
        if form && body.is_none() {
            return Err(WireError::BodyRequired {
                service: signing_name.to_string(),
            });
        }
        let in_query = parse_pairs(head.query)
            .map(|p| p.iter().any(|(k, _)| k == "Action"))
            .unwrap_or(true);
        if form || in_query || rest.is_empty() {
            return by_action(&group, head, if form { body } else { None }, signing_name);
        }
        // iam and iam-toolbox, ses and sesv2...: not a query request, so a rest one.
        return by_uri(&rest, head, host.as_deref(), signing_name, opts).map_err(|e| match e {
            WireError::UnknownOperation { service, detail } => WireError::UnknownOperation {
                service,
                detail: format!("no Action parameter, and {detail}"),
            },
            e => e,
        });
    }
    by_uri(&rest, head, host.as_deref(), signing_name, opts)
}

fn route_of<'m>(
    s: &'m Service,
    op: &'m Operation,
    protocol: Protocol,
    host_bucket: Option<String>,
) -> Route<'m> {
    Route {
        service: s,
        operation: &op.name,
        body: op.body,
        protocol,
        host_bucket,
        op,
    }
}

/// Whether the host names this service's endpoint (`runtime.sagemaker.<region>...`).
fn host_names(host: Option<&str>, s: &Service) -> bool {
    let Some(h) = host else { return false };
    let p = &s.endpoint_prefix;
    h.strip_prefix(p.as_str())
        .is_some_and(|r| r.starts_with('.'))
        || h.match_indices(p.as_str())
            .any(|(i, _)| h[..i].ends_with('.') && h[i + p.len()..].starts_with('.'))
}

fn by_target<'m>(
    group: &[&'m Service],
    target: &str,
    host: Option<&str>,
    sn: &str,
) -> Result<Route<'m>, WireError> {
    // Prefixes may hold dots (com.amazonaws.codeconnections.CodeConnections_20231201).
    let (prefix, op) = target.rsplit_once('.').ok_or_else(|| {
        unknown(
            sn,
            format!("X-Amz-Target {target:?} is not <prefix>.<Operation>"),
        )
    })?;
    let mut found: Vec<(&Service, &Operation)> = Vec::new();
    for s in group {
        if s.speaks(Protocol::Json) && s.target_prefix.as_deref() == Some(prefix) {
            if let Some(o) = s.compiled()?.op(op) {
                found.push((s, o));
            }
        }
    }
    // Services sharing a target prefix (timestream-query and -write): the host decides.
    found.sort_by_key(|(s, _)| !host_names(host, s));
    let (s, o) = found
        .first()
        .ok_or_else(|| unknown(sn, format!("no operation for X-Amz-Target {target:?}")))?;
    Ok(route_of(s, o, Protocol::Json, None))
}

fn by_cbor_path<'m>(group: &[&'m Service], head: &Head, sn: &str) -> Result<Route<'m>, WireError> {
    let bad = || {
        unknown(
            sn,
            format!(
                "rpc-v2-cbor path {:?} is not /service/<Name>/operation/<Op>",
                head.path
            ),
        )
    };
    let rest = head.path.strip_prefix("/service/").ok_or_else(bad)?;
    let (name, op) = rest.split_once("/operation/").ok_or_else(bad)?;
    if !head.method.eq_ignore_ascii_case("POST") || op.contains('/') {
        return Err(bad());
    }
    for s in group.iter().filter(|s| s.speaks(Protocol::RpcV2Cbor)) {
        let Some(tp) = s.target_prefix.as_deref() else {
            continue;
        };
        // botocore writes the target prefix; Smithy the service shape's name.
        if tp == name || tp.rsplit('.').next() == Some(name) {
            if let Some(o) = s.compiled()?.op(op) {
                return Ok(route_of(s, o, Protocol::RpcV2Cbor, None));
            }
        }
    }
    Err(unknown(sn, format!("no rpc-v2-cbor operation {name}/{op}")))
}

fn by_action<'m>(
    group: &[&'m Service],
    head: &Head,
    body: Option<&[u8]>,
    sn: &str,
) -> Result<Route<'m>, WireError> {
    let pairs = query::pairs(head, body).map_err(|reason| WireError::BadRequest {
        service: sn.to_string(),
        reason,
    })?;
    let action =
        query::get(&pairs, "Action").ok_or_else(|| unknown(sn, "no Action parameter".into()))?;
    let version = query::get(&pairs, "Version");
    let mut found: Vec<(&Service, &Operation)> = Vec::new();
    for s in group {
        if !(s.speaks(Protocol::Query) || s.speaks(Protocol::Ec2)) {
            continue;
        }
        if version.is_some_and(|v| v != s.api_version) {
            continue;
        }
        if let Some(o) = s.compiled()?.op(action) {
            found.push((s, o));
        }
    }
    // rds, docdb and neptune share name, version and actions: the service the signing name
    // is named after (the superset) first, then the one with more operations.
    found.sort_by_key(|(s, _)| {
        (
            s.id != sn,
            std::cmp::Reverse(s.compiled().map(|c| c.ops.len()).unwrap_or(0)),
        )
    });
    let (s, o) = found.first().ok_or_else(|| {
        let v = version
            .map(|v| format!(" with Version {v:?}"))
            .unwrap_or_default();
        unknown(sn, format!("no action {action:?}{v}"))
    })?;
    let protocol = if s.speaks(Protocol::Ec2) {
        Protocol::Ec2
    } else {
        Protocol::Query
    };
    Ok(route_of(s, o, protocol, None))
}

/// The path the URI templates see: a virtual-hosted S3 request's bucket put back in front.
pub(crate) fn effective_path(path: &str, bucket: Option<&str>) -> String {
    match bucket {
        Some(b) if path == "/" || path.is_empty() => format!("/{b}"),
        Some(b) => format!("/{b}{path}"),
        None => path.to_string(),
    }
}

/// The bucket a virtual-hosted S3 request names in its Host (see the crate docs).
pub(crate) fn s3_bucket(host: &str, opts: &Routing) -> Option<String> {
    if is_ip(host) {
        return None;
    }
    let valid = |b: &str| {
        !b.is_empty()
            && b.bytes().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'_'
            })
    };
    for e in &opts.endpoint_hosts {
        let e = host_only(e);
        if host == e {
            return None;
        }
        if let Some(b) = host
            .strip_suffix(e.as_str())
            .and_then(|b| b.strip_suffix('.'))
        {
            return valid(b).then(|| b.to_string());
        }
    }
    if let Some(b) = host.strip_suffix(".localhost") {
        return valid(b).then(|| b.to_string());
    }
    let aws = [
        ".amazonaws.com",
        ".amazonaws.com.cn",
        ".amazonaws.eu",
        ".c2s.ic.gov",
        ".sc2s.sgov.gov",
    ];
    if !aws.iter().any(|s| host.ends_with(s)) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let i = labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-") || l.starts_with("s3express"))?;
    // Hosts of S3 Control and of object lambda and outposts endpoints carry an account or
    // route label (the operation's host prefix), not a bucket.
    if i == 0
        || matches!(labels[i], "s3-control" | "s3-object-lambda" | "s3-outposts")
        || labels[i].starts_with("s3express-control")
    {
        return None;
    }
    let b = labels[..i].join(".");
    valid(&b).then_some(b)
}

fn by_uri<'m>(
    services: &[&'m Service],
    head: &Head,
    host: Option<&str>,
    sn: &str,
    opts: &Routing,
) -> Result<Route<'m>, WireError> {
    if services.is_empty() {
        return Err(unknown(
            sn,
            "no X-Amz-Target, Action or URI to route by".into(),
        ));
    }
    // Object lambda and outposts hosts carry a route or access point label, not a bucket.
    let bucket = if sn == "s3" || sn == "s3express" {
        host.and_then(|h| s3_bucket(h, opts))
    } else {
        None
    };
    let path = effective_path(head.path, bucket.as_deref());
    let pairs = parse_pairs(head.query).map_err(|reason| WireError::BadRequest {
        service: sn.to_string(),
        reason,
    })?;
    let x_id = query::get(&pairs, "x-id");
    let segs = split_path(&path)
        .ok_or_else(|| unknown(sn, format!("path {:?} does not start with /", head.path)))?;
    // A host that names some of these services' endpoints limits the choice to them.
    let named: Vec<&Service> = services
        .iter()
        .copied()
        .filter(|s| host_names(host, s))
        .collect();
    let pool = if named.is_empty() {
        services
    } else {
        &named[..]
    };
    let express = sn == "s3express" || host.is_some_and(|h| h.starts_with("s3express-control."));
    let mut best: Option<(Score, &Service, &Operation)> = None;
    for s in pool {
        let c = s.compiled()?;
        for o in &c.ops {
            if !o.method.eq_ignore_ascii_case(head.method) || x_id.is_some_and(|x| x != o.name) {
                continue;
            }
            if o.uri.match_segments(&segs).is_none() {
                continue;
            }
            let literals_ok = o.uri.query.iter().all(|(k, v)| {
                pairs
                    .iter()
                    .any(|(pk, pv)| pk == k && v.as_deref().is_none_or(|v| v == pv))
            });
            if !literals_ok {
                continue;
            }
            let required = match &o.input {
                Some(r) => match rest::present(c, r, head, &pairs) {
                    Some(n) => n,
                    None => continue,
                },
                None => 0,
            };
            let known_query = match &o.input {
                Some(r) => rest::known_query_keys(c, r, &pairs),
                None => 0,
            };
            let score = Score {
                query_literals: o.uri.query.len(),
                literal_len: o.uri.literal_len,
                not_greedy: !o.uri.greedy,
                required,
                endpoint: o.s3express == express,
                known_query,
                current: !o.deprecated,
                name: std::cmp::Reverse(o.name.as_str()),
            };
            if best.as_ref().is_none_or(|(b, _, _)| score > *b) {
                best = Some((score, s, o));
            }
        }
    }
    let (_, s, o) = best.ok_or_else(|| {
        unknown(
            sn,
            format!("no operation matches {} {}", head.method, head.path),
        )
    })?;
    let protocol = if s.speaks(Protocol::RestXml) {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    };
    Ok(route_of(s, o, protocol, bucket))
}

/// The most specific match wins: literal query parts, literal path text, no greedy label,
/// more required query/header members present, the right S3 endpoint family (directory
/// buckets' operations sign as s3express), more of the query's keys known to the
/// operation, not deprecated; the name last, so the choice is deterministic.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Score<'a> {
    query_literals: usize,
    literal_len: usize,
    not_greedy: bool,
    required: usize,
    endpoint: bool,
    known_query: usize,
    current: bool,
    name: std::cmp::Reverse<&'a str>,
}
