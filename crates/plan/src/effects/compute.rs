//! Code that runs with a role, and endpoints that face the internet: Lambda, EKS,
//! RDS, SageMaker, ECR.

use super::Ctx;
use crate::side::Side;
use parapet_model::{Certainty, ChangeKind, Effect};

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>) {
    if ctx.kind == ChangeKind::Delete {
        return;
    }
    let new = ctx.after;
    let old = ctx.old_side();
    let changed = |k: &str| {
        ctx.kind == ChangeKind::Update && (new.get(k).v != old.get(k).v || new.get(k).is_unknown())
    };
    match ctx.rtype {
        "aws_lambda_function" => {
            let role = new.get("role").str().map(String::from);
            let code = [
                "filename",
                "s3_bucket",
                "s3_key",
                "s3_object_version",
                "image_uri",
                "source_code_hash",
            ];
            if code.iter().any(|k| changed(k)) {
                out.push(Effect::CodeChange {
                    resource: ctx.label(),
                    what: "replaces the function's code".into(),
                    role: role.clone(),
                });
            }
            if changed("role") {
                out.push(Effect::CodeChange {
                    resource: ctx.label(),
                    what: "changes the role the function runs as".into(),
                    role: role.clone(),
                });
            }
            if changed("layers") {
                out.push(Effect::CodeChange {
                    resource: ctx.label(),
                    what: "changes the function's layers (code loaded before the handler)".into(),
                    role,
                });
            }
        }
        "aws_eks_cluster" => {
            let public = |s: Side| {
                let vc = s.block("vpc_config");
                if vc.get("endpoint_public_access").bool() != Some(true) {
                    return false;
                }
                let (cidrs, unknown) = vc.get("public_access_cidrs").strings();
                unknown || cidrs.is_empty() || cidrs.iter().any(|c| c.ends_with("/0"))
            };
            if public(new) && !(old.exists() && public(old)) {
                out.push(Effect::PublicAccess {
                    resource: ctx.label(),
                    how: "the Kubernetes API endpoint is reachable from the whole internet (endpoint_public_access, public_access_cidrs 0.0.0.0/0)".into(),
                    certainty: Certainty::Known,
                });
            }
        }
        "aws_db_instance"
        | "aws_rds_cluster_instance"
        | "aws_redshift_cluster"
        | "aws_dms_replication_instance"
            if new.get("publicly_accessible").bool() == Some(true)
                && old.get("publicly_accessible").bool() != Some(true) =>
        {
            out.push(Effect::PublicAccess {
                resource: ctx.label(),
                how: "publicly_accessible is true: the database gets a public address".into(),
                certainty: Certainty::Known,
            });
        }
        "aws_sagemaker_notebook_instance" => {
            let open = |s: Side| {
                s.get("direct_internet_access").str() == Some("Enabled")
                    && s.get("root_access").str() != Some("Disabled")
            };
            if open(new) && !(old.exists() && open(old)) {
                out.push(Effect::PublicAccess {
                    resource: ctx.label(),
                    how: "notebook with direct internet access and root access: code in it can reach and be reached from outside with the notebook's role".into(),
                    certainty: Certainty::Known,
                });
            }
            if changed("lifecycle_config_name") || changed("role_arn") {
                out.push(Effect::CodeChange {
                    resource: ctx.label(),
                    what: "changes the notebook's lifecycle script or role".into(),
                    role: new.get("role_arn").str().map(String::from),
                });
            }
        }
        "aws_sagemaker_model" => {
            let img = |s: Side| s.block("primary_container").get("image").v.clone();
            let data = |s: Side| s.block("primary_container").get("model_data_url").v.clone();
            if ctx.kind == ChangeKind::Update && (img(new) != img(old) || data(new) != data(old)) {
                out.push(Effect::CodeChange {
                    resource: ctx.label(),
                    what: "changes the serving container or model artifacts (model files can run code when loaded)".into(),
                    role: new.get("execution_role_arn").str().map(String::from),
                });
            }
        }
        "aws_sagemaker_domain"
            if new.get("app_network_access_type").str() == Some("PublicInternetOnly")
                && old.get("app_network_access_type").str() != Some("PublicInternetOnly") =>
        {
            out.push(Effect::PublicAccess {
                    resource: ctx.label(),
                    how: "Studio apps reach the internet directly (app_network_access_type PublicInternetOnly)".into(),
                    certainty: Certainty::Known,
                });
        }
        "aws_ecr_repository"
            if new.get("image_tag_mutability").str() == Some("MUTABLE")
                && old.get("image_tag_mutability").str() == Some("IMMUTABLE") =>
        {
            out.push(Effect::CodeChange {
                resource: ctx.label(),
                what: "makes image tags mutable, so a pushed image can silently replace what runs"
                    .into(),
                role: None,
            });
        }
        _ => {}
    }
}
