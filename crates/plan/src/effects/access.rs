//! Who outside the account can reach a resource: S3 public access, resource policies,
//! snapshot and AMI sharing, Lambda permissions and function URLs.

use super::Ctx;
use crate::side::Side;
use parapet_aws::iam::{account_of, parse_policy, Principal};
use parapet_model::{Certainty, ChangeKind, Effect, ShareTarget};

/// Resource types whose policy document lives in the named attribute.
const POLICY_ATTR: &[(&str, &str)] = &[
    ("aws_s3_bucket_policy", "policy"),
    ("aws_s3_bucket", "policy"),
    ("aws_ecr_repository_policy", "policy"),
    ("aws_ecr_registry_policy", "policy"),
    ("aws_sqs_queue_policy", "policy"),
    ("aws_sqs_queue", "policy"),
    ("aws_sns_topic_policy", "policy"),
    ("aws_sns_topic", "policy"),
    ("aws_kms_key", "policy"),
    ("aws_secretsmanager_secret_policy", "policy"),
    ("aws_backup_vault_policy", "policy"),
    ("aws_efs_file_system_policy", "policy"),
    ("aws_opensearch_domain_policy", "access_policies"),
    ("aws_opensearch_domain", "access_policies"),
    ("aws_glacier_vault", "access_policy"),
    ("aws_cloudwatch_log_resource_policy", "policy_document"),
    ("aws_api_gateway_rest_api_policy", "policy"),
];

pub fn handles(t: &str) -> bool {
    POLICY_ATTR.iter().any(|(k, _)| *k == t)
        || matches!(
            t,
            "aws_s3_bucket_public_access_block"
                | "aws_s3_account_public_access_block"
                | "aws_s3_bucket_acl"
                | "aws_ebs_snapshot_create_volume_permission"
                | "aws_ami_launch_permission"
                | "aws_db_snapshot"
                | "aws_db_cluster_snapshot"
                | "aws_lambda_permission"
                | "aws_lambda_function_url"
                | "aws_lambda_layer_version_permission"
        )
}

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let new = ctx.new_side();
    let old = ctx.old_side();
    let label = ctx.label();
    match ctx.rtype {
        "aws_s3_bucket_public_access_block" | "aws_s3_account_public_access_block" => {
            let keys = [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ];
            let scope = if ctx.rtype == "aws_s3_account_public_access_block" {
                "every bucket in the account"
            } else {
                "the bucket"
            };
            if ctx.kind == ChangeKind::Delete {
                out.push(public(&label, format!("removes S3 Block Public Access from {scope}, so public ACLs and policies take effect"), Certainty::Known));
                return;
            }
            let off: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| {
                    new.get(k).bool() != Some(true)
                        && !new.get(k).is_unknown()
                        && old.get(k).bool() != Some(false)
                })
                .filter(|k| ctx.kind != ChangeKind::Create || new.get(k).bool() == Some(false))
                .collect();
            if !off.is_empty() {
                out.push(public(
                    &label,
                    format!(
                        "turns off S3 Block Public Access for {scope} ({} = false)",
                        off.join(", ")
                    ),
                    Certainty::Known,
                ));
            }
        }
        "aws_s3_bucket_acl" | "aws_s3_bucket" => {
            if let Some(a) = public_acl(new) {
                if public_acl(old) != Some(a) {
                    out.push(public(
                        &label,
                        format!(
                            "canned ACL {a} lets anyone read{}",
                            if a == "public-read-write" {
                                " and write"
                            } else {
                                ""
                            }
                        ),
                        Certainty::Known,
                    ));
                }
            }
            let grants_public = |s: Side| {
                let text = s.get("access_control_policy").v.to_string();
                text.contains("acs.amazonaws.com/groups/global/AllUsers")
                    || text.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers")
            };
            if grants_public(new) && !grants_public(old) {
                out.push(public(
                    &label,
                    "an ACL grant to AllUsers or AuthenticatedUsers".into(),
                    Certainty::Known,
                ));
            }
            if ctx.rtype == "aws_s3_bucket" {
                resource_policy(ctx, "policy", out, notes);
            }
        }
        "aws_ebs_snapshot_create_volume_permission" | "aws_ami_launch_permission" => {
            if ctx.kind == ChangeKind::Update {
                return;
            }
            let what = if ctx.rtype == "aws_ami_launch_permission" {
                format!(
                    "image {}",
                    new.get("image_id").str_or("(known after apply)")
                )
            } else {
                format!(
                    "EBS snapshot {}",
                    new.get("snapshot_id").str_or("(known after apply)")
                )
            };
            let target = match (new.get("group").str(), new.get("account_id")) {
                (Some("all"), _) => Some(ShareTarget::Public),
                (_, a) if a.is_unknown() => None,
                (_, a) => a.str().map(|id| ShareTarget::Account { id: id.into() }),
            };
            let (target, certainty) = match target {
                Some(t) => (t, Certainty::Known),
                None => (
                    ShareTarget::Account {
                        id: "(known after apply)".into(),
                    },
                    Certainty::UnknownUntilApply,
                ),
            };
            out.push(Effect::ExternalShare {
                resource: what,
                target,
                certainty,
            });
        }
        "aws_db_snapshot" | "aws_db_cluster_snapshot" => {
            let (after, unknown) = new.get("shared_accounts").strings();
            let (before, _) = old.get("shared_accounts").strings();
            for a in after.into_iter().filter(|a| !before.contains(a)) {
                let target = if a == "all" {
                    ShareTarget::Public
                } else {
                    ShareTarget::Account { id: a.into() }
                };
                out.push(Effect::ExternalShare {
                    resource: label.clone(),
                    target,
                    certainty: Certainty::Known,
                });
            }
            if unknown {
                out.push(Effect::ExternalShare {
                    resource: label.clone(),
                    target: ShareTarget::Account {
                        id: "(known after apply)".into(),
                    },
                    certainty: Certainty::UnknownUntilApply,
                });
            }
        }
        "aws_lambda_permission" | "aws_lambda_layer_version_permission" => {
            if ctx.kind == ChangeKind::Update {
                return;
            }
            let principal = new.get("principal");
            let conditioned = new.get("source_arn").str().is_some()
                || new.get("source_account").str().is_some()
                || new.get("principal_org_id").str().is_some()
                || new.get("organization_id").str().is_some();
            let what = new
                .get("function_name")
                .str()
                .or(new.get("layer_name").str())
                .unwrap_or(ctx.address)
                .to_string();
            match principal.str() {
                Some("*") if !conditioned => out.push(public(
                    &what,
                    "a resource policy lets any AWS principal use it".into(),
                    Certainty::Known,
                )),
                Some(p) => {
                    if let Some(acct) = account_of(p) {
                        if Some(acct.to_string()) != ctx.index.own_account() {
                            out.push(Effect::ExternalShare {
                                resource: what,
                                target: ShareTarget::Account { id: acct.into() },
                                certainty: Certainty::Known,
                            });
                        }
                    }
                }
                None if principal.is_unknown() => out.push(public(
                    &what,
                    "the allowed principal is known only after apply".into(),
                    Certainty::UnknownUntilApply,
                )),
                None => {}
            }
        }
        "aws_lambda_function_url" => {
            let auth = new.get("authorization_type");
            let was_none = old.get("authorization_type").str() == Some("NONE");
            if auth.str() == Some("NONE") && !was_none {
                let f = new.get("function_name").str_or(ctx.address);
                out.push(public(f, "a function URL with authorization_type NONE: anyone on the internet can invoke it".into(), Certainty::Known));
            } else if auth.is_unknown() {
                out.push(public(
                    ctx.address,
                    "the function URL's authorization type is known only after apply".into(),
                    Certainty::UnknownUntilApply,
                ));
            }
        }
        t => {
            if let Some((_, attr)) = POLICY_ATTR.iter().find(|(k, _)| *k == t) {
                resource_policy(ctx, attr, out, notes);
            }
        }
    }
}

fn public_acl(s: Side<'_>) -> Option<&str> {
    s.get("acl").str().filter(|a| {
        matches!(
            *a,
            "public-read" | "public-read-write" | "authenticated-read"
        )
    })
}

fn public(resource: &str, how: String, certainty: Certainty) -> Effect {
    Effect::PublicAccess {
        resource: resource.to_string(),
        how,
        certainty,
    }
}

/// Statements that let anyone, or another account, in. Only new ones count.
fn resource_policy(ctx: &Ctx, attr: &str, out: &mut Vec<Effect>, notes: &mut Vec<String>) {
    let read = |s: Side, notes: &mut Vec<String>| -> Result<Vec<(String, Option<String>)>, ()> {
        let d = s.get(attr);
        if d.is_unknown() {
            return Err(());
        }
        let v = d.v;
        if v.is_null() || v.as_str().is_some_and(|t| t.trim().is_empty()) {
            return Ok(Vec::new());
        }
        let st = match parse_policy(v) {
            Ok(st) => st,
            Err(e) => {
                notes.push(format!("{}: {attr}: {e}; treated as unknown", ctx.address));
                return Err(());
            }
        };
        let own = ctx.index.own_account();
        let mut found = Vec::new();
        for s in st.iter().filter(|s| s.allow) {
            let actions = s.actions.join(", ");
            for p in &s.principals {
                match p {
                    Principal::Everyone if !s.has_condition => found.push((actions.clone(), None)),
                    Principal::Aws(a) => {
                        if let Some(acct) = account_of(a) {
                            if Some(acct.to_string()) != own {
                                found.push((actions.clone(), Some(acct.to_string())));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(found)
    };
    let after = read(ctx.new_side(), notes);
    let before = read(ctx.old_side(), notes).unwrap_or_default();
    let label = ctx.label();
    match after {
        Err(()) => {
            if ctx.new_side().exists() && ctx.index.expression(ctx.address, attr).is_some() {
                out.push(public(
                    &label,
                    format!("its {attr} document is known only after apply"),
                    Certainty::UnknownUntilApply,
                ));
            }
        }
        Ok(found) => {
            for (actions, acct) in found.into_iter().filter(|f| !before.contains(f)) {
                match acct {
                    None => out.push(public(
                        &label,
                        format!("its {attr} lets anyone ({actions})"),
                        Certainty::Known,
                    )),
                    Some(id) => out.push(Effect::ExternalShare {
                        resource: label.clone(),
                        target: ShareTarget::Account { id },
                        certainty: Certainty::Known,
                    }),
                }
            }
        }
    }
}
