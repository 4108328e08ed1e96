//! Where a call lands: the kind of resource it acts on, from the IAM catalog's resource
//! types for its action, named as Terraform names it (`data/resource-types.tsv`) so
//! criticality rules written for plans apply to calls.

use crate::catalog::{catalog, Catalog};
use std::collections::HashMap;
use std::sync::OnceLock;

static RAW: &str = include_str!("../../data/resource-types.tsv");

/// (service, IAM resource type) -> Terraform type.
fn table() -> &'static HashMap<(&'static str, &'static str), &'static str> {
    static T: OnceLock<HashMap<(&'static str, &'static str), &'static str>> = OnceLock::new();
    T.get_or_init(|| parse(RAW).expect("embedded resource-types.tsv is well-formed"))
}

fn parse(raw: &'static str) -> Result<HashMap<(&'static str, &'static str), &'static str>, String> {
    let mut out = HashMap::new();
    for (n, line) in raw.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&'static str> = line.split('\t').collect();
        let [svc, rt, tf] = f[..] else {
            return Err(format!(
                "resource-types.tsv line {}: expected 3 fields",
                n + 1
            ));
        };
        if out.insert((svc, rt), tf).is_some() {
            return Err(format!(
                "resource-types.tsv line {}: {svc} {rt} twice",
                n + 1
            ));
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
    let named = |among: &[&'static str]| -> Option<&'static str> {
        let mut hits = among
            .iter()
            .filter(|t| name.contains(&t.replace('-', "").to_ascii_lowercase()));
        match (hits.next(), hits.next()) {
            (Some(one), None) => Some(*one),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
