//! Who outside the account can reach a resource through attributes that are not policy
//! documents: S3 Block Public Access and ACLs, snapshot and AMI sharing, Lambda permissions
//! and function URLs. Policy documents are found by shape in `resource_policy`.

use super::Ctx;
use crate::side::Side;
use parapet_aws::iam::account_of;
use parapet_model::{Certainty, ChangeKind, Effect, ShareTarget};

pub fn handles(t: &str) -> bool {
    matches!(
        t,
        "aws_s3_bucket"
            | "aws_s3_bucket_public_access_block"
            | "aws_s3_account_public_access_block"
            | "aws_s3_bucket_acl"
            | "aws_kms_grant"
            | "aws_ebs_snapshot_create_volume_permission"
            | "aws_ami_launch_permission"
            | "aws_db_snapshot"
            | "aws_db_cluster_snapshot"
            | "aws_lambda_permission"
            | "aws_lambda_function_url"
            | "aws_lambda_layer_version_permission"
    )
}

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>, _notes: &mut Vec<String>) {
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
            let before = acl_other_grantees(old);
            for who in acl_other_grantees(new)
                .into_iter()
                .filter(|w| !before.contains(w))
            {
                out.push(Effect::ExternalShare {
                    resource: label.clone(),
                    target: ShareTarget::Account { id: who },
                    certainty: Certainty::Known,
                });
            }
        }
        "aws_kms_grant" => {
            if ctx.kind == ChangeKind::Update {
                return;
            }
            let grantee = new.get("grantee_principal");
            let key = new.get("key_id").str_or(ctx.address).to_string();
            if grantee.is_unknown() {
                out.push(Effect::ExternalShare {
                    resource: format!("KMS key {key} (grant {})", ctx.address),
                    target: ShareTarget::Account {
                        id: "(known after apply)".into(),
                    },
                    certainty: Certainty::UnknownUntilApply,
                });
            } else if let Some(acct) = grantee.str().and_then(account_of) {
                if Some(acct.to_string()) != ctx.index.own_account() {
                    out.push(Effect::ExternalShare {
                        resource: format!("KMS key {key} (grant {})", ctx.address),
                        target: ShareTarget::Account { id: acct.into() },
                        certainty: Certainty::Known,
                    });
                }
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
            let set = |k: &str| {
                new.get(k)
                    .str()
                    .is_some_and(|v| !v.trim().is_empty() && v.trim() != "*")
                    || new.get(k).is_unknown()
            };
            // The source pins a service acting on someone's behalf (confused deputy);
            // the organisation pins `*` to the organisation's accounts.
            let source_pinned = set("source_arn") || set("source_account");
            let conditioned = source_pinned || set("principal_org_id") || set("organization_id");
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
                Some(p)
                    if !source_pinned
                        && (p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn")) =>
                {
                    // A service principal: account_of finds no account in it below.
                    out.push(Effect::ExternalShare {
                        resource: what,
                        target: ShareTarget::Account {
                            id: format!("(any account that uses {p}: no source_account or source_arn pins it)"),
                        },
                        certainty: Certainty::Known,
                    });
                }
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
        _ => {}
    }
}

/// Grantees of an explicit ACL (`access_control_policy`) other than the bucket owner:
/// canonical users of other accounts and e-mail addresses of AWS accounts.
fn acl_other_grantees(s: Side<'_>) -> Vec<String> {
    let acp = s.block("access_control_policy");
    let owner = acp.block("owner").get("id").str();
    let mut out = Vec::new();
    for g in acp.get("grant").items() {
        let grantee = g.block("grantee");
        match (grantee.get("type").str(), grantee.get("id").str()) {
            (Some("CanonicalUser"), Some(id)) if Some(id) != owner => {
                out.push(format!("(canonical user {id})"))
            }
            (Some("AmazonCustomerByEmail"), _) => out.push(format!(
                "(account of {})",
                grantee.get("email_address").str_or("an e-mail address")
            )),
            _ => {}
        }
    }
    out
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
