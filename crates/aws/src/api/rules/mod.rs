//! Per-operation knowledge: which calls destroy, expose, share, grant, or blind.

use super::params::P;
use crate::catalog::{catalog, AccessLevel};
use crate::iam::{
    account_of, aws_managed_policy, grant_delta, is_aws_managed_arn, parse_policy, trust_grants,
    Permissions, Principal,
};
use crate::network::classify_source;
use parapet_model::{Certainty, DataFate, DefenseEvasion, Effect, Grant, PortRange, ShareTarget};

mod access;
mod iam;
mod lifecycle;
mod network;
mod required;
mod technique;

use access::{rds_share, replication, resource_policy, share};
use iam::{credential, iam_attach, iam_document, iam_trust};
use lifecycle::{destruction, evasion};
use network::{ingress, nacl};
pub use required::coerce;
use technique::techniques;

pub struct Ctx<'a> {
    pub service: &'a str,
    pub op: &'a str,
    pub resource: &'a str,
    pub p: P<'a>,
    pub own_account: Option<&'a str>,
}

pub struct Out {
    pub effects: Vec<Effect>,
    pub resource_type: Option<&'static str>,
    pub destroys: bool,
    pub data_bearing: bool,
}

/// Parameters that name the target of a call, most specific first (matched ignoring
/// case: the API's `DBInstanceIdentifier` is CloudTrail's `dBInstanceIdentifier`).
/// Detection reads the same list for the resource an event names.
pub const ID_KEYS: &[&str] = &[
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "DBSnapshotIdentifier",
    "TableName",
    "Bucket",
    "bucketName",
    "VolumeId",
    "SnapshotId",
    "InstanceIds",
    "InstanceId",
    "KeyId",
    "SecretId",
    "RepositoryName",
    "FileSystemId",
    "FunctionName",
    "LogGroupName",
    "QueueUrl",
    "StreamName",
    "DomainName",
    "ClusterIdentifier",
    "ClusterName",
    "CacheClusterId",
    "ReplicationGroupId",
    "BackupVaultName",
    "RoleName",
    "UserName",
    "DetectorId",
    "ConfigurationRecorderName",
    "DeliveryChannelName",
    "ResolverQueryLogConfigId",
    "FlowLogIds",
    "TrailName",
    "AnalyzerName",
    "GroupId",
    "NetworkAclId",
    "ImageId",
    "PolicyArn",
    "Name",
];

impl Ctx<'_> {
    /// The target named by the resource given or by the call's id parameters.
    pub fn named_target(&self) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        // The id keys the call names, found in one pass over its few parameters rather
        // than a lookup per id key (there are dozens); then read in ID_KEYS order, as
        // `P::get` reads them.
        let Some(obj) = self.p.0.as_object() else {
            return self.resource.to_string();
        };
        let mut named: Vec<usize> = obj
            .keys()
            .filter_map(|k| ID_KEYS.iter().position(|id| id.eq_ignore_ascii_case(k)))
            .collect();
        named.sort_unstable();
        named.dedup();
        for k in named.into_iter().map(|i| ID_KEYS[i]) {
            let v = self.p.get(k);
            if let Some(s) = v.str() {
                return s.to_string();
            }
            if let Some(first) = v.strings().first() {
                return first.to_string();
            }
        }
        self.resource.to_string()
    }

    /// The target: the resource given, or the id parameter the call names.
    fn target(&self, keys: &[&str]) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        self.p
            .any(keys)
            .str()
            .map(String::from)
            .unwrap_or_else(|| self.resource.to_string())
    }
}

pub fn apply(c: &Ctx, out: &mut Out) {
    // A call with a rule that finds nothing is fine; one with no rule is judged by its
    // access level in `fallback`.
    let mut has_rule = true;
    match (c.service, c.op) {
        ("ec2", "AuthorizeSecurityGroupIngress") => ingress(c, out),
        ("ec2", "CreateNetworkAclEntry" | "ReplaceNetworkAclEntry") => nacl(c, out),
        ("ec2", "ModifySnapshotAttribute") => share(
            c,
            out,
            "EBS snapshot",
            &["SnapshotId"],
            "CreateVolumePermission",
            "aws_ebs_snapshot",
        ),
        ("ec2", "ModifyImageAttribute") => {
            share(c, out, "image", &["ImageId"], "LaunchPermission", "aws_ami")
        }
        ("rds", "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute") => {
            rds_share(c, out)
        }
        (
            "iam",
            "PutRolePolicy"
            | "PutUserPolicy"
            | "PutGroupPolicy"
            | "CreatePolicyVersion"
            | "CreatePolicy",
        ) => iam_document(c, out),
        ("iam", "AttachRolePolicy" | "AttachUserPolicy" | "AttachGroupPolicy") => {
            iam_attach(c, out)
        }
        ("iam", "CreateRole" | "UpdateAssumeRolePolicy") => iam_trust(c, out),
        ("iam", "AddUserToGroup") => {
            let user = c.p.get("UserName").str().unwrap_or("(unnamed)");
            let group = c.p.get("GroupName").str().unwrap_or("(unnamed)");
            out.effects.push(Effect::PrivilegeGrant(Grant {
                holder: format!("user {user}"),
                via: Some(format!("membership of group {group}")),
                ..Grant::opaque(String::new(), None, Certainty::Known)
            }));
        }
        ("iam", "CreateAccessKey") => credential(c, out, |u| {
            format!("creates a long-lived access key for IAM user {u}")
        }),
        ("iam", "CreateLoginProfile") => {
            credential(c, out, |u| format!("gives IAM user {u} a console password"))
        }
        ("iam", "UpdateLoginProfile") => credential(c, out, |u| {
            format!("resets the console password of IAM user {u}")
        }),
        ("iam", "CreateUser") => credential(c, out, |u| {
            format!("creates IAM user {u}, a long-lived identity")
        }),
        ("iam", "CreateServiceSpecificCredential") => credential(c, out, |u| {
            format!("creates service-specific credentials for IAM user {u}")
        }),
        ("iam", "UploadSSHPublicKey") => {
            credential(c, out, |u| format!("adds an SSH key for IAM user {u}"))
        }
        ("iam", "CreateOpenIDConnectProvider" | "CreateSAMLProvider") => {
            out.effects.push(Effect::NewCredential {
                resource: c.resource.into(),
                what: "adds an identity provider that roles can trust".into(),
            });
        }
        ("rolesanywhere", "CreateTrustAnchor") => {
            out.effects.push(Effect::NewCredential { resource: c.resource.into(), what: "lets certificates from an outside certificate authority obtain AWS credentials (IAM Roles Anywhere)".into() });
        }
        ("s3", "PutBucketPolicy") => {
            resource_policy(c, out, &["bucketPolicy", "Policy"], "aws_s3_bucket_policy")
        }
        ("s3", "PutBucketReplication") => replication(c, out),
        ("s3", "PutBucketAcl") => {
            // CloudTrail records the canned ACL header as a list (`"x-amz-acl": ["public-read"]`).
            let acl = c.p.any(&["ACL", "x-amz-acl"]).strings().first().copied();
            let text = c.p.0.to_string();
            if matches!(
                acl,
                Some("public-read" | "public-read-write" | "authenticated-read")
            ) || text.contains("groups/global/AllUsers")
                || text.contains("groups/global/AuthenticatedUsers")
            {
                public(
                    out,
                    c.target(&["Bucket", "bucketName"]),
                    "an ACL that lets anyone read".into(),
                );
            }
        }
        ("s3", "DeletePublicAccessBlock") | ("s3", "DeleteBucketPublicAccessBlock") => {
            public(
                out,
                c.target(&["Bucket", "bucketName"]),
                "removes S3 Block Public Access, so public ACLs and policies take effect".into(),
            );
        }
        ("s3", "PutPublicAccessBlock")
        | ("s3", "PutBucketPublicAccessBlock")
        | ("s3", "PutAccountPublicAccessBlock") => {
            let cfg =
                c.p.any(&["PublicAccessBlockConfiguration", "publicAccessBlock"]);
            let off: Vec<&str> = [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ]
            .into_iter()
            .filter(|k| cfg.get(k).bool() == Some(false))
            .collect();
            if !off.is_empty() {
                public(
                    out,
                    c.target(&["Bucket", "bucketName"]),
                    format!(
                        "turns off S3 Block Public Access ({} = false)",
                        off.join(", ")
                    ),
                );
            }
        }
        ("lambda", "AddPermission") | ("lambda", "AddLayerVersionPermission") => {
            let principal = c.p.get("Principal").str().unwrap_or_default();
            let conditioned = [
                "SourceArn",
                "SourceAccount",
                "PrincipalOrgID",
                "OrganizationId",
            ]
            .iter()
            .any(|k| !c.p.get(k).is_null());
            let target = c.target(&["FunctionName", "LayerName"]);
            if principal == "*" && !conditioned {
                public(
                    out,
                    target,
                    "a resource policy lets any AWS principal use it".into(),
                );
            } else if let Some(a) = account_of(principal) {
                if Some(a) != c.own_account {
                    out.effects.push(Effect::ExternalShare {
                        resource: target,
                        target: ShareTarget::Account { id: a.into() },
                        certainty: Certainty::Known,
                    });
                }
            }
        }
        ("lambda", "CreateFunctionUrlConfig" | "UpdateFunctionUrlConfig") => {
            if c.p.get("AuthType").str() == Some("NONE") {
                public(
                    out,
                    c.target(&["FunctionName"]),
                    "a function URL with AuthType NONE: anyone on the internet can invoke it"
                        .into(),
                );
            }
        }
        ("lambda", "UpdateFunctionCode") => out.effects.push(Effect::CodeChange {
            resource: c.named_target(),
            what: "replaces the function's code".into(),
            role: None,
        }),
        ("lambda", "UpdateFunctionConfiguration") => {
            let mut what = Vec::new();
            if !c.p.get("Role").is_null() {
                what.push("changes the role the function runs as");
            }
            if !c.p.get("Layers").is_null() {
                what.push("changes the function's layers (code loaded before the handler)");
            }
            if !c.p.get("Environment").is_null() {
                what.push("changes the function's environment");
            }
            for w in what {
                out.effects.push(Effect::CodeChange {
                    resource: c.target(&["FunctionName"]),
                    what: w.into(),
                    role: c.p.get("Role").str().map(String::from),
                });
            }
        }
        ("ecr", "SetRepositoryPolicy") => {
            resource_policy(c, out, &["PolicyText"], "aws_ecr_repository_policy")
        }
        ("sqs", "SetQueueAttributes") => {
            let attrs = c.p.get("Attributes");
            if !attrs.get("Policy").is_null() {
                let inner = Ctx { p: attrs, ..*c };
                resource_policy(&inner, out, &["Policy"], "aws_sqs_queue_policy");
            }
        }
        ("sns", "SetTopicAttributes") => {
            if c.p.get("AttributeName").str() == Some("Policy") {
                resource_policy(c, out, &["AttributeValue"], "aws_sns_topic_policy");
            }
        }
        ("kms", "PutKeyPolicy") => resource_policy(c, out, &["Policy"], "aws_kms_key"),
        ("secretsmanager", "PutResourcePolicy") => resource_policy(
            c,
            out,
            &["ResourcePolicy"],
            "aws_secretsmanager_secret_policy",
        ),
        ("rds", "ModifyDBInstance" | "CreateDBInstance" | "ModifyDBCluster") => {
            if c.op.starts_with("Modify") && !c.p.get("MasterUserPassword").is_null() {
                out.effects.push(Effect::NewCredential {
                    resource: c.target(&["DBInstanceIdentifier", "DBClusterIdentifier"]),
                    what: "resets the database's master password: whoever sets it can log in as the administrator".into(),
                });
            }
            if c.p.get("PubliclyAccessible").bool() == Some(true) {
                public(
                    out,
                    c.target(&["DBInstanceIdentifier"]),
                    "PubliclyAccessible is true: the database gets a public address".into(),
                );
            }
        }
        ("eks", "UpdateClusterConfig" | "CreateCluster") => {
            let vc = c.p.any(&["ResourcesVpcConfig", "resourcesVpcConfig"]);
            let cidrs = vc.get("PublicAccessCidrs").strings();
            if vc.get("EndpointPublicAccess").bool() == Some(true)
                && (cidrs.is_empty() || cidrs.iter().any(|x| x.ends_with("/0")))
            {
                public(
                    out,
                    c.target(&["Name", "name"]),
                    "the Kubernetes API endpoint is reachable from the whole internet".into(),
                );
            }
        }
        _ => has_rule = false,
    }
    evasion(c, out);
    destruction(c, out);
    techniques(c, out);
    required::check(c, out);
    if !has_rule && out.effects.is_empty() {
        fallback(c, out);
    }
}

pub(super) fn public(out: &mut Out, resource: String, how: String) {
    out.effects.push(Effect::PublicAccess {
        resource,
        how,
        certainty: Certainty::Known,
    });
}

/// Calls parapet has no specific rule for: judged by what the catalog says they are.
fn fallback(c: &Ctx, out: &mut Out) {
    let cat = catalog();
    let Some(i) = cat.canonical(c.service, c.op).map(|k| k.action) else {
        return;
    };
    let op = c.op;
    if cat.actions[i].level == AccessLevel::PermissionsManagement {
        out.effects.push(Effect::PrivilegeGrant(Grant {
            holder: c.resource.into(),
            via: Some(format!(
                "{}:{op} (a permissions-management call)",
                c.service
            )),
            ..Grant::opaque(String::new(), None, Certainty::UnknownUntilApply)
        }));
    } else if op.starts_with("Delete")
        || op.starts_with("Terminate")
        || op.starts_with("Remove")
        || op.starts_with("Purge")
    {
        out.destroys = true;
        out.effects.push(Effect::Destroy {
            resource: c.named_target(),
            data: DataFate::Unknown {
                why: format!(
                    "{}:{op} is not one parapet knows the data fate of",
                    c.service
                ),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{Ctx, ID_KEYS, P};
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    /// What `named_target` answered before it scanned the parameters once: every id
    /// key in order, each read with `P::get`.
    fn one_lookup_per_key(c: &Ctx) -> String {
        if !c.resource.ends_with("(no resource given)") {
            return c.resource.to_string();
        }
        for k in ID_KEYS {
            let v = c.p.get(k);
            if let Some(s) = v.str() {
                return s.to_string();
            }
            if let Some(first) = v.strings().first() {
                return first.to_string();
            }
        }
        c.resource.to_string()
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            // An id key in any case, or another parameter.
            (0..ID_KEYS.len(), any::<u64>()).prop_map(|(i, bits)| ID_KEYS[i]
                .chars()
                .enumerate()
                .map(|(n, ch)| if bits >> (n % 64) & 1 == 1 {
                    ch.to_ascii_uppercase()
                } else {
                    ch.to_ascii_lowercase()
                })
                .collect()),
            Just(ID_KEYS[3].to_string()),
            "[a-zA-Z]{1,12}",
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-z0-9-]{0,8}".prop_map(Value::from),
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            prop::collection::vec("[a-z]{0,4}", 0..3).prop_map(|v| json!(v)),
            prop::collection::vec("[a-z]{0,4}", 0..3).prop_map(|v| json!({"items": v})),
            Just(json!({"other": 1})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn named_target_reads_as_a_lookup_per_key(
            params in prop::collection::vec((key(), value()), 0..8),
            given in any::<bool>(),
        ) {
            let p: Value = Value::Object(params.into_iter().collect::<Map<_, _>>());
            let c = Ctx {
                service: "ec2",
                op: "DeleteThing",
                resource: if given { "arn:aws:ec2:::thing/x" } else { "ec2 (no resource given)" },
                p: P(&p),
                own_account: None,
            };
            prop_assert_eq!(c.named_target(), one_lookup_per_key(&c));
        }
    }

    /// Rules compare names with what `normalise` gives, so every name in the tables must
    /// be its own normal form (or a rule never matches).
    #[test]
    fn rule_tables_use_the_normalised_names() {
        let names = super::lifecycle::EVASION
            .iter()
            .map(|(s, o, _, _)| (*s, *o))
            .chain(
                super::lifecycle::DESTROY
                    .iter()
                    .map(|(s, o, _, _)| (*s, *o)),
            )
            .chain(
                super::technique::RUNS_COMMANDS
                    .iter()
                    .map(|(s, o, _)| (*s, *o)),
            );
        for (s, o) in names {
            let (ns, no) = crate::api::normalise(s, o).unwrap();
            assert_eq!((ns.as_ref(), no), (s, o));
        }
    }

    #[test]
    fn no_two_id_keys_differ_only_in_case() {
        for (i, a) in ID_KEYS.iter().enumerate() {
            for b in &ID_KEYS[i + 1..] {
                assert!(!a.eq_ignore_ascii_case(b), "{a} and {b}");
            }
        }
    }
}
