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

/// Every spelling an agent, an SDK or the CLI may send names the catalog's action.
const SPELLINGS: &[(&str, &str)] = &[
    ("rds:DeleteDBInstance", "rds:DeleteDBInstance"),
    ("rds:deleteDBInstance", "rds:DeleteDBInstance"),
    ("rds:deletedbinstance", "rds:DeleteDBInstance"),
    ("rds:delete_db_instance", "rds:DeleteDBInstance"),
    ("rds:delete-db-instance", "rds:DeleteDBInstance"),
    ("rds:DeleteDBInstance ", "rds:DeleteDBInstance"),
    (" rds:DeleteDBInstance", "rds:DeleteDBInstance"),
    ("\trds : DeleteDBInstance\n", "rds:DeleteDBInstance"),
    ("RDS:DeleteDBInstance", "rds:DeleteDBInstance"),
    (
        "ec2:authorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupIngress",
    ),
    (
        "EC2:authorize_security_group_ingress",
        "ec2:AuthorizeSecurityGroupIngress",
    ),
    ("iam:attach-user-policy", "iam:AttachUserPolicy"),
    (
        "Access_Analyzer:DeleteAnalyzer",
        "access-analyzer:DeleteAnalyzer",
    ),
    ("lambda:update_function_code", "lambda:UpdateFunctionCode"),
    (
        "lambda:UpdateFunctionCode20150331v2",
        "lambda:UpdateFunctionCode",
    ),
    // API operation names that are not IAM action names keep the API's spelling.
    ("s3:list_objects_v2", "s3:ListObjectsV2"),
    (
        "s3:delete-public-access-block",
        "s3:DeletePublicAccessBlock",
    ),
    // Not in the catalog: kept as given, trimmed; the service lowercased.
    ("rds:FrobnicateDBInstance ", "rds:FrobnicateDBInstance"),
    ("NoSuchService:do_thing", "nosuchservice:do_thing"),
];

#[test]
fn every_spelling_names_the_catalog_action() {
    for (given, canonical) in SPELLINGS {
        let call = ApiCall::new(given, None, json!({})).unwrap();
        assert_eq!(call.action(), *canonical, "{given:?}");
        let a = analyze_call(&call, None);
        assert_eq!(a.action, *canonical, "{given:?}");
    }
}

#[test]
fn rules_see_the_canonical_name() {
    let params = json!({"DBInstanceIdentifier": "orders", "SkipFinalSnapshot": true});
    let canonical = one("rds:DeleteDBInstance", params.clone());
    for given in [
        "rds:delete_db_instance",
        "rds:deleteDBInstance",
        " RDS:delete-db-instance ",
    ] {
        let a = one(given, params.clone());
        assert_eq!(a.effects, canonical.effects, "{given}");
        assert_eq!(a.level, canonical.level, "{given}");
        assert_eq!(a.resource_type, "aws_db_instance", "{given}");
        assert!(a.destroys && a.data_bearing, "{given}");
    }
}

#[test]
fn api_operation_names_take_the_level_of_their_iam_action() {
    // ListObjectsV2 needs s3:ListBucket: a read, not an unknown write.
    let a = one("s3:ListObjectsV2", json!({"Bucket": "b"}));
    assert_eq!(a.level, Some(AccessLevel::List));
    assert!(!a.writes);
    assert_eq!(
        one("s3:head_object", json!({})).level,
        Some(AccessLevel::Read)
    );
    assert_eq!(
        one("lambda:Invoke", json!({})).level,
        Some(AccessLevel::Write)
    );
    // Unknown: no level, a write.
    let u = one("rds:FrobnicateDBInstance", json!({}));
    assert_eq!(u.level, None);
    assert!(u.writes);
}

#[test]
fn canonical_matches_are_unambiguous_and_allocation_free_in_shape() {
    let cat = catalog();
    // Inner whitespace or other characters are no spelling of a name.
    assert_eq!(cat.canonical("rds", "Delete DBInstance"), None);
    assert_eq!(cat.canonical("rds", "DeleteDBInstance*"), None);
    assert_eq!(cat.canonical("rds", "DéleteDBInstance"), None);
    assert_eq!(cat.canonical("rds", &"a".repeat(500)), None);
    let c = cat.canonical(" RDS ", "delete_db_instance").unwrap();
    assert_eq!((c.service, c.operation), ("rds", "DeleteDBInstance"));
    assert_eq!(cat.full_name(c.action), "rds:DeleteDBInstance");
    // Already canonical names come back borrowed from the catalog.
    let (s, o) = normalise("rds", "DeleteDBInstance").unwrap();
    assert!(matches!(s, Cow::Borrowed(_)));
    assert_eq!(o, "DeleteDBInstance");
    // Every catalog action is its own canonical name.
    for (i, a) in cat.actions.iter().enumerate() {
        let prefix = cat.services[a.service as usize].prefix;
        let c = cat.canonical(prefix, a.name).unwrap();
        assert_eq!((c.service, c.operation, c.action), (prefix, a.name, i));
    }
}

mod spelling_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        /// Any case, any `_`/`-` between characters and surrounding whitespace: the
        /// catalog's action, and the rules see it.
        #[test]
        fn any_sdk_spelling_of_a_catalog_action_is_that_action(
            which in 0usize..20_000,
            case_bits in any::<u64>(),
            seps in prop::collection::vec((0usize..64, prop_oneof![Just('_'), Just('-')]), 0..4),
            pad in prop_oneof![Just(""), Just(" "), Just("\t"), Just(" \n ")],
        ) {
            let cat = catalog();
            let i = which % cat.len();
            let a = &cat.actions[i];
            let prefix = cat.services[a.service as usize].prefix;
            let mut op: Vec<char> = a
                .name
                .chars()
                .enumerate()
                .map(|(n, c)| if case_bits >> (n % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            for (at, sep) in seps {
                let at = at % (op.len() + 1);
                if at > 0 && at < op.len() {
                    op.insert(at, sep);
                }
            }
            let op: String = op.into_iter().collect();
            let given = format!("{pad}{}:{op}{pad}", prefix.to_ascii_uppercase());
            let call = ApiCall::new(&given, None, json!({})).unwrap();
            prop_assert_eq!(call.action(), cat.full_name(i));
        }

        /// Arbitrary text never panics, and a match is always a catalog name.
        #[test]
        fn arbitrary_names_never_panic(service in "\\PC{0,12}", op in "\\PC{0,40}") {
            if let Some(c) = catalog().canonical(&service, &op) {
                prop_assert!(catalog().canonical(c.service, c.operation).is_some());
            }
            let _ = normalise(&service, &op);
        }
    }
}
