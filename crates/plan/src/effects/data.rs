//! Destroy and replace: which resources hold data, and whether the data survives.

use super::Ctx;
use crate::side::Side;
use parapet_model::{ChangeKind, DataFate, Effect};

const DATA_BEARING: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_rds_global_cluster",
    "aws_redshift_cluster",
    "aws_redshiftserverless_namespace",
    "aws_docdb_cluster",
    "aws_neptune_cluster",
    "aws_dynamodb_table",
    "aws_s3_bucket",
    "aws_s3_object",
    "aws_s3_bucket_object",
    "aws_ebs_volume",
    "aws_ebs_snapshot",
    "aws_db_snapshot",
    "aws_db_cluster_snapshot",
    "aws_efs_file_system",
    "aws_fsx_lustre_file_system",
    "aws_fsx_windows_file_system",
    "aws_fsx_ontap_file_system",
    "aws_fsx_openzfs_file_system",
    "aws_kms_key",
    "aws_secretsmanager_secret",
    "aws_ecr_repository",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_memorydb_cluster",
    "aws_opensearch_domain",
    "aws_elasticsearch_domain",
    "aws_kinesis_stream",
    "aws_kinesis_firehose_delivery_stream",
    "aws_sqs_queue",
    "aws_cloudwatch_log_group",
    "aws_backup_vault",
    "aws_glacier_vault",
    "aws_timestreamwrite_table",
    "aws_sagemaker_feature_group",
    "aws_keyspaces_table",
    "aws_qldb_ledger",
    "aws_ssm_parameter",
    "aws_bedrockagent_knowledge_base",
];

pub fn is_data_bearing(rtype: &str) -> bool {
    DATA_BEARING.contains(&rtype)
}

pub fn destroy_or_replace(ctx: &Ctx, out: &mut Vec<Effect>) {
    // Deletion settings in force are those in the prior state: a plan cannot turn off
    // deletion protection and destroy in the same apply.
    let fate = if ctx.deposed {
        DataFate::NotDataBearing
    } else {
        data_fate(ctx.rtype, ctx.before)
    };
    let resource = ctx.label();
    if ctx.kind == ChangeKind::Delete {
        out.push(Effect::Destroy {
            resource,
            data: fate,
        });
    } else {
        let mut because: Vec<String> = ctx.replace_paths.to_vec();
        if because.is_empty() {
            if let Some(r) = ctx.action_reason {
                because.push(
                    match r {
                        "replace_because_tainted" => "the object is tainted",
                        "replace_by_request" => "a replacement was requested (-replace)",
                        "replace_by_triggers" => "replace_triggered_by",
                        other => other,
                    }
                    .to_string(),
                );
            }
        }
        out.push(Effect::Replace {
            resource,
            because,
            destroy_first: ctx.kind == ChangeKind::ReplaceDestroyFirst,
            data: fate,
        });
    }
}

fn flag(s: Side, key: &str) -> Option<bool> {
    s.get(key).bool()
}

pub fn data_fate(rtype: &str, b: Side) -> DataFate {
    use DataFate::*;
    if !is_data_bearing(rtype) {
        return NotDataBearing;
    }
    let lost = |why: &str| Lost { why: why.into() };
    match rtype {
        "aws_db_instance" | "aws_rds_cluster" | "aws_redshift_cluster" | "aws_docdb_cluster"
        | "aws_neptune_cluster" => {
            if flag(b, "deletion_protection") == Some(true) {
                return Protected {
                    how: "deletion_protection is true".into(),
                };
            }
            match flag(b, "skip_final_snapshot") {
                Some(true) => lost("skip_final_snapshot is true"),
                Some(false) => Survives {
                    how: match b.get("final_snapshot_identifier").str() {
                        Some(id) if !id.is_empty() => format!("a final snapshot {id} is taken"),
                        _ => "a final snapshot is taken".into(),
                    },
                },
                None => Unknown {
                    why: "skip_final_snapshot is not in the plan".into(),
                },
            }
        }
        "aws_rds_cluster_instance" => Survives {
            how: "the cluster keeps the data; only this instance goes".into(),
        },
        "aws_dynamodb_table" => {
            if flag(b, "deletion_protection_enabled") == Some(true) {
                Protected {
                    how: "deletion_protection_enabled is true".into(),
                }
            } else {
                lost("DynamoDB deletes every item and the table's point-in-time recovery; Terraform takes no backup")
            }
        }
        "aws_s3_bucket" => {
            if flag(b, "force_destroy") == Some(true) {
                lost("force_destroy is true: every object is deleted first")
            } else {
                Protected {
                    how: "S3 refuses to delete a bucket that still holds objects (force_destroy is false)".into(),
                }
            }
        }
        "aws_ecr_repository" => {
            if flag(b, "force_delete") == Some(true) {
                lost("force_delete is true: every image is deleted")
            } else {
                Protected {
                    how: "ECR refuses to delete a repository that holds images (force_delete is false)".into(),
                }
            }
        }
        "aws_backup_vault" => {
            if flag(b, "force_destroy") == Some(true) {
                lost("force_destroy is true: every recovery point is deleted")
            } else {
                Protected {
                    how: "AWS refuses to delete a vault that holds recovery points".into(),
                }
            }
        }
        "aws_ebs_volume" => {
            if flag(b, "final_snapshot") == Some(true) {
                Survives {
                    how: "final_snapshot is true".into(),
                }
            } else {
                lost("no final snapshot (final_snapshot is not true)")
            }
        }
        "aws_kms_key" => Survives {
            how: format!(
                "AWS waits {} days before deleting the key and the deletion can be cancelled until then; afterwards everything encrypted under it is unreadable",
                b.get("deletion_window_in_days").i64().unwrap_or(30)
            ),
        },
        "aws_secretsmanager_secret" => match b.get("recovery_window_in_days").i64() {
            Some(0) => lost("recovery_window_in_days is 0: deleted at once"),
            Some(n) => Survives {
                how: format!("recoverable for {n} days"),
            },
            None => Survives {
                how: "recoverable for 30 days (the default window)".into(),
            },
        },
        "aws_elasticache_cluster" | "aws_elasticache_replication_group" | "aws_memorydb_cluster" => {
            match b.get("final_snapshot_identifier").str().or(b.get("final_snapshot_name").str()) {
                Some(id) if !id.is_empty() => Survives {
                    how: format!("a final snapshot {id} is taken"),
                },
                _ => lost("no final_snapshot_identifier is set"),
            }
        }
        "aws_fsx_lustre_file_system" | "aws_fsx_windows_file_system" | "aws_fsx_ontap_file_system"
        | "aws_fsx_openzfs_file_system" => match flag(b, "skip_final_backup") {
            Some(false) => Survives {
                how: "a final backup is taken".into(),
            },
            _ => lost("no final backup (skip_final_backup is not false)"),
        },
        "aws_s3_object" | "aws_s3_bucket_object" => Unknown {
            why: "the object is deleted; a versioned bucket keeps an earlier version".into(),
        },
        "aws_db_snapshot" | "aws_db_cluster_snapshot" | "aws_ebs_snapshot" => {
            lost("the snapshot is itself the backup")
        }
        "aws_efs_file_system" => lost("EFS deletes every file"),
        "aws_opensearch_domain" | "aws_elasticsearch_domain" => lost("the domain's indices are deleted"),
        "aws_kinesis_stream" | "aws_kinesis_firehose_delivery_stream" => lost("records still in the stream are deleted"),
        "aws_sqs_queue" => lost("messages waiting in the queue are deleted"),
        "aws_cloudwatch_log_group" => lost("stored log events, which may be incident evidence, are deleted"),
        "aws_ssm_parameter" => lost("the parameter value and its history are deleted"),
        _ => lost("AWS deletes the stored data with the resource"),
    }
}
