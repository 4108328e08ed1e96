//! Resource policies, public access and code changes of S3, Lambda, ECR, SQS, SNS, KMS,
//! Secrets Manager, RDS and EKS calls.

use super::access::{replication, resource_policy};
use super::*;

/// Applies the rule for `c`'s operation; `false` when it has none.
pub(super) fn apply(c: &Ctx, out: &mut Out) -> bool {
    match (c.service, c.op) {
        ("s3", "PutBucketPolicy") => {
            resource_policy(c, out, &["bucketPolicy", "Policy"], "aws_s3_bucket_policy")
        }
        ("s3", "PutBucketReplication") => replication(c, out),
        (
            "s3",
            "PutBucketAcl"
            | "PutObjectAcl"
            | "PutObject"
            | "CopyObject"
            | "CreateMultipartUpload"
            | "CreateBucket",
        ) => acl(c, out),
        (
            "s3",
            "PutAccessPointPolicy"
            | "PutAccessPointPolicyForObjectLambda"
            | "PutMultiRegionAccessPointPolicy",
        ) => {
            // The multi-region form carries the policy in `Details`.
            let details = c.p.get("Details");
            let inner = Ctx {
                p: if details.is_null() { c.p } else { details },
                ..*c
            };
            resource_policy(&inner, out, &["Policy"], "aws_s3_access_point")
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
                    block_target(c),
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
        // A queue's or topic's policy is an attribute, set when it is made or later.
        ("sqs", "SetQueueAttributes" | "CreateQueue") | ("sns", "CreateTopic") => {
            let attrs = c.p.get("Attributes");
            if !attrs.get("Policy").is_null() {
                let inner = Ctx { p: attrs, ..*c };
                let rtype = if c.service == "sqs" {
                    "aws_sqs_queue_policy"
                } else {
                    "aws_sns_topic_policy"
                };
                resource_policy(&inner, out, &["Policy"], rtype);
            }
        }
        ("sns", "SetTopicAttributes") => {
            if c.p.get("AttributeName").str() == Some("Policy") {
                resource_policy(c, out, &["AttributeValue"], "aws_sns_topic_policy");
            }
        }
        // The legacy permission calls add a statement for other accounts.
        ("sqs", "AddPermission") | ("sns", "AddPermission") => {
            let actions = c.p.any(&["Actions", "ActionName"]).strings().join(", ");
            for acct in c.p.any(&["AWSAccountIds", "AWSAccountId"]).strings() {
                if Some(acct) != c.own_account {
                    out.effects.push(Effect::ExternalShare {
                        resource: format!("{} ({actions})", c.named_target()),
                        target: ShareTarget::Account { id: acct.into() },
                        certainty: Certainty::Known,
                    });
                }
            }
        }
        // A key's policy is set when it is made or replicated, too.
        ("kms", "PutKeyPolicy" | "CreateKey" | "ReplicateKey") => {
            resource_policy(c, out, &["Policy"], "aws_kms_key")
        }
        ("kms", "CreateGrant") => {
            // A grant lets its grantee use the key (Decrypt, ...) without the key policy.
            let ops = c.p.get("Operations").strings().join(", ");
            for key in ["GranteePrincipal", "RetiringPrincipal"] {
                let Some(acct) = c.p.get(key).str().and_then(account_of) else {
                    continue;
                };
                if Some(acct) != c.own_account {
                    out.effects.push(Effect::ExternalShare {
                        resource: format!("KMS key {} (a grant of {ops})", c.named_target()),
                        target: ShareTarget::Account { id: acct.into() },
                        certainty: Certainty::Known,
                    });
                }
            }
        }
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
            // No list means 0.0.0.0/0 (EKS API reference); a range parapet cannot read
            // may admit anyone.
            let open = cidrs.is_empty()
                || cidrs.iter().any(|x| {
                    matches!(
                        crate::network::classify(x),
                        crate::network::Source::Exposed(parapet_model::ExposureScope::Internet)
                            | crate::network::Source::Unparseable
                    )
                });
            if vc.get("EndpointPublicAccess").bool() == Some(true) && open {
                public(
                    out,
                    c.target(&["Name", "name"]),
                    "the Kubernetes API endpoint is reachable from the whole internet".into(),
                );
            }
        }
        _ => return false,
    }
    true
}

/// Who an S3 Block Public Access call acts on: the bucket, or (s3control) the account.
fn block_target(c: &Ctx) -> String {
    match c.p.get("AccountId").str() {
        Some(a) if c.p.any(&["Bucket", "bucketName"]).is_null() => format!("account {a}"),
        _ => c.target(&["Bucket", "bucketName"]),
    }
}

/// Canned ACLs that let principals outside the account read or write.
const PUBLIC_ACLS: &[(&str, &str)] = &[
    ("public-read", "anyone on the internet can read"),
    (
        "public-read-write",
        "anyone on the internet can read and write",
    ),
    ("authenticated-read", "any AWS account can read"),
];

/// An ACL on a bucket or object, in every form S3 takes it: a canned ACL (`ACL`, the
/// `x-amz-acl` header, which CloudTrail records as a list), grant headers
/// (`GrantRead: uri="http://acs.amazonaws.com/groups/global/AllUsers"`), or an
/// `AccessControlPolicy` whose grantees are the AllUsers or AuthenticatedUsers groups.
fn acl(c: &Ctx, out: &mut Out) {
    let canned = c.p.any(&["ACL", "x-amz-acl"]).strings();
    let mut how: Vec<String> = canned
        .iter()
        .filter_map(|a| {
            PUBLIC_ACLS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(a.trim()))
        })
        .map(|(n, what)| format!("canned ACL {n}: {what}"))
        .collect();
    // Grantee groups, wherever they are written (headers, the grant list, CloudTrail's
    // AccessControlList.Grant): the group URI is what S3 matches.
    let text = c.p.0.to_string();
    for (group, what) in [
        ("groups/global/AllUsers", "anyone on the internet"),
        ("groups/global/AuthenticatedUsers", "any AWS account"),
    ] {
        if text.contains(group) {
            how.push(format!("a grant to the {} group: {what}", &group[14..]));
        }
    }
    if !how.is_empty() {
        out.resource_type = Some(if c.op.contains("Bucket") {
            "aws_s3_bucket_acl"
        } else {
            "aws_s3_object"
        });
        public(
            out,
            c.named_target(),
            format!("an ACL ({})", how.join("; ")),
        );
    }
}
