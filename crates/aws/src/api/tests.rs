//! API calls, written as an agent would send them and as CloudTrail records them
//! (shapes taken from Stratus Red Team detonation logs), reach the same effects.

use super::*;
use parapet_model::{DataFate, ShareTarget};
use serde_json::json;

fn ids(action: &str, params: serde_json::Value) -> Vec<&'static str> {
    let call = ApiCall::new(action, None, params).unwrap();
    analyze_call(&call, Some("111122223333"))
        .effects
        .iter()
        .map(|e| e.id())
        .collect()
}

fn one(action: &str, params: serde_json::Value) -> CallAnalysis {
    analyze_call(
        &ApiCall::new(action, None, params).unwrap(),
        Some("111122223333"),
    )
}

#[test]
fn strips_api_versions() {
    assert_eq!(
        strip_version("UpdateFunctionCode20150331v2"),
        "UpdateFunctionCode"
    );
    assert_eq!(
        strip_version("UpdateFunctionConfiguration20150331"),
        "UpdateFunctionConfiguration"
    );
    assert_eq!(strip_version("GetObject"), "GetObject");
    assert_eq!(strip_version("Disable"), "Disable");
}

#[test]
fn bad_actions_and_params() {
    assert!(matches!(
        ApiCall::new("ec2", None, json!({})),
        Err(CallError::BadAction(_))
    ));
    assert!(matches!(
        ApiCall::new(":Op", None, json!({})),
        Err(CallError::BadAction(_))
    ));
    assert!(matches!(
        ApiCall::new("ec2:Op", None, json!([1])),
        Err(CallError::BadParams(_))
    ));
    assert!(ApiCall::new("ec2:Op", None, json!(null)).is_ok());
}

#[test]
fn ingress_in_api_and_cloudtrail_shapes() {
    let api = json!({"GroupId": "sg-0abc", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]});
    assert_eq!(
        ids("ec2:AuthorizeSecurityGroupIngress", api),
        ["exposure.admin-port"]
    );
    let trail = json!({"groupId": "sg-0abc", "ipPermissions": {"items": [{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "208.236.235.254/0"}]}, "ipv6Ranges": {}}]}});
    assert_eq!(
        ids("ec2:AuthorizeSecurityGroupIngress", trail),
        ["exposure.all-ports"]
    );
    let flat = json!({"GroupId": "sg-1", "CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432});
    assert_eq!(
        ids("ec2:AuthorizeSecurityGroupIngress", flat),
        ["exposure.database-port"]
    );
    let private = json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]});
    assert!(ids("ec2:AuthorizeSecurityGroupIngress", private).is_empty());
    let a = one(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-0abc", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
    );
    assert_eq!(
        a.effects[0].summary(),
        "opens TCP 22 on sg-0abc to the whole internet (0.0.0.0/0)"
    );
}

#[test]
fn snapshot_sharing_as_cloudtrail_records_it() {
    let a = one(
        "ec2:ModifySnapshotAttribute",
        json!({"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-041993b54a9b3af6f"}),
    );
    assert_eq!(a.effects.len(), 1);
    assert!(
        matches!(&a.effects[0], Effect::ExternalShare { target: ShareTarget::Account { id }, .. } if id == "098797384747")
    );
    assert!(a.effects[0]
        .summary()
        .contains("EBS snapshot snap-041993b54a9b3af6f"));
    assert_eq!(
        ids(
            "ec2:ModifyImageAttribute",
            json!({"ImageId": "ami-1", "LaunchPermission": {"Add": [{"Group": "all"}]}})
        ),
        ["share.public"]
    );
    assert_eq!(
        ids(
            "rds:ModifyDBSnapshotAttribute",
            json!({"DBSnapshotIdentifier": "s", "AttributeName": "restore", "ValuesToAdd": ["all"]})
        ),
        ["share.public"]
    );
}

#[test]
fn iam_calls() {
    assert_eq!(
        ids(
            "iam:AttachUserPolicy",
            json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "userName": "malicious-iam-user"})
        ),
        ["privilege.admin"]
    );
    let doc =
        json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}).to_string();
    assert_eq!(
        ids(
            "iam:PutRolePolicy",
            json!({"RoleName": "ci", "PolicyName": "p", "PolicyDocument": doc})
        ),
        ["privilege.escalation"]
    );
    assert!(
        ids(
            "iam:CreatePolicyVersion",
            json!({"PolicyArn": "arn:aws:iam::1:policy/p", "PolicyDocument": doc})
        )
        .is_empty(),
        "not default: grants nothing yet"
    );
    assert_eq!(
        ids(
            "iam:CreatePolicyVersion",
            json!({"PolicyArn": "arn:aws:iam::1:policy/p", "PolicyDocument": doc, "SetAsDefault": true})
        ),
        ["privilege.escalation"]
    );
    assert_eq!(
        ids(
            "iam:CreateAccessKey",
            json!({"userName": "malicious-iam-user"})
        ),
        ["privilege.new-credential"]
    );
    assert_eq!(
        ids(
            "iam:CreateLoginProfile",
            json!({"passwordResetRequired": false, "userName": "u"})
        ),
        ["privilege.new-credential"]
    );
    let trust = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::193672423079:root\"}, \"Action\": \"sts:AssumeRole\"}]\n}";
    let a = one(
        "iam:CreateRole",
        json!({"assumeRolePolicyDocument": trust, "roleName": "r"}),
    );
    assert_eq!(a.effects[0].id(), "privilege.trust-opened");
    assert!(a.effects[0]
        .summary()
        .contains("another AWS account (arn:aws:iam::193672423079:root)"));
    // Unknown permission-management calls are not silently fine.
    assert_eq!(
        ids("iam:PutUserPermissionsBoundary", json!({"UserName": "u"})),
        ["privilege.unknown"]
    );
}

#[test]
fn defense_evasion_calls() {
    let a = one("cloudtrail:StopLogging", json!({"name": "org-trail"}));
    assert_eq!(a.effects[0].id(), "defense-evasion");
    assert_eq!(
        a.effects[0].summary(),
        "stops recording API activity on org-trail: CloudTrail"
    );
    assert_eq!(
        ids(
            "route53resolver:DeleteResolverQueryLogConfig",
            json!({"resolverQueryLogConfigId": "rqlc-1"})
        )[0],
        "defense-evasion"
    );
    assert_eq!(
        ids(
            "guardduty:UpdateDetector",
            json!({"DetectorId": "d", "Enable": false})
        ),
        ["defense-evasion"]
    );
    assert!(ids(
        "guardduty:UpdateDetector",
        json!({"DetectorId": "d", "Enable": true})
    )
    .is_empty());
    assert_eq!(
        ids(
            "bedrock:DeleteModelInvocationLoggingConfiguration",
            json!({})
        ),
        ["defense-evasion"]
    );
}

#[test]
fn destruction_calls_know_the_data_fate() {
    let a = one(
        "rds:DeleteDBInstance",
        json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true}),
    );
    assert!(a.destroys && a.data_bearing);
    assert_eq!(a.resource_type, "aws_db_instance");
    assert!(
        matches!(&a.effects[0], Effect::Destroy { data: DataFate::Lost { .. }, resource } if resource == "orders")
    );
    let a = one(
        "secretsmanager:DeleteSecret",
        json!({"SecretId": "s", "ForceDeleteWithoutRecovery": true}),
    );
    assert_eq!(a.effects[0].id(), "destroy.data-loss");
    let a = one(
        "kms:ScheduleKeyDeletion",
        json!({"KeyId": "k", "PendingWindowInDays": 7}),
    );
    assert!(a.effects[0].summary().contains("waits 7 days"));
    let a = one("ec2:TerminateInstances", json!({"InstanceIds": ["i-1"]}));
    assert_eq!(a.effects[0].id(), "destroy");
    // A delete parapet has no rule for: destroy, data fate unknown.
    let a = one("glue:DeleteDatabase", json!({"Name": "db"}));
    assert_eq!(a.effects[0].id(), "destroy.data-bearing");
}

#[test]
fn lambda_and_public_access() {
    assert_eq!(
        ids(
            "lambda:UpdateFunctionCode20150331v2",
            json!({"functionName": "arn:aws:lambda:r:1:function:f", "publish": true})
        ),
        ["code.change"]
    );
    assert_eq!(
        ids(
            "lambda:AddPermission",
            json!({"FunctionName": "f", "Principal": "*", "Action": "lambda:InvokeFunction"})
        ),
        ["exposure.public-access"]
    );
    assert!(ids(
        "lambda:AddPermission",
        json!({"FunctionName": "f", "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::b"})
    )
    .is_empty());
    assert_eq!(
        ids(
            "lambda:CreateFunctionUrlConfig",
            json!({"FunctionName": "f", "AuthType": "NONE"})
        ),
        ["exposure.public-access"]
    );
    let pol = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}).to_string();
    assert_eq!(
        ids("s3:PutBucketPolicy", json!({"Bucket": "b", "Policy": pol})),
        ["exposure.public-access"]
    );
    assert_eq!(
        ids(
            "s3:PutBucketAcl",
            json!({"Bucket": "b", "ACL": "public-read"})
        ),
        ["exposure.public-access"]
    );
}

#[test]
fn reads_have_no_effects_and_do_not_write() {
    let a = one("s3:GetObject", json!({"Bucket": "b", "Key": "k"}));
    assert!(a.effects.is_empty());
    assert!(!a.writes);
    let a = one("ec2:RunInstances", json!({"InstanceType": "t3.micro"}));
    assert!(a.writes);
    let a = one("madeup:DoThing", json!({}));
    assert!(a.level.is_none());
    assert!(a.writes, "unknown actions count as writes");
}

#[test]
fn calls_with_a_rule_that_finds_nothing_are_not_guessed_at() {
    assert!(ids(
        "sns:SetTopicAttributes",
        json!({"TopicArn": "t", "AttributeName": "DisplayName", "AttributeValue": "x"})
    )
    .is_empty());
    assert!(ids(
        "rds:ModifyDBInstance",
        json!({"DBInstanceIdentifier": "d", "PubliclyAccessible": false})
    )
    .is_empty());
}
