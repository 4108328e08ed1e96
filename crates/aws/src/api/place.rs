//! Where a call lands: the kind of resource it acts on, from the IAM catalog's resource
//! types for its action, named as Terraform names it (`data/resource-types.tsv`) so
//! criticality rules written for plans apply to calls.

use crate::catalog::{catalog, Catalog, DataError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

static RAW: &str = include_str!("../../data/resource-types.tsv");

/// (service, IAM resource type) -> Terraform type.
fn table() -> &'static HashMap<(&'static str, &'static str), &'static str> {
    static T: OnceLock<HashMap<(&'static str, &'static str), &'static str>> = OnceLock::new();
    T.get_or_init(|| parse(RAW).expect("embedded resource-types.tsv is well-formed"))
}

fn parse(
    raw: &'static str,
) -> Result<HashMap<(&'static str, &'static str), &'static str>, DataError> {
    let mut out = HashMap::new();
    for (n, line) in raw.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |why: String| DataError::at("resource-types.tsv", n + 1, why);
        let f: Vec<&'static str> = line.split('\t').collect();
        let [svc, rt, tf] = f[..] else {
            return Err(at("expected 3 fields".into()));
        };
        if out.insert((svc, rt), tf).is_some() {
            return Err(at(format!("{svc} {rt} twice")));
        }
    }
    Ok(out)
}

/// The IAM resource type a catalog action acts on: among its required types the one the
/// action is named after (`instance` for `RunInstances`), else the one of its types it
/// is named after (`object` for `PutObject`), else its only required type, else its
/// only type. `None` when the catalog does not say which one.
pub fn target_kind(cat: &Catalog, action: usize) -> Option<&'static str> {
    let types: Vec<(&'static str, bool)> = cat.actions[action]
        .resource_types
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_suffix('*') {
            Some(t) => (t, true),
            None => (t, false),
        })
        .collect();
    let required: Vec<&str> = types.iter().filter(|t| t.1).map(|t| t.0).collect();
    let all: Vec<&str> = types.iter().map(|t| t.0).collect();
    let name = cat.actions[action].name.to_ascii_lowercase();
    // Among several types the name holds, the one that holds the others
    // (`RemoveFromGlobalCluster`: global-cluster, not cluster), else the one the name
    // ends with (`CreateDBSnapshot`: snapshot, not db).
    let named = |among: &[&'static str]| -> Option<&'static str> {
        let folded = |t: &str| t.replace('-', "").to_ascii_lowercase();
        let hits: Vec<(&'static str, String)> = among
            .iter()
            .map(|t| (*t, folded(t)))
            .filter(|(_, f)| name.contains(f.as_str()))
            .collect();
        if let [(one, _)] = hits[..] {
            return Some(one);
        }
        let widest = hits
            .iter()
            .find(|(_, f)| hits.iter().all(|(_, g)| f.contains(g.as_str())));
        let last = || {
            let mut ends = hits.iter().filter(|(_, f)| name.ends_with(f.as_str()));
            match (ends.next(), ends.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        };
        widest.or_else(last).map(|(t, _)| *t)
    };
    named(&required)
        .or_else(|| named(&all))
        .or(match (required.as_slice(), all.as_slice()) {
            ([one], _) | ([], [one]) => Some(*one),
            _ => None,
        })
}

/// The resource type name for a catalog action's target: the Terraform type when known
/// (`aws_db_instance`), else `aws:<service>:<IAM type>`. `None` when the catalog does
/// not say what the action acts on. Worked out once for every action on first use, so
/// the detector's hot path only indexes.
pub fn resource_type(action: usize) -> Option<&'static str> {
    static ALL: OnceLock<Vec<Option<Box<str>>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let cat = catalog();
        (0..cat.len())
            .map(|i| {
                let kind = target_kind(cat, i)?;
                let service = cat.services[cat.actions[i].service as usize].prefix;
                Some(match table().get(&(service, kind)) {
                    Some(tf) => (*tf).into(),
                    None => ["aws:", service, ":", kind].concat().into(),
                })
            })
            .collect()
    })
    .get(action)?
    .as_deref()
}

/// The resource type name for an IAM resource type of a service (`secretsmanager`,
/// `Secret` -> `aws_secretsmanager_secret`), as [`resource_type`] names it. `None` when
/// the catalog has no such type.
pub fn type_name(service: &str, kind: &str) -> Option<Cow<'static, str>> {
    let s = catalog().service(service)?;
    let (kind, _) = s.resources.iter().find(|(r, _)| *r == kind)?;
    Some(match table().get(&(s.prefix, *kind)) {
        Some(tf) => Cow::Borrowed(*tf),
        None => Cow::Owned(["aws:", s.prefix, ":", kind].concat()),
    })
}

/// The resource type an ARN names, by the catalog's ARN patterns for its service
/// (`arn:aws:iam::1:role/x` -> `aws_iam_role`): the pattern with the most literal text
/// that matches. `None` for what is not an ARN or matches no pattern.
pub fn arn_type(arn: &str) -> Option<Cow<'static, str>> {
    let mut f = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(_), Some(rest)) =
        (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return None;
    };
    let mut best: Option<(usize, &str, &str)> = None;
    for (prefix, kind, pattern) in arn_patterns().get(service)? {
        let literal = pattern
            .split("${")
            .map(|p| p.split_once('}').map_or(p, |x| x.1).len());
        if glob(pattern, rest) {
            let weight = literal.sum();
            if best.is_none_or(|b| weight > b.0) {
                best = Some((weight, prefix, kind));
            }
        }
    }
    let (_, prefix, kind) = best?;
    type_name(prefix, kind)
}

/// The resource part of every catalog ARN pattern (after `arn:partition:service:region:
/// account:`), by the service the ARN names (`s3` for S3 buckets the `ssm` catalog
/// entry lists too): (catalog prefix, resource type, pattern).
fn arn_patterns() -> &'static HashMap<&'static str, Vec<(&'static str, &'static str, &'static str)>>
{
    type Patterns = HashMap<&'static str, Vec<(&'static str, &'static str, &'static str)>>;
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let mut out: Patterns = HashMap::new();
        for s in &catalog().services {
            for (kind, pattern) in &s.resources {
                let mut f = pattern.splitn(6, ':');
                let (Some(_), Some(_), Some(service), Some(_), Some(_), Some(rest)) =
                    (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
                else {
                    continue;
                };
                // Prefer the service's own entry over another's copy of its pattern.
                let list = out.entry(service).or_default();
                if service == s.prefix {
                    list.insert(0, (s.prefix, kind, rest));
                } else {
                    list.push((s.prefix, kind, rest));
                }
            }
        }
        out
    })
}

/// `${Var}` matches any non-empty text; the rest matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some(at) = pattern.find("${") else {
        return pattern == text;
    };
    let (lit, rest) = pattern.split_at(at);
    let Some(text) = text.strip_prefix(lit) else {
        return false;
    };
    let rest = rest.split_once('}').map_or("", |x| x.1);
    (1..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .any(|i| glob(rest, &text[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_named() {
        let e = parse("iam\trole\taws_iam_role\niam\trole\tx\n").unwrap_err();
        assert_eq!(e.to_string(), "resource-types.tsv line 2: iam role twice");
        assert_eq!(parse("a\tb\n").unwrap_err().line, Some(1));
    }

    fn rtype(action: &str) -> Option<&'static str> {
        resource_type(catalog().lookup(action).unwrap())
    }

    #[test]
    fn every_line_names_a_catalog_resource_type() {
        let cat = catalog();
        for (svc, rt) in table().keys() {
            let s = cat
                .service(svc)
                .unwrap_or_else(|| panic!("no service {svc}"));
            assert!(
                s.resources.iter().any(|(r, _)| r == rt),
                "{svc} has no resource type {rt}"
            );
        }
    }

    #[test]
    fn targets_by_action() {
        assert_eq!(rtype("rds:ModifyDBInstance"), Some("aws_db_instance"));
        assert_eq!(rtype("ec2:RunInstances"), Some("aws_instance"));
        assert_eq!(rtype("s3:PutObject"), Some("aws_s3_object"));
        assert_eq!(rtype("rds:ModifyDBCluster"), Some("aws_rds_cluster"));
        assert_eq!(rtype("a2c:StartDeploymentJob"), None);
        // Tags go on dozens of kinds; the catalog does not say which.
        assert_eq!(rtype("ec2:CreateTags"), None);
    }
}
