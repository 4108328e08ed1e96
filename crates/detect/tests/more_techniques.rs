//! More techniques built from how AWS records them: quietening the alarms, persistence
//! outside IAM users, execution through managed services, ransomware that never deletes,
//! and hijacked capacity. Each raises its rule; its look-alike from a pipeline does not.

mod calls;

use calls::*;
use serde_json::{json, Value};

/// Findings quietened or a security service switched off: these are defense-evasion
/// effects of the knowledge layer, so the pack's one evasion rule reports them.
#[test]
fn findings_suppressed_and_monitoring_removed() {
    let mallory = user("mallory");
    let id = "parapet-defense-evasion";
    let archive = |who: &Value, action: &str| {
        call(
            1,
            who,
            "guardduty.amazonaws.com",
            "CreateFilter",
            json!({"detectorId": "d1", "name": "quiet", "action": action, "findingCriteria": {}}),
        )
    };
    assert!(raised(vec![archive(&mallory, "ARCHIVE")], id));
    assert!(!raised(vec![archive(&mallory, "NOOP")], id));
    let off = |i: i64, source: &str, name: &str, req: Value| call(i, &mallory, source, name, req);
    assert!(raised(
        vec![off(2, "inspector2.amazonaws.com", "Disable", json!({}))],
        id
    ));
    assert!(raised(
        vec![off(
            3,
            "guardduty.amazonaws.com",
            "CreateIPSet",
            json!({"detectorId": "d1", "name": "office", "format": "TXT", "location": "s3://x/ips.txt", "activate": true})
        )],
        id
    ));
    assert!(raised(
        vec![off(
            4,
            "securityhub.amazonaws.com",
            "BatchDisableStandards",
            json!({"standardsSubscriptionArns": ["arn:aws:securityhub:us-east-1:111122223333:subscription/cis"]})
        )],
        id
    ));
    assert!(raised(
        vec![off(
            5,
            "detective.amazonaws.com",
            "DeleteGraph",
            json!({"graphArn": "arn:aws:detective:us-east-1:111122223333:graph:1"})
        )],
        id
    ));
    let mut denied = off(
        6,
        "securityhub.amazonaws.com",
        "DisableSecurityHub",
        json!({}),
    );
    denied["errorCode"] = json!("AccessDenied");
    assert!(!raised(vec![denied], id));

    let alarms = |who: &Value| {
        call(
            7,
            who,
            "monitoring.amazonaws.com",
            "DeleteAlarms",
            json!({"alarmNames": ["root-login", "cloudtrail-changes"]}),
        )
    };
    assert!(raised(vec![alarms(&mallory)], "parapet-monitoring-removed"));
    assert!(!raised(
        vec![alarms(&pipeline())],
        "parapet-monitoring-removed"
    ));
}

#[test]
fn short_expiry_on_a_bucket_set_by_hand() {
    let rule = |days: i64| json!({"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": days}, "ID": "r"});
    let lifecycle = |who: &Value, rules: Value| {
        call(
            1,
            who,
            "s3.amazonaws.com",
            "PutBucketLifecycle",
            json!({"bucketName": "org-trail-logs", "lifecycle": "", "LifecycleConfiguration": {"Rule": rules}}),
        )
    };
    let mallory = user("mallory");
    let id = "parapet-bucket-short-expiry";
    assert!(raised(vec![lifecycle(&mallory, rule(1))], id));
    assert!(raised(
        vec![lifecycle(&mallory, json!([rule(90), rule(1)]))],
        id
    ));
    assert!(!raised(vec![lifecycle(&mallory, rule(30))], id));
    assert!(!raised(vec![lifecycle(&pipeline(), rule(1))], id));
}

#[test]
fn persistence_outside_iam_users() {
    let mallory = user("mallory");
    let token = call(
        1,
        &mallory,
        "sts.amazonaws.com",
        "GetFederationToken",
        json!({"name": "x", "durationSeconds": 129600}),
    );
    assert!(raised(vec![token], "parapet-federation-token"));

    let eks = |who: &Value, policy: &str| {
        call(
            2,
            who,
            "eks.amazonaws.com",
            "AssociateAccessPolicy",
            json!({"name": "prod", "principalArn": "arn:aws:iam::111122223333:user/mallory",
                   "policyArn": format!("arn:aws:eks::aws:cluster-access-policy/{policy}"),
                   "accessScope": {"type": "cluster"}}),
        )
    };
    let id = "parapet-eks-admin-granted";
    assert!(raised(
        vec![eks(&mallory, "AmazonEKSClusterAdminPolicy")],
        id
    ));
    assert!(!raised(vec![eks(&mallory, "AmazonEKSViewPolicy")], id));
    assert!(!raised(
        vec![eks(&pipeline(), "AmazonEKSClusterAdminPolicy")],
        id
    ));
    let masters = call(
        3,
        &mallory,
        "eks.amazonaws.com",
        "CreateAccessEntry",
        json!({"name": "prod", "principalArn": "arn:aws:iam::111122223333:user/mallory", "kubernetesGroups": ["dev", "system:masters"]}),
    );
    assert!(raised(vec![masters], id));

    let rds = |req: Value| call(4, &mallory, "rds.amazonaws.com", "ModifyDBInstance", req);
    let id = "parapet-db-password-reset";
    assert!(raised(
        vec![rds(
            json!({"dBInstanceIdentifier": "pay", "masterUserPassword": "****", "applyImmediately": true})
        )],
        id
    ));
    assert!(!raised(
        vec![rds(
            json!({"dBInstanceIdentifier": "pay", "allocatedStorage": 200})
        )],
        id
    ));
}

#[test]
fn execution_through_notebooks_builds_and_containers() {
    let mallory = user("mallory");
    let lifecycle = |who: &Value| {
        call(
            1,
            who,
            "sagemaker.amazonaws.com",
            "UpdateNotebookInstanceLifecycleConfig",
            json!({"notebookInstanceLifecycleConfigName": "lc", "onStart": [{"content": "HIDDEN_DUE_TO_SECURITY_REASONS"}]}),
        )
    };
    assert!(raised(
        vec![lifecycle(&mallory)],
        "parapet-notebook-lifecycle-changed"
    ));
    assert!(!raised(
        vec![lifecycle(&pipeline())],
        "parapet-notebook-lifecycle-changed"
    ));

    let build = |req: Value| call(2, &mallory, "codebuild.amazonaws.com", "StartBuild", req);
    assert!(raised(
        vec![build(
            json!({"projectName": "deploy", "buildspecOverride": "version: 0.2"})
        )],
        "parapet-build-script-override"
    ));
    assert!(!raised(
        vec![build(json!({"projectName": "deploy"}))],
        "parapet-build-script-override"
    ));

    let exec = call(
        3,
        &mallory,
        "ecs.amazonaws.com",
        "ExecuteCommand",
        json!({"cluster": "prod", "task": "t1", "command": "/bin/sh", "interactive": true}),
    );
    assert!(raised(vec![exec], "parapet-container-exec"));
}

#[test]
fn objects_re_encrypted_with_a_customer_key() {
    let copy = |i: i64, sse_c: bool| {
        let mut req = json!({"bucketName": "invoices", "key": format!("2026/{i}.pdf"),
                             "x-amz-copy-source": format!("invoices/2026/{i}.pdf")});
        if sse_c {
            req["x-amz-server-side-encryption-customer-algorithm"] = json!("AES256");
        }
        call(i, &user("mallory"), "s3.amazonaws.com", "CopyObject", req)
    };
    let id = "parapet-s3-sse-c-ransomware";
    assert!(raised((0..10).map(|i| copy(i, true)).collect(), id));
    assert!(!raised((0..9).map(|i| copy(i, true)).collect(), id));
    assert!(!raised((0..50).map(|i| copy(i, false)).collect(), id));
}

#[test]
fn recovery_inhibited_by_hand() {
    let mallory = user("mallory");
    let id = "parapet-recovery-inhibited";
    let point = |who: &Value| {
        call(
            1,
            who,
            "backup.amazonaws.com",
            "DeleteRecoveryPoint",
            json!({"backupVaultName": "prod", "recoveryPointArn": "arn:aws:ec2:us-east-1::snapshot/snap-1"}),
        )
    };
    assert!(raised(vec![point(&mallory)], id));
    assert!(!raised(vec![point(&pipeline())], id));
    let versioning = |status: &str| {
        call(
            2,
            &mallory,
            "s3.amazonaws.com",
            "PutBucketVersioning",
            json!({"bucketName": "invoices", "versioning": "", "VersioningConfiguration": {"Status": status}}),
        )
    };
    assert!(raised(vec![versioning("Suspended")], id));
    assert!(!raised(vec![versioning("Enabled")], id));
}

#[test]
fn gpu_capacity_through_fleets_templates_and_sagemaker() {
    let mallory = user("mallory");
    let id = "parapet-gpu-launch";
    let ec2 = |name: &str, req: Value| call(1, &mallory, "ec2.amazonaws.com", name, req);
    assert!(raised(
        vec![ec2(
            "RequestSpotInstances",
            json!({"instanceCount": 20, "launchSpecification": {"instanceType": "g5.12xlarge"}})
        )],
        id
    ));
    assert!(!raised(
        vec![ec2(
            "RequestSpotInstances",
            json!({"instanceCount": 2, "launchSpecification": {"instanceType": "t3.micro"}})
        )],
        id
    ));
    assert!(raised(
        vec![ec2(
            "CreateFleet",
            json!({"CreateFleetRequest": {"LaunchTemplateConfigs": {"Overrides": [
            {"InstanceType": "m5.large"}, {"InstanceType": "g5.xlarge"}]}}})
        )],
        id
    ));
    assert!(raised(
        vec![ec2(
            "CreateLaunchTemplate",
            json!({"CreateLaunchTemplateRequest": {"LaunchTemplateName": "x",
            "LaunchTemplateData": {"InstanceType": "p5.48xlarge"}}})
        )],
        id
    ));
    let training = |who: &Value| {
        call(
            2,
            who,
            "sagemaker.amazonaws.com",
            "CreateTrainingJob",
            json!({"trainingJobName": "j", "resourceConfig": {"instanceType": "ml.p4d.24xlarge", "instanceCount": 8}}),
        )
    };
    assert!(raised(vec![training(&mallory)], id));
    assert!(!raised(vec![training(&pipeline())], id));
}

#[test]
fn quota_raised_and_email_sending_probed_and_set_up() {
    let mallory = user("mallory");
    let quota = call(
        1,
        &mallory,
        "servicequotas.amazonaws.com",
        "RequestServiceQuotaIncrease",
        json!({"serviceCode": "ec2", "quotaCode": "L-DB2E81BA", "desiredValue": 512}),
    );
    assert!(raised(vec![quota], "parapet-quota-increase"));

    let enable = call(
        2,
        &mallory,
        "ses.amazonaws.com",
        "UpdateAccountSendingEnabled",
        json!({"enabled": true}),
    );
    assert!(raised(vec![enable], "parapet-ses-sending-enabled"));

    let probe = |who: &Value, extra: Value| -> Vec<Value> {
        ["GetSendQuota", "GetAccountSendingEnabled", "ListIdentities"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                event(
                    10 + i as i64,
                    who,
                    "ses.amazonaws.com",
                    n,
                    json!({}),
                    extra.clone(),
                )
            })
            .collect()
    };
    assert!(raised(probe(&mallory, json!({})), "parapet-ses-probe"));
    let console = json!({"userAgent": "AWS Internal", "sessionCredentialFromConsole": "true"});
    assert!(!raised(probe(&mallory, console), "parapet-ses-probe"));
}

#[test]
fn instance_credentials_used_from_elsewhere() {
    let instance = json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:i-0a1b2c3d4e5f67890",
        "arn": "arn:aws:sts::111122223333:assumed-role/web-instance/i-0a1b2c3d4e5f67890",
        "accountId": "111122223333", "accessKeyId": "ASIAINSTANCE",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/web-instance", "userName": "web-instance"},
                           "ec2RoleDelivery": "2.0"}});
    let from = |i: i64, ip: &str, agent: &str| {
        event(
            i,
            &instance,
            "s3.amazonaws.com",
            "ListBuckets",
            json!({}),
            json!({"sourceIPAddress": ip, "userAgent": agent, "readOnly": true}),
        )
    };
    let mut day: Vec<Value> = (0..8)
        .map(|i| from(i, "10.0.3.17", "aws-sdk-go-v2/1.30.0"))
        .collect();
    let id = "parapet-instance-credentials-elsewhere";
    assert!(!raised(day.clone(), id));
    day.push(from(100, "198.51.100.77", "aws-cli/2.17.0"));
    assert!(raised(day, id));
}

/// "Delete and recreate" joins a delete and a create of the same resource; calls that
/// name no resource the enricher knows are not all one resource.
#[test]
fn delete_and_recreate_needs_the_same_resource() {
    let tf = pipeline();
    let drop_logs = call(
        1,
        &tf,
        "logs.amazonaws.com",
        "DeleteLogGroup",
        json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/legacy"}),
    );
    let train = call(
        2,
        &tf,
        "sagemaker.amazonaws.com",
        "CreateTrainingJob",
        json!({"trainingJobName": "nightly"}),
    );
    let id = "parapet-automation-delete-recreate";
    assert!(!raised(vec![drop_logs, train], id));
    let db = |i: i64, name: &str| {
        call(
            i,
            &tf,
            "rds.amazonaws.com",
            name,
            json!({"dBInstanceIdentifier": "orders", "skipFinalSnapshot": true}),
        )
    };
    assert!(raised(
        vec![db(1, "DeleteDBInstance"), db(2, "CreateDBInstance")],
        id
    ));
}

/// Issue 22, point 1: a batch read counts every secret it names. One GetParameters or
/// BatchGetSecretValue naming five or more is a bulk read; fewer, or parameters read
/// without decryption, is ordinary.
#[test]
fn a_batch_read_counts_every_secret_it_names() {
    let who = user("reporting");
    let names = |n: usize| {
        (0..n)
            .map(|k| format!("/prod/db/secret-{k}"))
            .collect::<Vec<_>>()
    };
    let params = |n: usize, decrypt: bool| json!({"names": names(n), "withDecryption": decrypt});
    assert!(raised(
        vec![call(
            1,
            &who,
            "ssm.amazonaws.com",
            "GetParameters",
            params(6, true)
        )],
        "parapet-secrets-bulk-read"
    ));
    assert!(raised(
        vec![call(
            1,
            &who,
            "secretsmanager.amazonaws.com",
            "BatchGetSecretValue",
            json!({"secretIdList": names(5)})
        )],
        "parapet-secrets-bulk-read"
    ));
    let quiet = rules_raised(vec![
        call(
            1,
            &who,
            "ssm.amazonaws.com",
            "GetParameters",
            params(3, true),
        ),
        call(
            2,
            &who,
            "ssm.amazonaws.com",
            "GetParameters",
            params(8, false),
        ),
    ]);
    assert!(
        !quiet.iter().any(|r| r.starts_with("parapet-secrets")),
        "{quiet:?}"
    );
    // Batch reads feed the harvesting count too: three calls of two names each.
    let spread: Vec<Value> = (0..3)
        .map(|k| {
            call(
                k,
                &who,
                "ssm.amazonaws.com",
                "GetParameters",
                json!({"names": [format!("/a/{k}"), format!("/b/{k}")], "withDecryption": true}),
            )
        })
        .chain((0..3).map(|k| {
            call(
                10 + k,
                &who,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                json!({"secretId": format!("app/{k}")}),
            )
        }))
        .collect();
    assert!(raised(spread, "parapet-secrets-harvest"));
}
