//! What `encode` writes, `route` and `parameters` (the proxy's reader, tested against the
//! AWS CLI's own requests in `cli_corpus`) read back as the same call, for any text.

use parapet_wire::{encode, parameters, route, Head, ServiceModels};
use proptest::prelude::*;
use serde_json::{json, Value};

fn read_back(service: &str, op: &str, params: &Value) -> (String, Value) {
    let models = ServiceModels::embedded();
    let s = models.service(service).unwrap();
    let req = encode(s, op, params).unwrap();
    let mut headers = http::HeaderMap::new();
    for (k, v) in &req.headers {
        headers.insert(*k, v.parse().unwrap());
    }
    let head = Head {
        method: req.method,
        host: None,
        path: &req.path,
        query: "",
        headers: &headers,
    };
    let r = route(models, &head, &s.signing_name, Some(&req.body)).unwrap();
    let got = parameters(&r, &head, &req.body).unwrap();
    (r.operation.to_string(), got)
}

/// Calls whose parameters hold `a`, `b` and `n` wherever the shapes allow text and numbers:
/// the query protocol's `member` lists, ec2's flat lists and queryNames, rds's named list
/// members, json bodies.
fn calls(a: &str, b: &str, n: i64) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "iam",
            "PutRolePolicy",
            json!({"RoleName": a, "PolicyName": b, "PolicyDocument": format!("{{\"x\":\"{a}\"}}")}),
        ),
        (
            "iam",
            "UpdateAccessKey",
            json!({"UserName": a, "AccessKeyId": b, "Status": "Inactive"}),
        ),
        (
            "iam",
            "CreateLoginProfile",
            json!({"UserName": a, "Password": b, "PasswordResetRequired": n % 2 == 0}),
        ),
        (
            "ec2",
            "AuthorizeSecurityGroupIngress",
            json!({"GroupId": a, "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": n, "ToPort": n,
                 "IpRanges": [{"CidrIp": b, "Description": a}, {"CidrIp": a}],
                 "UserIdGroupPairs": [{"GroupId": b}]}
            ]}),
        ),
        (
            "ec2",
            "RevokeSecurityGroupIngress",
            json!({"GroupId": a, "SecurityGroupRuleIds": [a, b]}),
        ),
        (
            "ec2",
            "ModifySnapshotAttribute",
            json!({"SnapshotId": a, "Attribute": "createVolumePermission", "OperationType": "add", "UserIds": [b, a]}),
        ),
        (
            "ec2",
            "ModifyInstanceAttribute",
            json!({"InstanceId": a, "Groups": [b], "DisableApiTermination": {"Value": true}}),
        ),
        (
            "rds",
            "ModifyDBSnapshotAttribute",
            json!({"DBSnapshotIdentifier": a, "AttributeName": "restore", "ValuesToRemove": [b, a]}),
        ),
        ("sqs", "TagQueue", json!({"QueueUrl": a, "Tags": {"k": b}})),
        (
            "kms",
            "ScheduleKeyDeletion",
            json!({"KeyId": a, "PendingWindowInDays": n}),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn what_is_written_reads_back_the_same(a in "\\PC{1,20}", b in "[ -~]{1,20}", n in 1i64..65535) {
        for (service, op, params) in calls(&a, &b, n) {
            let (read_op, got) = read_back(service, op, &params);
            prop_assert_eq!(read_op, op);
            prop_assert_eq!(&got, &params, "{}:{}", service, op);
        }
    }
}

#[test]
fn an_empty_query_list_is_sent_as_an_empty_list() {
    let (_, got) = read_back("iam", "TagUser", &json!({"UserName": "u", "Tags": []}));
    assert_eq!(got, json!({"UserName": "u", "Tags": []}));
}
