//! Issue 22 (5, 6): an ordinary account stays quiet. Each ordinary caller, built from
//! how CloudTrail records it (`userIdentity`, `invokedBy`, `sourceIPAddress`, user agent),
//! raises nothing high or critical on its own; the attack it resembles still does.

mod calls;

use calls::*;
use parapet_detect::sigma::Level;
use parapet_detect::{Alert, Config, Detector};
use serde_json::{json, Value};

fn alerts(events: Vec<Value>) -> Vec<Alert> {
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut out = Vec::new();
    for v in events {
        let e = parapet_trail::Event::from_value(v).unwrap();
        out.extend(d.process(&e));
    }
    out
}

/// Alerts at high or critical, as `rule_id`s.
fn loud(events: Vec<Value>) -> Vec<String> {
    alerts(events)
        .into_iter()
        .filter(|a| a.level >= Level::High)
        .map(|a| a.rule_id)
        .collect()
}

fn session(role: &str, name: &str, key: &str) -> Value {
    json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{name}"),
           "arn": format!("arn:aws:sts::111122223333:assumed-role/{role}/{name}"),
           "accountId": "111122223333", "accessKeyId": key,
           "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
               "arn": format!("arn:aws:iam::111122223333:role/{role}"), "accountId": "111122223333", "userName": role},
               "attributes": {"creationDate": "2026-11-02T00:00:00Z", "mfaAuthenticated": "false"}}})
}

/// A scanner's sweep: List/Describe/Get across forty services, some refused.
fn sweep(who: &Value, start: i64, ip: &str, agent: &str) -> Vec<Value> {
    const SERVICES: [(&str, &str); 8] = [
        ("ec2", "DescribeInstances"),
        ("iam", "ListRoles"),
        ("s3", "ListBuckets"),
        ("lambda", "ListFunctions"),
        ("rds", "DescribeDBInstances"),
        ("kms", "ListKeys"),
        ("cloudtrail", "DescribeTrails"),
        ("guardduty", "ListDetectors"),
    ];
    let mut out = Vec::new();
    for i in 0..200 {
        let (svc, op) = SERVICES[i as usize % SERVICES.len()];
        let source = if i % 40 < 8 {
            format!("{svc}.amazonaws.com")
        } else {
            // Every service, as Prowler and ScoutSuite walk them.
            format!("svc{}.amazonaws.com", i % 40)
        };
        let mut extra = json!({"sourceIPAddress": ip, "userAgent": agent, "readOnly": true});
        if i % 10 == 3 {
            extra["errorCode"] = json!("AccessDenied");
            extra["errorMessage"] = json!("User is not authorized to perform this operation");
        }
        out.push(event(start + i, who, &source, op, json!({}), extra));
    }
    out
}

const PROWLER: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.205 md/arch#x86_64 lang/python#3.11.6 prowler/4.2.0";

#[test]
fn a_security_scanner_with_an_audit_role_stays_quiet() {
    let audit = session("SecurityAuditRole", "prowler-scan", "ASIAAUDIT");
    let quiet = loud(sweep(&audit, 0, "54.80.1.2", PROWLER));
    assert!(quiet.is_empty(), "{quiet:?}");
    // A next day's scan by a new session of the same role, from the same place.
    let mut two = sweep(&audit, 0, "54.80.1.2", PROWLER);
    let next = session("SecurityAuditRole", "prowler-scan-2", "ASIAAUDIT2");
    two.extend(sweep(&next, 3_600, "54.80.1.2", PROWLER));
    assert!(loud(two).is_empty());
}

#[test]
fn the_same_enumeration_by_a_leaked_key_still_alerts() {
    let leaked = user("reporting");
    let got = loud(sweep(&leaked, 0, "198.51.100.23", "aws-cli/2.17.0"));
    assert!(got.contains(&"parapet-recon-burst".to_string()), "{got:?}");
    assert!(got.contains(&"parapet-denied-storm".to_string()), "{got:?}");
    // The audit role itself, taken and used from an address it never used: recon.
    let audit = session("SecurityAuditRole", "prowler-scan", "ASIAAUDIT");
    let mut taken = sweep(&audit, 0, "54.80.1.2", PROWLER);
    let stolen = session("SecurityAuditRole", "laptop", "ASIASTOLEN");
    taken.extend(sweep(&stolen, 3_600, "198.51.100.23", "aws-cli/2.17.0"));
    let got = loud(taken);
    assert!(got.contains(&"parapet-recon-burst".to_string()), "{got:?}");
}

#[test]
fn console_browsing_is_not_reconnaissance() {
    let alice = session(
        "AWSReservedSSO_ReadOnly_0123abcd",
        "alice@example.com",
        "ASIACONSOLE",
    );
    let console = json!({"userAgent": "AWS Internal", "sessionCredentialFromConsole": "true", "readOnly": true});
    let pages: Vec<Value> = (0..12)
        .map(|i| {
            event(
                i,
                &alice,
                &format!("svc{i}.amazonaws.com"),
                "DescribeThings",
                json!({}),
                console.clone(),
            )
        })
        .collect();
    assert!(loud(pages.clone()).is_empty());
    // The same reads from a CLI by a person without an audit role: recon.
    let bob = session("Developer", "bob", "ASIABOB");
    let cli: Vec<Value> = (0..12)
        .map(|i| {
            event(
                i,
                &bob,
                &format!("svc{i}.amazonaws.com"),
                "DescribeThings",
                json!({}),
                json!({"userAgent": "aws-cli/2.17.0", "readOnly": true}),
            )
        })
        .collect();
    assert!(loud(cli).contains(&"parapet-recon-burst".to_string()));
}

#[test]
fn auto_scaling_launching_a_groups_gpu_instances_is_aws_acting() {
    let linked = json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:AutoScaling",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
        "accountId": "111122223333", "accessKeyId": "ASIASCALING",
        "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": "arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
            "userName": "AWSServiceRoleForAutoScaling"}},
        "invokedBy": "autoscaling.amazonaws.com"});
    let by_aws = json!({"sourceIPAddress": "autoscaling.amazonaws.com", "userAgent": "autoscaling.amazonaws.com"});
    let launch = |i: i64, who: &Value, extra: Value| {
        event(
            i,
            who,
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}, "instanceType": "g5.12xlarge",
                   "launchTemplate": {"launchTemplateId": "lt-0abc", "version": "3"}}),
            extra,
        )
    };
    let quiet = loud((0..6).map(|i| launch(i, &linked, by_aws.clone())).collect());
    assert!(quiet.is_empty(), "{quiet:?}");
    // Someone launching the same type themselves, or setting up a group to do it.
    assert!(raised(
        vec![launch(1, &user("mallory"), json!({}))],
        "parapet-gpu-launch"
    ));
    let config = call(
        1,
        &user("mallory"),
        "autoscaling.amazonaws.com",
        "CreateLaunchConfiguration",
        json!({"launchConfigurationName": "miner", "imageId": "ami-0abc", "instanceType": "p4d.24xlarge"}),
    );
    assert!(raised(vec![config], "parapet-gpu-launch"));
}

#[test]
fn a_container_task_reading_its_secrets_at_start_is_quiet() {
    let task = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
    let mut exec = session("ecsTaskExecutionRole", task, "ASIATASK");
    exec["invokedBy"] = json!("ecs-tasks.amazonaws.com");
    let by_ecs = json!({"sourceIPAddress": "ecs-tasks.amazonaws.com", "userAgent": "ecs-tasks.amazonaws.com"});
    let read = |i: i64, who: &Value, extra: Value| {
        event(
            i,
            who,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            json!({"secretId": format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-{i}")}),
            extra,
        )
    };
    let start: Vec<Value> = (0..12).map(|i| read(i, &exec, by_ecs.clone())).collect();
    let got = loud(start);
    assert!(got.is_empty(), "{got:?}");
    // The task role's credentials used from outside: harvesting.
    let mut stolen = exec.clone();
    stolen.as_object_mut().unwrap().remove("invokedBy");
    let outside = json!({"sourceIPAddress": "198.51.100.7", "userAgent": "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1"});
    let got = loud((0..6).map(|i| read(i, &stolen, outside.clone())).collect());
    assert!(
        got.contains(&"parapet-secrets-harvest".to_string()),
        "{got:?}"
    );
}

fn grant_admin(i: i64, who: &Value, ip: &str) -> Value {
    event(
        i,
        who,
        "iam.amazonaws.com",
        "AttachUserPolicy",
        json!({"userName": "ops-bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        json!({"sourceIPAddress": ip, "userAgent": "AWS Internal", "sessionCredentialFromConsole": "true"}),
    )
}

fn work(i: i64, who: &Value, ip: &str) -> Value {
    event(
        i,
        who,
        "ec2.amazonaws.com",
        "DescribeVpcs",
        json!({}),
        json!({"sourceIPAddress": ip, "userAgent": "AWS Internal", "sessionCredentialFromConsole": "true", "readOnly": true}),
    )
}

#[test]
fn sso_administrators_at_work_are_reported_at_most_medium() {
    let admin = session(
        "AWSReservedSSO_AdministratorAccess_5b2c1e0f7a9d3c44",
        "alice@example.com",
        "ASIASSO",
    );
    let mut day: Vec<Value> = (0..8).map(|i| work(i, &admin, "203.0.113.40")).collect();
    day.push(grant_admin(20, &admin, "203.0.113.40"));
    let all = alerts(day);
    let grant = all
        .iter()
        .find(|a| a.rule_id == "parapet-admin-granted")
        .expect("reported");
    assert_eq!(grant.level, Level::Medium);
    assert!(all.iter().all(|a| a.level <= Level::Medium), "{all:?}");
}

#[test]
fn an_sso_administrator_session_from_somewhere_new_escalating_is_critical() {
    let admin = session(
        "AWSReservedSSO_AdministratorAccess_5b2c1e0f7a9d3c44",
        "alice@example.com",
        "ASIASSO",
    );
    let mut day: Vec<Value> = (0..8).map(|i| work(i, &admin, "203.0.113.40")).collect();
    day.push(work(19, &admin, "198.51.100.200"));
    day.push(grant_admin(20, &admin, "198.51.100.200"));
    let all = alerts(day);
    let grant = all
        .iter()
        .find(|a| a.rule_id == "parapet-admin-granted")
        .expect("raised");
    assert_eq!(grant.level, Level::Critical);
    // Another administrator (no cap) granting admin from their usual place: critical.
    let ops = session("PlatformAdmin", "carol", "ASIAOPS");
    let got = loud(vec![grant_admin(1, &ops, "203.0.113.40")]);
    assert!(got.contains(&"parapet-admin-granted".to_string()));
}

fn instance(name: &str, delivery: bool) -> Value {
    let mut v = session("web-instance", name, "ASIAINSTANCE");
    if delivery {
        v["sessionContext"]["ec2RoleDelivery"] = json!("2.0");
    }
    v
}

const ON_INSTANCE: &str = "aws-sdk-go-v2/1.30.0 ua/2.1 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.0";

fn s3_data(i: i64, who: &Value, name: &str, ip: &str, agent: &str) -> Value {
    event(
        i,
        who,
        "s3.amazonaws.com",
        name,
        json!({"bucketName": "orders-exports", "key": "2026/11/01.csv", "Host": "orders-exports.s3.us-east-1.amazonaws.com"}),
        json!({"sourceIPAddress": ip, "userAgent": agent, "readOnly": true, "eventCategory": "Data",
               "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::orders-exports/2026/11/01.csv"}]}),
    )
}

const ID: &str = "parapet-instance-credentials-elsewhere";

#[test]
fn instance_credentials_from_a_desktop_client_need_no_baseline() {
    let i = instance("i-0a1b2c3d4e5f67890", true);
    for agent in [
        "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.ls",
        "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.11.8",
        "Boto3/1.26.0 Python/3.10.8 Darwin/22.1.0 Botocore/1.29.0",
        "aws-cli/1.27.0 Python/3.10.8 Windows/10 botocore/1.29.0",
    ] {
        let first = s3_data(0, &i, "ListObjects", "198.51.100.77", agent);
        assert!(raised(vec![first], ID), "{agent}");
    }
    // Delivered by the metadata service though not named after the instance.
    let renamed = instance("web-01", true);
    let agent =
        "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/macos#23.1.0 md/arch#arm64 lang/python#3.12.0";
    assert!(raised(
        vec![s3_data(0, &renamed, "GetObject", "198.51.100.77", agent)],
        ID
    ));
    // A person's own role from their Mac is not instance credentials.
    let person = session("Developer", "bob", "ASIABOB");
    assert!(!raised(
        vec![s3_data(0, &person, "GetObject", "198.51.100.77", agent)],
        ID
    ));
}

#[test]
fn instance_credentials_from_an_address_the_instance_never_used() {
    let i = instance("i-0a1b2c3d4e5f67890", true);
    let mut day: Vec<Value> = (0..8)
        .map(|n| s3_data(n, &i, "GetObject", "54.210.7.19", ON_INSTANCE))
        .collect();
    // The instance itself: its own address and agent, and S3 through the VPC endpoint.
    day.extend((8..16).map(|n| s3_data(n, &i, "GetObject", "10.0.3.17", ON_INSTANCE)));
    assert!(!raised(day.clone(), ID));
    // Another instance of the same role, at its own address: not the first one's.
    let other = instance("i-0fedcba9876543210", true);
    day.extend((16..30).map(|n| s3_data(n, &other, "GetObject", "54.210.9.88", ON_INSTANCE)));
    assert!(!raised(day.clone(), ID));
    // The same agent string (copied), from elsewhere: S3 data events count.
    day.push(s3_data(100, &i, "GetObject", "198.51.100.77", ON_INSTANCE));
    day.push(s3_data(
        101,
        &i,
        "ListObjects",
        "198.51.100.77",
        ON_INSTANCE,
    ));
    let hits = alerts(day).into_iter().filter(|a| a.rule_id == ID).count();
    assert_eq!(hits, 2, "each call from the unfamiliar address");
}
