//! The parameters that carry a write's risk. A call whose risky parameters are missing,
//! null or of the wrong type is not "no effect": it is `Unknown` (parameters), which the
//! policies review. Structure-typed parameters written as a JSON string
//! (`"IpPermissions": "[{...}]"`) are parsed first, as the rules read structures.

use super::*;
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Kind {
    /// A string.
    Str,
    /// A list of strings, or one string (the flat query form).
    List,
    /// A structure or a list of structures (JSON in a string is parsed).
    Structure,
    /// A JSON policy document: an object, or a string holding one (possibly URL-encoded).
    Document,
    /// Anything but null.
    Any,
    /// A boolean (`true`/`false`, or the strings the query protocols send).
    Bool,
    /// One of an enumeration's values, exactly as AWS spells them (AWS refuses others,
    /// and parapet cannot say what a value it does not know would do).
    OneOf(&'static [&'static str]),
}

use Kind::*;

/// (service, operations, parameters of which at least one must be readable).
/// Every parameter that is given must be readable too. Names are matched ignoring
/// case, so CloudTrail's camelCase reads the same.
/// One table row: service, operations, risky parameters with the kind each takes.
type Row = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, Kind)],
);

pub(super) const REQUIRED: &[Row] = &[
    (
        "ec2",
        &["AuthorizeSecurityGroupIngress"],
        &[
            ("IpPermissions", Structure),
            ("CidrIp", Str),
            ("CidrIpv6", Str),
            ("SourceSecurityGroupName", Str),
            ("SourceSecurityGroupOwnerId", Str),
        ],
    ),
    (
        "ec2",
        &["ModifySecurityGroupRules"],
        &[
            ("SecurityGroupRules", Structure),
            ("SecurityGroupRule", Structure),
            // CloudTrail's record of the call.
            ("ModifySecurityGroupRulesRequest", Structure),
        ],
    ),
    (
        "ec2",
        &["CreateNetworkAclEntry", "ReplaceNetworkAclEntry"],
        &[("CidrBlock", Str), ("Ipv6CidrBlock", Str)],
    ),
    (
        "ec2",
        &["ModifySnapshotAttribute"],
        &[
            ("CreateVolumePermission", Structure),
            ("UserIds", List),
            ("GroupNames", List),
        ],
    ),
    (
        "ec2",
        &["ModifyImageAttribute"],
        &[
            ("LaunchPermission", Structure),
            ("UserIds", List),
            ("GroupNames", List),
            ("OrganizationArns", List),
            ("OrganizationalUnitArns", List),
            ("Description", Any),
            ("ImdsSupport", Any),
            ("ProductCodes", List),
            ("Value", Any),
        ],
    ),
    (
        "rds",
        &[
            "ModifyDBSnapshotAttribute",
            "ModifyDBClusterSnapshotAttribute",
        ],
        &[("AttributeName", Str)],
    ),
    (
        "iam",
        &["AttachRolePolicy", "AttachUserPolicy", "AttachGroupPolicy"],
        &[("PolicyArn", Str)],
    ),
    (
        "s3",
        &["PutBucketPolicy"],
        &[("bucketPolicy", Document), ("Policy", Document)],
    ),
    (
        "s3",
        &["PutBucketAcl", "PutObjectAcl"],
        &[
            ("ACL", List),
            ("x-amz-acl", List),
            ("AccessControlPolicy", Structure),
            ("GrantRead", Str),
            ("GrantReadACP", Str),
            ("GrantWrite", Str),
            ("GrantWriteACP", Str),
            ("GrantFullControl", Str),
        ],
    ),
    (
        "s3",
        &[
            "PutPublicAccessBlock",
            "PutBucketPublicAccessBlock",
            "PutAccountPublicAccessBlock",
        ],
        &[
            ("PublicAccessBlockConfiguration", Structure),
            ("publicAccessBlock", Structure),
        ],
    ),
    (
        "s3",
        &["PutBucketReplication"],
        &[("ReplicationConfiguration", Structure)],
    ),
    (
        "s3",
        &["PutBucketVersioning"],
        &[("VersioningConfiguration", Structure)],
    ),
    (
        "lambda",
        &["AddPermission", "AddLayerVersionPermission"],
        &[("Principal", Str)],
    ),
    (
        "lambda",
        &["CreateFunctionUrlConfig"],
        &[("AuthType", OneOf(FUNCTION_URL_AUTH))],
    ),
    (
        "s3",
        &[
            "PutBucketLifecycleConfiguration",
            "PutBucketLifecycle",
            "PutLifecycleConfiguration",
        ],
        &[("LifecycleConfiguration", Structure)],
    ),
    ("eks", &["AssociateAccessPolicy"], &[("PolicyArn", Str)]),
    ("ecr", &["SetRepositoryPolicy"], &[("PolicyText", Document)]),
    ("sqs", &["SetQueueAttributes"], &[("Attributes", Structure)]),
    (
        "sqs",
        &["AddPermission"],
        &[("AWSAccountIds", List), ("Actions", List)],
    ),
    (
        "sns",
        &["AddPermission"],
        &[("AWSAccountId", List), ("ActionName", List)],
    ),
    ("sns", &["SetTopicAttributes"], &[("AttributeName", Str)]),
    ("kms", &["PutKeyPolicy"], &[("Policy", Document)]),
    ("kms", &["CreateGrant"], &[("GranteePrincipal", Str)]),
    (
        "s3",
        &[
            "PutAccessPointPolicy",
            "PutAccessPointPolicyForObjectLambda",
        ],
        &[("Policy", Document)],
    ),
    (
        "s3",
        &["PutMultiRegionAccessPointPolicy"],
        &[("Details", Structure)],
    ),
    (
        "secretsmanager",
        &["PutResourcePolicy"],
        &[("ResourcePolicy", Document)],
    ),
];

/// Lambda function URL `AuthType` values (Lambda API reference, `FunctionUrlAuthType`).
const FUNCTION_URL_AUTH: &[&str] = &["NONE", "AWS_IAM"];

/// Parameters that carry risk when given but may be left out (the setting then stays as
/// it is, or takes a default the rules know): each one given must be readable. A dotted
/// name is a member of a structure (`ResourcesVpcConfig.EndpointPublicAccess`).
pub(super) const CHECKED_IF_GIVEN: &[Row] = &[
    (
        "rds",
        &[
            "CreateDBInstance",
            "ModifyDBInstance",
            "CreateDBCluster",
            "ModifyDBCluster",
            "RestoreDBInstanceFromDBSnapshot",
            "RestoreDBClusterFromSnapshot",
            "RestoreDBInstanceToPointInTime",
        ],
        &[("PubliclyAccessible", Bool)],
    ),
    (
        "lambda",
        &["UpdateFunctionUrlConfig"],
        &[("AuthType", OneOf(FUNCTION_URL_AUTH))],
    ),
    (
        "eks",
        &["CreateCluster", "UpdateClusterConfig"],
        &[
            ("ResourcesVpcConfig", Structure),
            ("ResourcesVpcConfig.EndpointPublicAccess", Bool),
            ("ResourcesVpcConfig.PublicAccessCidrs", List),
        ],
    ),
    (
        "eks",
        &["CreateAccessEntry", "UpdateAccessEntry"],
        &[("KubernetesGroups", List)],
    ),
    ("ec2", &["RunInstances"], &[("InstanceType", Str)]),
];

fn find(table: &'static [Row], service: &str, op: &str) -> Option<&'static [(&'static str, Kind)]> {
    table
        .iter()
        .find(|(s, ops, _)| *s == service && ops.contains(&op))
        .map(|(_, _, keys)| *keys)
}

fn entry(service: &str, op: &str) -> Option<&'static [(&'static str, Kind)]> {
    find(REQUIRED, service, op)
}

/// Whether either table lists `key` for the operation (so [`check`] reports it).
pub(super) fn covers(service: &str, op: &str, key: &str) -> bool {
    [
        find(REQUIRED, service, op),
        find(CHECKED_IF_GIVEN, service, op),
    ]
    .into_iter()
    .flatten()
    .any(|keys| keys.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)))
}

/// A parameter by name; a dotted name walks into structures.
fn param<'a>(p: P<'a>, key: &str) -> P<'a> {
    key.split('.').fold(p, |v, k| v.get(k))
}

/// CloudTrail records query-string flags of S3 subresources as `"acl": [""]`,
/// `"policy": [""]`: a placeholder, not a value.
fn placeholder(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.iter().all(|x| x.as_str() == Some("")))
}

/// The parameters with every structure-typed risky parameter that was written as a JSON
/// string parsed; `None` when there is nothing to parse (the common case: no copy).
pub fn coerce(service: &str, op: &str, params: &Value) -> Option<Value> {
    let keys = entry(service, op)?;
    let obj = params.as_object()?;
    let mut out: Option<serde_json::Map<String, Value>> = None;
    for (k, v) in obj {
        let Value::String(s) = v else { continue };
        let structured = keys
            .iter()
            .any(|(key, kind)| *kind == Structure && key.eq_ignore_ascii_case(k));
        let t = s.trim();
        if !structured || !(t.starts_with('[') || t.starts_with('{')) {
            continue;
        }
        if let Ok(parsed @ (Value::Array(_) | Value::Object(_))) = serde_json::from_str(t) {
            out.get_or_insert_with(|| obj.clone())
                .insert(k.clone(), parsed);
        }
    }
    out.map(Value::Object)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a structure",
    }
}

/// Why a given value cannot be read as `kind`, or `None` when it can.
fn unreadable(v: P, kind: Kind) -> Option<String> {
    let ok = match (kind, v.0) {
        (Any, _) => true,
        (Bool, Value::Bool(_)) => true,
        (Bool, Value::String(_)) => v.bool().is_some(),
        (OneOf(values), Value::String(s)) => values.contains(&s.as_str()),
        (Str, Value::String(s)) => !s.trim().is_empty(),
        (List, Value::String(_)) => true,
        (List, Value::Array(a)) => a.iter().all(|x| x.is_string()),
        (List, Value::Object(_)) => !v.strings().is_empty(),
        (Structure, Value::Object(_) | Value::Array(_)) => true,
        (Document, Value::Object(_) | Value::String(_)) => v
            .document()
            .is_some_and(|d| d.is_object() && parse_policy(&d).is_ok()),
        _ => false,
    };
    if ok {
        return None;
    }
    let takes = match kind {
        Str => "a non-empty string",
        List => "a list of strings",
        Structure => "a structure or a list of structures",
        Document => "a JSON policy document",
        Any => "a value",
        Bool => "true or false",
        OneOf(values) => {
            return Some(format!(
                "{} where the API takes one of {}",
                match v.0 {
                    Value::String(s) => format!("{s:?}"),
                    other => type_name(other).to_string(),
                },
                values.join(", ")
            ))
        }
    };
    Some(match v.0 {
        Value::String(_) if kind == Structure => {
            format!("a string that is not JSON, where the API takes {takes}")
        }
        Value::String(_) if kind == Document => {
            format!("a string that is not a readable policy, where the API takes {takes}")
        }
        other => format!("{} where the API takes {takes}", type_name(other)),
    })
}

/// Adds an `Unknown` (parameters) effect when the call's risky parameters cannot be read.
pub(super) fn check(c: &Ctx, out: &mut Out) {
    let mut why = Vec::new();
    if let Some(keys) = find(CHECKED_IF_GIVEN, c.service, c.op) {
        for (key, kind) in keys {
            let v = param(c.p, key);
            if v.is_null() || placeholder(v.0) {
                continue;
            }
            if let Some(w) = unreadable(v, *kind) {
                why.push(format!("{key} is {w}"));
            }
        }
    }
    if c.service == "ec2" && c.op == "RunInstances" {
        launch_template(c, &mut why);
    }
    let Some(keys) = entry(c.service, c.op) else {
        report(c, out, why);
        return;
    };
    let mut readable = false;
    let before = why.len();
    for (key, kind) in keys {
        let v = c.p.get(key);
        if v.is_null() || placeholder(v.0) {
            continue;
        }
        match unreadable(v, *kind) {
            None => readable = true,
            Some(w) => why.push(format!("{key} is {w}")),
        }
    }
    if why.len() == before && !readable {
        let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        why.push(if names.len() == 1 {
            format!("{} is not given (or is null)", names[0])
        } else {
            format!("none of {} is given (or all are null)", names.join(", "))
        });
    }
    report(c, out, why);
}

/// A launch from a launch template without its own instance type: the type is the
/// template's, which parapet cannot read offline, so it may be a GPU or very large one.
fn launch_template(c: &Ctx, why: &mut Vec<String>) {
    if !c.p.get("InstanceType").is_null() {
        return;
    }
    let template = c.p.get("LaunchTemplate");
    if template.is_null() {
        return;
    }
    let name = template
        .any(&["LaunchTemplateName", "LaunchTemplateId"])
        .str()
        .unwrap_or("(unnamed)");
    why.push(format!(
        "the instance type comes from launch template {name}, which parapet cannot read offline (it may be a GPU or very large type); give InstanceType to judge it"
    ));
}

fn report(c: &Ctx, out: &mut Out, why: Vec<String>) {
    if why.is_empty() {
        return;
    }
    out.effects.push(Effect::Unknown {
        resource: c.named_target(),
        unrecognised: parapet_model::Unrecognised::Parameters,
        name: [c.service, ":", c.op].concat(),
        why: why.join("; "),
    });
}
