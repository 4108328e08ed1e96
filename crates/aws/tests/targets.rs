//! Issue 22: the resource a call acts on is read where the service models put it
//! (`data/id-keys.tsv`): every name of a list-valued member counts, ARN-valued members
//! place the resource, API and CloudTrail spellings read alike, and a write whose target
//! the models require but the call does not name is an unknown, never "no effects".

use parapet_aws::api::{analyze_call, ApiCall, CallAnalysis};
use parapet_model::Effect;
use serde_json::{json, Value};

fn one(action: &str, params: Value) -> CallAnalysis {
    analyze_call(
        &ApiCall::new(action, None, params).unwrap(),
        Some("111122223333"),
    )
}

fn ids(a: &CallAnalysis) -> Vec<&'static str> {
    a.effects.iter().map(Effect::id).collect()
}

#[test]
fn list_valued_members_name_every_resource() {
    let names = ["/app/db/password", "/app/api/key", "/app/jwt"];
    for p in [
        json!({"Names": names, "WithDecryption": true}),
        // CloudTrail.
        json!({"names": names, "withDecryption": true}),
    ] {
        let a = one("ssm:GetParameters", p.clone());
        assert_eq!(a.resources, names, "{p}");
        assert_eq!(a.resource, names[0]);
        assert_eq!(a.resource_type, "aws_ssm_parameter");
    }
    // BatchGetSecretValue: the catalog ties it to no resource type; the models' input
    // names secrets, which places it.
    let a = one(
        "secretsmanager:BatchGetSecretValue",
        json!({"SecretIdList": ["db", "api", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x"]}),
    );
    assert_eq!(a.resources.len(), 3);
    assert!(a.placed);
    assert_eq!(a.resource_type, "aws_secretsmanager_secret");
    // By filter, no secret is named (the behaviour pack's bulk-read rule is for that).
    let a = one(
        "secretsmanager:BatchGetSecretValue",
        json!({"Filters": [{"Key": "name", "Values": ["prod"]}]}),
    );
    assert!(a.resources.is_empty());
}

#[test]
fn batch_writes_count_every_target() {
    let keys: Vec<Value> = (0..3).map(|k| json!({"Key": format!("k{k}")})).collect();
    for p in [
        json!({"Bucket": "b", "Delete": {"Objects": keys}}),
        json!({"bucketName": "b", "delete": {"Object": keys}}),
    ] {
        let a = one("s3:DeleteObjects", p.clone());
        assert_eq!(a.resources, ["b/k0", "b/k1", "b/k2"], "{p}");
    }
    let a = one(
        "dynamodb:BatchWriteItem",
        json!({"RequestItems": {"orders": [{"DeleteRequest": {"Key": {}}}], "users": []}}),
    );
    assert_eq!(a.resources, ["orders", "users"]);
    let a = one(
        "sqs:DeleteMessageBatch",
        json!({"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q", "Entries": [{"Id": "1", "ReceiptHandle": "h"}]}),
    );
    assert_eq!(a.level.map(|l| l.as_str()), Some("Write"));
    assert_eq!(a.resources, ["https://sqs.eu-west-1.amazonaws.com/1/q"]);
    // Terminating three instances is three destructions, in every spelling.
    for p in [
        json!({"InstanceIds": ["i-1", "i-2", "i-3"]}),
        json!({"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}, {"instanceId": "i-3"}]}}),
        json!({"InstanceId": {"items": ["i-1", "i-2", "i-3"]}}),
    ] {
        let a = one("ec2:TerminateInstances", p.clone());
        assert_eq!(a.resources, ["i-1", "i-2", "i-3"], "{p}");
        let destroyed: Vec<String> = a
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Destroy { resource, .. } => Some(resource.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(destroyed, ["i-1", "i-2", "i-3"], "{p}");
    }
}

#[test]
fn arn_members_name_and_place_the_resource() {
    // sts:AssumeRole acts on the role its RoleArn names.
    for p in [
        json!({"RoleArn": "arn:aws:iam::222233334444:role/deploy", "RoleSessionName": "s"}),
        json!({"roleArn": "arn:aws:iam::222233334444:role/deploy", "roleSessionName": "s"}),
    ] {
        let a = one("sts:AssumeRole", p);
        assert_eq!(a.resource, "arn:aws:iam::222233334444:role/deploy");
        assert_eq!(a.resource_type, "aws_iam_role");
    }
    // Tagging by ARN: the catalog ties TagResources to no type; the ARN says a bucket.
    let a = one(
        "tag:TagResources",
        json!({"ResourceARNList": ["arn:aws:s3:::logs", "arn:aws:s3:::data"], "Tags": {"a": "b"}}),
    );
    assert!(a.placed, "{a:?}");
    assert_eq!(a.resource_type, "aws_s3_bucket");
    assert_eq!(a.resources, ["arn:aws:s3:::logs", "arn:aws:s3:::data"]);
    // An ARN the catalog has a pattern for, of a kind with no Terraform name here.
    assert_eq!(
        parapet_aws::api::place::arn_type("arn:aws:iam::1:role/service-role/x").as_deref(),
        Some("aws_iam_role")
    );
    assert_eq!(
        parapet_aws::api::place::arn_type("arn:aws:s3:::bucket/key/with/slashes").as_deref(),
        Some("aws_s3_object")
    );
    assert_eq!(parapet_aws::api::place::arn_type("not-an-arn"), None);
    assert_eq!(
        parapet_aws::api::place::arn_type("arn:aws:nosuch:::x"),
        None
    );
}

#[test]
fn a_write_whose_required_target_is_missing_is_unknown() {
    for (action, p, why) in [
        (
            "ec2:ModifyVpcAttribute",
            json!({"EnableDnsSupport": {"Value": true}}),
            "VpcId is not given",
        ),
        ("s3:PutObject", json!({"Bucket": "b"}), "Key is not given"),
        (
            "rds:ModifyDBInstance",
            json!({"DBInstanceIdentifier": 7}),
            "DBInstanceIdentifier is a number",
        ),
    ] {
        let a = one(action, p);
        let unknown = a
            .effects
            .iter()
            .find_map(|e| match e {
                Effect::Unknown { why, .. } => Some(why.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{action}: {:?}", ids(&a)));
        assert!(unknown.contains(why), "{action}: {unknown}");
        assert!(unknown.contains("cannot be read"), "{unknown}");
    }
    // A read needs no target to be judged; a target given as the resource is enough.
    assert!(ids(&one("ec2:DescribeVpcAttribute", json!({}))).is_empty());
    let given = analyze_call(
        &ApiCall::new("ec2:ModifyVpcAttribute", Some("vpc-1".into()), json!({})).unwrap(),
        None,
    );
    assert!(ids(&given).is_empty(), "{:?}", ids(&given));
    // The optional target left out is the default one (the caller's own user).
    assert_eq!(
        ids(&one("iam:CreateAccessKey", json!({}))),
        ["privilege.new-credential"]
    );
}

#[test]
fn an_unreadable_source_is_judged_as_the_internet_and_said_so() {
    let a = one(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0/0"}]}]}),
    );
    let said: Vec<String> = a.effects.iter().map(Effect::summary).collect();
    assert_eq!(ids(&a), ["unknown.parameters", "exposure.port"], "{said:?}");
    assert!(
        said.iter()
            .any(|s| s.contains("not a CIDR parapet can read: judged as the whole internet")),
        "{said:?}"
    );
    // On an admin port it is the internet-admin-port exposure automation may not make.
    let a = one(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"GroupId": "sg-1", "CidrIp": "everyone", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}),
    );
    assert!(ids(&a).contains(&"exposure.admin-port"), "{:?}", ids(&a));
}

#[test]
fn placing_by_the_type_an_action_is_named_after() {
    for (action, p, ty) in [
        (
            "rds:CreateDBSnapshot",
            json!({"DBInstanceIdentifier": "db", "DBSnapshotIdentifier": "s"}),
            "aws_db_snapshot",
        ),
        (
            "rds:RemoveFromGlobalCluster",
            json!({"GlobalClusterIdentifier": "g", "DbClusterIdentifier": "c"}),
            "aws_rds_global_cluster",
        ),
    ] {
        let a = one(action, p);
        assert!(a.placed, "{action}");
        assert_eq!(a.resource_type, ty, "{action}");
    }
}

/// `data/id-keys.tsv` is made from crates/wire's service models: when those are
/// regenerated, so must it be (`scripts/gen-id-keys.py`).
#[test]
fn the_id_table_is_made_from_the_models_this_build_embeds() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let provenance = std::fs::read_to_string(format!("{dir}/../wire/data/PROVENANCE.md")).unwrap();
    let models_sha = provenance
        .lines()
        .find_map(|l| l.strip_prefix("- sha256 (gzip file): `"))
        .and_then(|l| l.strip_suffix('`'))
        .expect("PROVENANCE.md names the models' sha256");
    let table = std::fs::read_to_string(format!("{dir}/data/id-keys.tsv")).unwrap();
    let header: String = table.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(
        header.contains(&format!("sha256 {models_sha}")),
        "id-keys.tsv was made from other models: run scripts/gen-id-keys.py"
    );
}
