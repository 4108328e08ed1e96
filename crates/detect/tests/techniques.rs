//! Techniques with no public detonation log in this repository, built from how AWS records
//! them: each raises its rule, and its look-alike from an ordinary actor does not.

mod calls;

use calls::*;
use serde_json::{json, Value};

#[test]
fn root_activity_but_not_services_acting_for_root() {
    let root = json!({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"});
    let login = event(
        1,
        &root,
        "signin.amazonaws.com",
        "ConsoleLogin",
        Value::Null,
        json!({"responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}}),
    );
    assert!(raised(vec![login], "parapet-root-activity"));
    let mut by_service = root.clone();
    by_service["invokedBy"] = json!("support.amazonaws.com");
    let quiet = call(
        2,
        &by_service,
        "iam.amazonaws.com",
        "GetAccountSummary",
        json!({}),
    );
    assert!(rules_raised(vec![quiet]).is_empty());
}

#[test]
fn password_guessing_from_one_address() {
    let failed = |i: i64| {
        event(
            i,
            &json!({"type": "IAMUser", "accountId": "111122223333", "principalId": "111122223333", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
            "signin.amazonaws.com",
            "ConsoleLogin",
            Value::Null,
            json!({"responseElements": {"ConsoleLogin": "Failure"}, "errorMessage": "Failed authentication"}),
        )
    };
    assert!(!raised(
        (0..4).map(failed).collect(),
        "parapet-console-brute-force"
    ));
    assert!(raised(
        (0..5).map(failed).collect(),
        "parapet-console-brute-force"
    ));
}

#[test]
fn federated_console_sign_in_is_not_a_missing_mfa() {
    let sso = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com",
                     "accountId": "111122223333", "accessKeyId": "ASIASSO"});
    let login = |who: &Value| {
        event(
            1,
            who,
            "signin.amazonaws.com",
            "ConsoleLogin",
            Value::Null,
            json!({"responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"}}),
        )
    };
    assert!(rules_raised(vec![login(&sso)]).is_empty());
    assert!(raised(vec![login(&user("dana"))], "parapet-console-no-mfa"));
}

#[test]
fn mfa_removed_and_account_leaving_its_organization() {
    let who = user("svc-reporting");
    assert!(raised(
        vec![call(
            1,
            &who,
            "iam.amazonaws.com",
            "DeactivateMFADevice",
            json!({"userName": "alice", "serialNumber": "arn:aws:iam::111122223333:mfa/alice"})
        )],
        "parapet-mfa-removed"
    ));
    assert!(raised(
        vec![call(
            1,
            &who,
            "organizations.amazonaws.com",
            "LeaveOrganization",
            Value::Null
        )],
        "parapet-left-organization"
    ));
}

#[test]
fn key_destruction_by_a_stranger_not_by_the_pipeline() {
    let schedule = |who: &Value| {
        call(
            1,
            who,
            "kms.amazonaws.com",
            "ScheduleKeyDeletion",
            json!({"keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "pendingWindowInDays": 7}),
        )
    };
    assert!(raised(
        vec![schedule(&user("svc-reporting"))],
        "parapet-kms-key-destroyed"
    ));
    let mut by_pipeline = schedule(&pipeline());
    by_pipeline["userAgent"] = json!("APN/1.0 HashiCorp/1.0 Terraform/1.9.8");
    assert!(!raised(vec![by_pipeline], "parapet-kms-key-destroyed"));
}

#[test]
fn mass_deletion_of_objects() {
    let who = user("svc-reporting");
    let delete = |i: i64| {
        event(
            i,
            &who,
            "s3.amazonaws.com",
            "DeleteObject",
            json!({"bucketName": "orders-exports", "key": format!("exports/{i}.json")}),
            json!({"eventCategory": "Data", "managementEvent": false}),
        )
    };
    // 99 in under two minutes is a clean-up job; the 100th within five minutes is not.
    assert!(!raised(
        (0..99).map(delete).collect(),
        "parapet-s3-mass-delete"
    ));
    assert!(raised(
        (0..100).map(delete).collect(),
        "parapet-s3-mass-delete"
    ));
}

#[test]
fn commands_run_by_a_stranger_and_ports_opened_by_hand() {
    let who = user("svc-reporting");
    assert!(raised(
        vec![call(
            1,
            &who,
            "ssm.amazonaws.com",
            "SendCommand",
            json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0123456789abcdef0"]})
        )],
        "parapet-ssm-command"
    ));
    let open = |who: &Value, port: u16| {
        call(
            1,
            who,
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-0123", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        )
    };
    assert!(raised(
        vec![open(&who, 8080)],
        "parapet-service-port-opened"
    ));
    assert!(raised(
        vec![open(&pipeline(), 22)],
        "parapet-network-opened"
    ));
    assert!(rules_raised(vec![open(&pipeline(), 443)]).is_empty());
}

#[test]
fn a_function_hijacked_after_a_pipeline_deployed_it() {
    let change = |i: i64, who: &Value| {
        call(
            i,
            who,
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            json!({"functionName": "invoice-exporter"}),
        )
    };
    let role = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/invoice-role/invoice-exporter",
                      "accountId": "111122223333", "accessKeyId": "ASIAFUNCTION"});
    let act = |i: i64| {
        call(
            i,
            &role,
            "dynamodb.amazonaws.com",
            "PutItem",
            json!({"tableName": "invoices"}),
        )
    };
    // The pipeline's deploy and the function's work afterwards: nothing.
    let mut events = vec![change(1, &pipeline()), act(2), act(3)];
    assert!(rules_raised(events.clone()).is_empty());
    // A stranger's change a week later: the function's role now acts for them.
    events.push(change(7 * 86_400, &user("svc-reporting")));
    events.push(act(7 * 86_400 + 60));
    let raised = rules_raised(events);
    assert!(
        raised.iter().any(|r| r == "parapet-lambda-change"),
        "{raised:?}"
    );
    assert!(
        raised.iter().any(|r| r == "parapet-lambda-role-acts"),
        "{raised:?}"
    );
}

#[test]
fn secure_string_harvesting_and_bulk_reads_but_not_terraform() {
    let who = user("svc-reporting");
    let param = |i: i64, who: &Value, ua: &str| {
        let mut e = call(
            i,
            who,
            "ssm.amazonaws.com",
            "GetParameter",
            json!({"name": format!("/prod/db-{i}/password"), "withDecryption": true}),
        );
        e["userAgent"] = json!(ua);
        e
    };
    let stolen: Vec<Value> = (0..5).map(|i| param(i, &who, "Boto3/1.35.0")).collect();
    assert!(raised(stolen, "parapet-secrets-harvest"));
    let refresh: Vec<Value> = (0..8)
        .map(|i| param(i, &pipeline(), "APN/1.0 HashiCorp/1.0 Terraform/1.9.8"))
        .collect();
    assert!(rules_raised(refresh).is_empty());
    let by_path = |path: &str| {
        call(
            1,
            &who,
            "ssm.amazonaws.com",
            "GetParametersByPath",
            json!({"path": path, "recursive": true, "withDecryption": true}),
        )
    };
    assert!(raised(vec![by_path("/")], "parapet-secrets-bulk-read"));
    assert!(rules_raised(vec![by_path("/orders/prod/")]).is_empty());
    let batch = call(
        1,
        &who,
        "secretsmanager.amazonaws.com",
        "BatchGetSecretValue",
        json!({"filters": [{"key": "name", "values": ["prod"]}]}),
    );
    assert!(raised(vec![batch], "parapet-secrets-bulk-read"));
}

/// Issue 22 (1): `aws ec2 authorize-security-group-ingress --cidr 0.0.0.0/0 --port 22`
/// as CloudTrail records it: the flat form (`cidrIp`, `fromPort`, `toPort`,
/// `ipProtocol`) beside an empty `ipPermissions`, in each empty shape CloudTrail writes.
#[test]
fn the_flat_security_group_form_is_an_opened_port() {
    for empty in [json!({}), json!({"items": []}), Value::Null] {
        let mut req = json!({"groupId": "sg-0123", "cidrIp": "0.0.0.0/0", "fromPort": 22,
                             "toPort": 22, "ipProtocol": "tcp"});
        if !empty.is_null() {
            req["ipPermissions"] = empty.clone();
        }
        let open = call(
            1,
            &pipeline(),
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            req,
        );
        assert!(
            raised(vec![open], "parapet-network-opened"),
            "ipPermissions {empty}"
        );
        // The same form to one address is not the internet.
        let narrow = json!({"groupId": "sg-0123", "cidrIp": "198.51.100.7/32", "fromPort": 22,
                            "toPort": 22, "ipProtocol": "tcp", "ipPermissions": empty});
        let one = call(
            2,
            &pipeline(),
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            narrow,
        );
        assert!(!raised(vec![one], "parapet-network-opened"), "{empty}");
    }
}
