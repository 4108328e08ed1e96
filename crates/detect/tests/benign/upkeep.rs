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
