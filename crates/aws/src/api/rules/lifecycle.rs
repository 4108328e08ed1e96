//! Calls that blind detection or destroy resources.

use super::*;

/// (service, operation, control, what is lost)
pub(super) const EVASION: &[(&str, &str, &str, &str)] = &[
    (
        "cloudtrail",
        "StopLogging",
        "CloudTrail",
        "stops recording API activity",
    ),
    (
        "cloudtrail",
        "DeleteTrail",
        "CloudTrail",
        "deletes the trail",
    ),
    (
        "cloudtrail",
        "PutEventSelectors",
        "CloudTrail",
        "changes which events the trail records",
    ),
    (
        "cloudtrail",
        "PutInsightSelectors",
        "CloudTrail",
        "changes CloudTrail Insights",
    ),
    (
        "cloudtrail",
        "DeleteEventDataStore",
        "CloudTrail Lake",
        "deletes recorded events",
    ),
    (
        "guardduty",
        "DeleteDetector",
        "GuardDuty",
        "turns off threat detection",
    ),
    (
        "guardduty",
        "DisassociateFromMasterAccount",
        "GuardDuty",
        "leaves the administrator account's monitoring",
    ),
    (
        "guardduty",
        "DisassociateFromAdministratorAccount",
        "GuardDuty",
        "leaves the administrator account's monitoring",
    ),
    (
        "guardduty",
        "DeletePublishingDestination",
        "GuardDuty",
        "stops exporting findings",
    ),
    (
        "guardduty",
        "StopMonitoringMembers",
        "GuardDuty",
        "stops monitoring member accounts",
    ),
    (
        "guardduty",
        "CreateIPSet",
        "GuardDuty",
        "adds a trusted IP list: calls from those addresses raise no findings",
    ),
    (
        "guardduty",
        "UpdateIPSet",
        "GuardDuty",
        "changes a trusted IP list: calls from those addresses raise no findings",
    ),
    (
        "guardduty",
        "DeleteMembers",
        "GuardDuty",
        "removes member accounts from monitoring",
    ),
    (
        "guardduty",
        "DisassociateMembers",
        "GuardDuty",
        "removes member accounts from monitoring",
    ),
    (
        "config",
        "StopConfigurationRecorder",
        "AWS Config",
        "stops recording configuration changes",
    ),
    (
        "config",
        "DeleteConfigurationRecorder",
        "AWS Config",
        "deletes the configuration recorder",
    ),
    (
        "config",
        "DeleteDeliveryChannel",
        "AWS Config",
        "stops delivering configuration history",
    ),
    (
        "ec2",
        "DeleteFlowLogs",
        "VPC Flow Logs",
        "stops recording network flows",
    ),
    (
        "securityhub",
        "DisableSecurityHub",
        "Security Hub",
        "turns off Security Hub",
    ),
    (
        "securityhub",
        "BatchDisableStandards",
        "Security Hub",
        "turns off security standard checks",
    ),
    (
        "securityhub",
        "DisableImportFindingsForProduct",
        "Security Hub",
        "stops importing a product's findings",
    ),
    (
        "config",
        "DeleteConfigRule",
        "AWS Config",
        "deletes a compliance rule",
    ),
    (
        "detective",
        "DeleteGraph",
        "Amazon Detective",
        "deletes the behaviour graph investigations use",
    ),
    (
        "bedrock",
        "DeleteModelInvocationLoggingConfiguration",
        "Bedrock invocation logging",
        "stops logging model invocations, so LLMjacking goes unrecorded",
    ),
    (
        "bedrock",
        "PutModelInvocationLoggingConfiguration",
        "Bedrock invocation logging",
        "replaces where and what model invocations are logged (an attacker points it away or turns the data off)",
    ),
    (
        "route53resolver",
        "DeleteResolverQueryLogConfig",
        "Route 53 Resolver query logging",
        "stops logging DNS queries",
    ),
    (
        "route53resolver",
        "DisassociateResolverQueryLogConfig",
        "Route 53 Resolver query logging",
        "stops logging DNS queries for a VPC",
    ),
    (
        "logs",
        "DeleteLogGroup",
        "CloudWatch Logs",
        "deletes stored log events, which may be evidence",
    ),
    (
        "access-analyzer",
        "DeleteAnalyzer",
        "IAM Access Analyzer",
        "stops analysing external access",
    ),
    (
        "macie2",
        "DisableMacie",
        "Amazon Macie",
        "stops sensitive-data discovery",
    ),
    (
        "cloudwatch",
        "DisableAlarmActions",
        "CloudWatch alarms",
        "silences the alarms' actions: they change state but notify nobody",
    ),
    (
        "organizations",
        "LeaveOrganization",
        "AWS Organizations",
        "leaves the organization: its service control policies, organization trail and delegated security services stop applying to the account",
    ),
    (
        "organizations",
        "DeleteOrganization",
        "AWS Organizations",
        "deletes the organization: its service control policies, organization trail and delegated security services stop applying to the account",
    ),
    (
        "inspector2",
        "Disable",
        "Amazon Inspector",
        "stops vulnerability scanning",
    ),
];

pub(super) fn evasion(c: &Ctx, out: &mut Out) {
    let push = |out: &mut Out, control: &str, what: &str| {
        out.effects.push(Effect::DefenseEvasion {
            resource: c.targets_text(),
            evasion: DefenseEvasion {
                control: control.into(),
                what: what.into(),
            },
        });
    };
    if let Some((_, _, control, what)) = EVASION
        .iter()
        .find(|(s, o, _, _)| *s == c.service && *o == c.op)
    {
        push(out, control, what);
        return;
    }
    match (c.service, c.op) {
        ("guardduty", "UpdateDetector") if c.p.get("Enable").bool() == Some(false) => {
            push(out, "GuardDuty", "suspends threat detection")
        }
        ("guardduty", "CreateFilter" | "UpdateFilter")
            if c.p.get("Action").str() == Some("ARCHIVE") =>
        {
            push(
                out,
                "GuardDuty",
                "auto-archives matching findings, so nobody sees them",
            )
        }
        ("cloudtrail", "UpdateTrail")
            if c.p.get("IsMultiRegionTrail").bool() == Some(false)
                || c.p.get("IncludeGlobalServiceEvents").bool() == Some(false) =>
        {
            push(out, "CloudTrail", "narrows what the trail records")
        }
        _ => {}
    }
}

/// (service, operation, resource type, data-bearing)
pub(super) const DESTROY: &[(&str, &str, &str, bool)] = &[
    ("rds", "DeleteDBInstance", "aws_db_instance", true),
    ("rds", "DeleteDBCluster", "aws_rds_cluster", true),
    ("rds", "DeleteDBSnapshot", "aws_db_snapshot", true),
    (
        "rds",
        "DeleteDBClusterSnapshot",
        "aws_db_cluster_snapshot",
        true,
    ),
    ("dynamodb", "DeleteTable", "aws_dynamodb_table", true),
    ("dynamodb", "DeleteBackup", "aws_dynamodb_table", true),
    ("s3", "DeleteBucket", "aws_s3_bucket", true),
    ("ec2", "DeleteVolume", "aws_ebs_volume", true),
    ("ec2", "DeleteSnapshot", "aws_ebs_snapshot", true),
    ("ec2", "TerminateInstances", "aws_instance", false),
    ("kms", "ScheduleKeyDeletion", "aws_kms_key", true),
    (
        "secretsmanager",
        "DeleteSecret",
        "aws_secretsmanager_secret",
        true,
    ),
    ("ecr", "DeleteRepository", "aws_ecr_repository", true),
    ("efs", "DeleteFileSystem", "aws_efs_file_system", true),
    (
        "elasticfilesystem",
        "DeleteFileSystem",
        "aws_efs_file_system",
        true,
    ),
    ("backup", "DeleteBackupVault", "aws_backup_vault", true),
    ("backup", "DeleteRecoveryPoint", "aws_backup_vault", true),
    ("lambda", "DeleteFunction", "aws_lambda_function", false),
    ("eks", "DeleteCluster", "aws_eks_cluster", false),
    ("logs", "DeleteLogGroup", "aws_cloudwatch_log_group", true),
    ("sqs", "DeleteQueue", "aws_sqs_queue", true),
    ("kinesis", "DeleteStream", "aws_kinesis_stream", true),
    (
        "es",
        "DeleteElasticsearchDomain",
        "aws_elasticsearch_domain",
        true,
    ),
    ("es", "DeleteDomain", "aws_opensearch_domain", true),
    ("redshift", "DeleteCluster", "aws_redshift_cluster", true),
    (
        "elasticache",
        "DeleteCacheCluster",
        "aws_elasticache_cluster",
        true,
    ),
    (
        "elasticache",
        "DeleteReplicationGroup",
        "aws_elasticache_replication_group",
        true,
    ),
    ("cloudtrail", "DeleteTrail", "aws_cloudtrail", false),
    ("iam", "DeleteRole", "aws_iam_role", false),
    ("iam", "DeleteUser", "aws_iam_user", false),
];

pub(super) fn destruction(c: &Ctx, out: &mut Out) {
    let Some(&(_, _, rtype, data_bearing)) = DESTROY
        .iter()
        .find(|(s, o, _, _)| *s == c.service && *o == c.op)
    else {
        return;
    };
    out.resource_type = Some(rtype);
    out.destroys = true;
    out.data_bearing = data_bearing;
    let p = c.p;
    let lost = |why: &str| DataFate::Lost { why: why.into() };
    let data = if !data_bearing {
        DataFate::NotDataBearing
    } else {
        match (c.service, c.op) {
            ("rds", "DeleteDBInstance" | "DeleteDBCluster") => match p.get("SkipFinalSnapshot").bool() {
                Some(true) => lost("SkipFinalSnapshot is true"),
                Some(false) => DataFate::Survives { how: format!("a final snapshot {} is taken", p.any(&["FinalDBSnapshotIdentifier", "FinalSnapshotIdentifier"]).str().unwrap_or("")).replace("  ", " ") },
                // SkipFinalSnapshot defaults to false (RDS API reference): with a final
                // snapshot named, one is taken.
                None if p.get("SkipFinalSnapshot").is_null() => match p.any(&["FinalDBSnapshotIdentifier", "FinalSnapshotIdentifier"]).str() {
                    Some(id) => DataFate::Survives { how: format!("a final snapshot {id} is taken (SkipFinalSnapshot defaults to false)") },
                    None => DataFate::Unknown { why: "SkipFinalSnapshot is not given".into() },
                },
                // Given, but not as true or false: parapet cannot tell what the SDK or
                // API will make of it, so it judges the worst case.
                None => lost(&format!("SkipFinalSnapshot is given as {}, not true or false; judged as if it were true", p.get("SkipFinalSnapshot").0)),
            },
            ("kms", "ScheduleKeyDeletion") => DataFate::Survives {
                how: format!("AWS waits {} days and the deletion can be cancelled until then; afterwards everything encrypted under the key is unreadable", p.get("PendingWindowInDays").i64().unwrap_or(30)),
            },
            ("secretsmanager", "DeleteSecret") => {
                if p.get("ForceDeleteWithoutRecovery").bool() == Some(true) {
                    lost("ForceDeleteWithoutRecovery is true")
                } else {
                    DataFate::Survives { how: format!("recoverable for {} days", p.get("RecoveryWindowInDays").i64().unwrap_or(30)) }
                }
            }
            ("s3", "DeleteBucket") => DataFate::Protected { how: "S3 refuses to delete a bucket that still holds objects".into() },
            ("ecr", "DeleteRepository") if p.get("Force").bool() != Some(true) => DataFate::Protected { how: "ECR refuses to delete a repository that holds images (force is not set)".into() },
            ("dynamodb", "DeleteTable") => lost("DynamoDB deletes every item; no backup is taken by this call"),
            ("rds" | "ec2" | "dynamodb" | "backup", _) if c.op.contains("Snapshot") || c.op.contains("Backup") || c.op.contains("RecoveryPoint") => lost("the snapshot or backup is itself the copy"),
            _ => lost("AWS deletes the stored data with the resource"),
        }
    };
    // One per resource named: terminating 40 instances is 40 destructions.
    for resource in c.all_targets() {
        out.effects.push(Effect::Destroy {
            resource,
            data: data.clone(),
        });
    }
}
