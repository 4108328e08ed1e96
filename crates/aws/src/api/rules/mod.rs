//! Per-operation knowledge: which calls destroy, expose, share, grant, or blind.

use super::params::P;
use crate::catalog::{catalog, AccessLevel};
use crate::iam::{
    account_of, aws_managed_policy, grant_delta, is_aws_managed_arn, parse_policy, trust_grants,
    Permissions,
};
use parapet_model::{Certainty, DataFate, DefenseEvasion, Effect, Grant, PortRange, ShareTarget};

mod access;
mod iam;
mod lifecycle;
mod network;
mod required;
mod revoke;
mod services;
mod technique;
pub use technique::{ACCELERATED_TYPES, HUGE_SIZES};

use access::{rds_share, share};
use iam::{credential, iam_attach, iam_document, iam_trust};
use lifecycle::{destruction, evasion};
use network::{ingress, modify_rules, nacl};
pub use required::coerce;
use technique::techniques;

pub struct Ctx<'a> {
    pub service: &'a str,
    pub op: &'a str,
    pub resource: &'a str,
    pub p: P<'a>,
    pub own_account: Option<&'a str>,
    /// The resources the parameters name, read as the models say (`api::ids`).
    pub names: &'a [String],
}

pub struct Out {
    pub effects: Vec<Effect>,
    pub resource_type: Option<&'static str>,
    pub destroys: bool,
    pub data_bearing: bool,
    /// A resource policy in the parameters was judged (by an operation's rule or by
    /// its shape).
    pub policy_read: bool,
}

/// Parameters that name the target of a call, most specific first (matched ignoring
/// case: the API's `DBInstanceIdentifier` is CloudTrail's `dBInstanceIdentifier`), for
/// calls the models do not place (`api::ids` places the rest, per operation).
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
    "RoleArn",
    "PolicyArn",
    "ModelId",
    "Name",
];

/// A member named as the models name ARN-valued members: `RoleArn`, `ResourceARN`,
/// `PolicyArns`, `ResourceARNList`.
pub(crate) fn is_arn_member(key: &str) -> bool {
    let k = key.strip_suffix("List").unwrap_or(key);
    let k = k.strip_suffix('s').unwrap_or(k);
    k.len() > 3 && (k.ends_with("Arn") || k.ends_with("ARN"))
}

impl Ctx<'_> {
    /// The target named by the resource given, by the members the models say name it,
    /// or by the call's id parameters.
    pub fn named_target(&self) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        if let Some(first) = self.names.first() {
            return first.clone();
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
        // Then any ARN-valued member (the models' `...Arn`, `...ARN`, `...Arns`), first
        // by name: an operation the models do not hold still names its resource by ARN.
        let mut arns: Vec<(&String, &str)> = obj
            .iter()
            .filter(|(k, _)| is_arn_member(k))
            .filter_map(|(k, v)| P(v).strings().first().map(|s| (k, *s)))
            .collect();
        arns.sort_unstable();
        if let Some((_, arn)) = arns.first() {
            return arn.to_string();
        }
        self.resource.to_string()
    }

    /// Every target: the resource given, else each one the parameters name (every item
    /// of a list-valued member), else the one [`Ctx::named_target`] finds.
    pub fn all_targets(&self) -> Vec<String> {
        if self.resource.ends_with("(no resource given)") && !self.names.is_empty() {
            self.names.to_vec()
        } else {
            vec![self.named_target()]
        }
    }

    /// The targets for a sentence: `i-1, i-2 and 8 more`.
    pub fn targets_text(&self) -> String {
        const SHOWN: usize = 5;
        let all = self.all_targets();
        let mut text = all[..all.len().min(SHOWN)].join(", ");
        if all.len() > SHOWN {
            text.push_str(&format!(" and {} more", all.len() - SHOWN));
        }
        text
    }

    /// The target: the resource given, the id parameter the call names, or the one the
    /// models say names it.
    fn target(&self, keys: &[&str]) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        self.p
            .any(keys)
            .str()
            .map(String::from)
            .unwrap_or_else(|| self.named_target())
    }
}

pub fn apply(c: &Ctx, out: &mut Out) {
    // A call with a rule that finds nothing is fine; one with no rule is judged by its
    // access level in `fallback`.
    let mut has_rule = true;
    match (c.service, c.op) {
        _ if revoke::only_takes_away(c) => {}
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
        ("ec2", "ModifySecurityGroupRules") => modify_rules(c, out),
        _ => has_rule = services::apply(c, out),
    }
    // IAM's own documents (trust policies included) are judged by the IAM rules.
    if !out.policy_read && c.service != "iam" && may_write(c) {
        access::shaped_policies(c, out);
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

/// Whether the call may change something: not a read or list in the catalog (an
/// operation the catalog does not know may).
fn may_write(c: &Ctx) -> bool {
    let cat = catalog();
    cat.canonical(c.service, c.op).is_none_or(|k| {
        !matches!(
            cat.actions[k.action].level,
            AccessLevel::List | AccessLevel::Read
        )
    })
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
        let mut arns: Vec<(&String, &str)> =
            c.p.0
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| super::is_arn_member(k))
                .filter_map(|(k, v)| P(v).strings().first().map(|s| (k, *s)))
                .collect();
        arns.sort_unstable();
        arns.first()
            .map_or_else(|| c.resource.to_string(), |(_, a)| a.to_string())
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
            "[a-zA-Z]{1,8}(Arn|ARN|Arns|ARNList)",
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
                names: &[],
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

    /// The fallback list names what the models name: each key is a member that names
    /// an operation's target in `data/id-keys.tsv`, or a CloudTrail spelling of one.
    #[test]
    fn id_keys_are_the_models_target_members() {
        use crate::api::ids;
        let mut members = std::collections::HashSet::new();
        for (_, _, t) in ids::rows() {
            for path in t.parts.iter().flat_map(|p| &p.paths).chain(&t.arns) {
                for alt in path.split('|') {
                    let last = alt.rsplit('.').next().unwrap_or(alt);
                    members.insert(
                        last.trim_end_matches("[]")
                            .trim_end_matches("{}")
                            .to_ascii_lowercase(),
                    );
                }
            }
        }
        for (_, _, ct) in ids::CLOUDTRAIL {
            members.insert(
                ct.rsplit('.')
                    .next()
                    .unwrap()
                    .trim_end_matches("[]")
                    .to_ascii_lowercase(),
            );
        }
        for k in ID_KEYS {
            assert!(
                members.contains(&k.to_ascii_lowercase()),
                "{k} names no target in the models"
            );
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
