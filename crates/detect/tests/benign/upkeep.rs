//! Upkeep on the ordinary day: look-alikes of evasion, impact and hijacking that are
//! routine when the right actor does them.

use super::{session, sso, Trail, ACCOUNT, TERRAFORM_UA};
use serde_json::{json, Value};

const CONSOLE_UA: &str = "AWS Internal";

pub fn upkeep(trail: &mut Trail, t: i64) {
    // AWS Backup expires old recovery points through its service-linked role.
    let backup = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForBackup/AWSBackup-AWSServiceRoleForBackup"),
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"), "userName": "AWSServiceRoleForBackup"}}});
    for k in 0..10 {
        trail.call(
            t + k * 2_000,
            &backup,
            "ec2",
            "DeleteSnapshot",
            json!({"snapshotId": format!("snap-0{k:016x}")}),
            Value::Null,
            "backup.amazonaws.com",
            "backup.amazonaws.com",
        );
    }
    // Terraform: a launch template for ordinary instances, a scratch bucket that empties
    // itself daily, versioning on. (Its deleting a log group is still reported: automation
    // destroying data is what `parapet-automation-destroys-data` is for.)
    let tf = session("gha-terraform", "GitHubActions", "ASIATERRAFORM001");
    let writes: [(&str, &str, Value); 3] = [
        (
            "ec2",
            "CreateLaunchTemplate",
            json!({"CreateLaunchTemplateRequest": {"LaunchTemplateName": "orders",
            "LaunchTemplateData": {"InstanceType": "m6i.large"}}}),
        ),
        (
            "s3",
            "PutBucketLifecycle",
            json!({"bucketName": "ci-scratch", "lifecycle": "",
            "LifecycleConfiguration": {"Rule": {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}}}),
        ),
        (
            "s3",
            "PutBucketVersioning",
            json!({"bucketName": "orders-exports", "versioning": "",
            "VersioningConfiguration": {"Status": "Enabled"}}),
        ),
    ];
    for (k, (service, name, req)) in writes.into_iter().enumerate() {
        trail.call(
            t + 60_000 + k as i64 * 3_000,
            &tf,
            service,
            name,
            req,
            Value::Null,
            TERRAFORM_UA,
            "20.42.0.9",
        );
    }
    // The ML pipeline trains on GPUs, as it does every day.
    trail.call(
        t + 120_000,
        &session("ml-pipeline", "nightly-train", "ASIAMLPIPELINE01"),
        "sagemaker",
        "CreateTrainingJob",
        json!({"trainingJobName": "ranker-nightly", "resourceConfig": {"instanceType": "ml.g5.2xlarge", "instanceCount": 2}}),
        Value::Null,
        "Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 exec-env/AWS_Lambda_python3.12",
        "3.88.1.2",
    );
    // An engineer checks the SES console before a product launch.
    let alice = sso("alice@example.com");
    for (k, name) in [
        "GetSendQuota",
        "GetAccountSendingEnabled",
        "ListIdentities",
        "GetSendStatistics",
    ]
    .into_iter()
    .enumerate()
    {
        trail
            .call(
                t + 300_000 + k as i64 * 1_000,
                &alice,
                "ses",
                name,
                json!({}),
                Value::Null,
                CONSOLE_UA,
                "198.51.100.10",
            )
            .as_object_mut()
            .unwrap()
            .insert("sessionCredentialFromConsole".into(), json!("true"));
    }
    // An application writes its reports encrypted with the account's KMS key.
    let reports = session("reports-writer", "reports-writer", "ASIAREPORTS00001");
    for k in 0..200 {
        trail.call(
            t + 400_000 + k * 500,
            &reports,
            "s3",
            "PutObject",
            json!({"bucketName": "reports", "key": format!("daily/{k}.csv"),
                   "x-amz-server-side-encryption": "aws:kms"}),
            Value::Null,
            "aws-sdk-java/2.25.0",
            "3.88.1.3",
        );
    }
}

const PROWLER: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.205 md/arch#x86_64 lang/python#3.11.6 prowler/4.2.0";

/// The classes of issue 22, point 5, on the ordinary day: a compliance scanner's sweep
/// with a read-only audit role (some calls refused), ECS starting tasks that read their
/// secrets, and Auto Scaling launching a training group's GPU instances.
pub fn scanners_and_services(trail: &mut Trail, t: i64) {
    let audit = session("SecurityAuditRole", "prowler-scan", "ASIAAUDITSCAN001");
    const SWEEP: [(&str, &str); 12] = [
        ("ec2", "DescribeInstances"),
        ("ec2", "DescribeSecurityGroups"),
        ("iam", "ListRoles"),
        ("iam", "GetAccountAuthorizationDetails"),
        ("s3", "ListBuckets"),
        ("s3", "GetBucketPolicy"),
        ("lambda", "ListFunctions"),
        ("rds", "DescribeDBInstances"),
        ("kms", "ListKeys"),
        ("cloudtrail", "DescribeTrails"),
        ("guardduty", "ListDetectors"),
        ("secretsmanager", "ListSecrets"),
    ];
    for i in 0..300i64 {
        let (service, name) = SWEEP[i as usize % SWEEP.len()];
        let e = trail.call(
            t + i * 400,
            &audit,
            service,
            name,
            json!({}),
            Value::Null,
            PROWLER,
            "54.80.1.2",
        );
        if i % 25 == 7 {
            let o = e.as_object_mut().unwrap();
            o.insert("errorCode".into(), json!("AccessDenied"));
            o.insert(
                "errorMessage".into(),
                json!("User is not authorized to perform this operation"),
            );
        }
    }
    // ECS starts four tasks; each execution-role session reads the task's secrets.
    for task in 0..4i64 {
        let mut exec = session(
            "ecsTaskExecutionRole",
            &format!("{:032x}", 0xa1b2c3 + task),
            "ASIATASKEXEC0001",
        );
        exec["invokedBy"] = json!("ecs-tasks.amazonaws.com");
        for k in 0..5i64 {
            trail.call(
                t + 200_000 + task * 10_000 + k * 200,
                &exec,
                "secretsmanager",
                "GetSecretValue",
                json!({"secretId": format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:orders/{k}")}),
                Value::Null,
                "ecs-tasks.amazonaws.com",
                "ecs-tasks.amazonaws.com",
            );
        }
    }
    // Auto Scaling brings the training group's GPU instances up from its launch template.
    let linked = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"),
        "accountId": ACCOUNT, "invokedBy": "autoscaling.amazonaws.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"), "userName": "AWSServiceRoleForAutoScaling"}}});
    for k in 0..4i64 {
        trail.call(
            t + 400_000 + k * 5_000,
            &linked,
            "ec2",
            "RunInstances",
            json!({"instanceType": "g5.12xlarge", "launchTemplate": {"launchTemplateId": "lt-0train", "version": "7"},
                   "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}),
            json!({"instancesSet": {"items": [{"instanceId": format!("i-2{:016x}", t + k)}]}}),
            "autoscaling.amazonaws.com",
            "autoscaling.amazonaws.com",
        );
    }
}
