//! Issue 22, point 2: a write whose risky parameters parapet cannot read is an unknown
//! (parameters), never "no effects": enumerations outside AWS's values, booleans that
//! are not booleans, nested settings of the wrong type, and a launch whose instance type
//! lives in a launch template parapet cannot read offline. The same calls with readable
//! parameters keep their ordinary judgement.

use parapet_aws::api::{analyze_call, ApiCall};
use parapet_model::Effect;
use serde_json::{json, Value};

fn unknown(action: &str, params: Value) -> Option<String> {
    let a = analyze_call(
        &ApiCall::new(action, None, params).unwrap(),
        Some("111122223333"),
    );
    a.effects.into_iter().find_map(|e| match e {
        Effect::Unknown { why, .. } => Some(why),
        _ => None,
    })
}

#[test]
fn unreadable_risky_parameters_are_unknown() {
    let cases = [
        // AuthType is NONE or AWS_IAM; anything else is not a value parapet can judge.
        (
            "lambda:CreateFunctionUrlConfig",
            json!({"FunctionName": "f", "AuthType": "none"}),
            "AuthType",
        ),
        (
            "lambda:UpdateFunctionUrlConfig",
            json!({"FunctionName": "f", "AuthType": " NONE"}),
            "AuthType",
        ),
        (
            "lambda:UpdateFunctionUrlConfig",
            json!({"functionName": "f", "authType": 0}),
            "authType",
        ),
        (
            "rds:ModifyDBInstance",
            json!({"DBInstanceIdentifier": "db", "PubliclyAccessible": "yes"}),
            "PubliclyAccessible",
        ),
        (
            "rds:CreateDBInstance",
            json!({"DBInstanceIdentifier": "db", "PubliclyAccessible": 1}),
            "PubliclyAccessible",
        ),
        (
            "rds:RestoreDBInstanceFromDBSnapshot",
            json!({"dBInstanceIdentifier": "db", "publiclyAccessible": "1"}),
            "PubliclyAccessible",
        ),
        (
            "eks:UpdateClusterConfig",
            json!({"name": "prod", "resourcesVpcConfig": {"endpointPublicAccess": "on"}}),
            "EndpointPublicAccess",
        ),
        (
            "eks:UpdateClusterConfig",
            json!({"name": "prod", "resourcesVpcConfig": {"endpointPublicAccess": true, "publicAccessCidrs": [10]}}),
            "PublicAccessCidrs",
        ),
        (
            "eks:CreateCluster",
            json!({"name": "prod", "resourcesVpcConfig": "public"}),
            "ResourcesVpcConfig",
        ),
        (
            "eks:CreateAccessEntry",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::1:role/x", "kubernetesGroups": [{"name": "system:masters"}]}),
            "KubernetesGroups",
        ),
        (
            "eks:AssociateAccessPolicy",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::1:role/x"}),
            "PolicyArn",
        ),
        (
            "s3:PutBucketLifecycleConfiguration",
            json!({"Bucket": "logs"}),
            "LifecycleConfiguration",
        ),
        (
            "s3:PutBucketLifecycle",
            json!({"bucketName": "logs", "LifecycleConfiguration": "expire everything"}),
            "LifecycleConfiguration",
        ),
        (
            "ec2:RunInstances",
            json!({"LaunchTemplate": {"LaunchTemplateName": "gpu-workers"}, "MinCount": 1, "MaxCount": 50}),
            "gpu-workers",
        ),
        // CloudTrail's record of the same launch.
        (
            "ec2:RunInstances",
            json!({"launchTemplate": {"launchTemplateId": "lt-0abc", "version": "3"}, "instancesSet": {"items": [{"minCount": 1, "maxCount": 50}]}}),
            "lt-0abc",
        ),
        (
            "ec2:RunInstances",
            json!({"ImageId": "ami-1", "InstanceType": 7, "MinCount": 1, "MaxCount": 1}),
            "InstanceType",
        ),
    ];
    for (action, params, names) in cases {
        let why = unknown(action, params.clone())
            .unwrap_or_else(|| panic!("{action} {params}: not an unknown"));
        assert!(
            why.to_lowercase().contains(&names.to_lowercase()),
            "{action}: {why}"
        );
    }
}

#[test]
fn readable_parameters_keep_their_judgement() {
    let cases = [
        (
            "lambda:UpdateFunctionUrlConfig",
            json!({"FunctionName": "f", "AuthType": "AWS_IAM"}),
        ),
        (
            "lambda:UpdateFunctionUrlConfig",
            json!({"FunctionName": "f", "Cors": {"AllowOrigins": ["*"]}}),
        ),
        (
            "rds:ModifyDBInstance",
            json!({"DBInstanceIdentifier": "db", "PubliclyAccessible": false}),
        ),
        (
            "rds:ModifyDBInstance",
            json!({"DBInstanceIdentifier": "db", "AllocatedStorage": 200}),
        ),
        (
            "eks:UpdateClusterConfig",
            json!({"name": "prod", "resourcesVpcConfig": {"endpointPublicAccess": false}}),
        ),
        (
            "eks:CreateAccessEntry",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::1:role/x", "kubernetesGroups": ["viewers"]}),
        ),
        (
            "eks:CreateAccessEntry",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::1:role/x"}),
        ),
        (
            "s3:PutBucketLifecycleConfiguration",
            json!({"Bucket": "logs", "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "Expiration": {"Days": 400}, "Filter": {}}]}}),
        ),
        (
            "ec2:RunInstances",
            json!({"LaunchTemplate": {"LaunchTemplateId": "lt-1"}, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1}),
        ),
        (
            "ec2:RunInstances",
            json!({"ImageId": "ami-1", "InstanceType": "m5.large", "MinCount": 1, "MaxCount": 1}),
        ),
    ];
    for (action, params) in cases {
        assert_eq!(unknown(action, params.clone()), None, "{action} {params}");
    }
    // Readable and risky: judged for what it is.
    let a = analyze_call(
        &ApiCall::new(
            "rds:ModifyDBInstance",
            None,
            json!({"DBInstanceIdentifier": "db", "PubliclyAccessible": "TRUE"}),
        )
        .unwrap(),
        None,
    );
    assert!(
        a.effects.iter().any(|e| e.id() == "exposure.public-access"),
        "{:?}",
        a.effects
    );
}
