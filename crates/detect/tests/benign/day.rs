//! The ordinary day of `benign.rs`, built call by call.

use serde_json::{json, Value};

#[path = "upkeep.rs"]
mod upkeep;

pub const ACCOUNT: &str = "111122223333";
pub const START_MS: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z
pub const HOUR: i64 = 3_600_000;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LAMBDA_UA: &str = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.224-235.871.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.5 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.144";
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.70.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2";
const DEPLOY_UA: &str = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#lambda.update-function-code";
pub const CLI_UA: &str = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#ec2.describe-instances";
const EC2_UA: &str =
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2";

fn session(role: &str, name: &str, key: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{:016X}:{name}", role.len() * 7919 + name.len()),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}"),
        "accountId": ACCOUNT, "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLE", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role},
            "attributes": {"creationDate": "2026-11-02T00:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

fn sso(user: &str) -> Value {
    session(
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        user,
        "ASIASSOEXAMPLE01",
    )
}

pub struct Trail {
    pub events: Vec<(i64, Value)>,
    pub seq: u64,
}

impl Trail {
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        t: i64,
        who: &Value,
        service: &str,
        name: &str,
        req: Value,
        resp: Value,
        ua: &str,
        ip: &str,
    ) -> &mut Value {
        self.seq += 1;
        let read_only = ["Describe", "Get", "List", "Head"]
            .iter()
            .any(|p| name.starts_with(p));
        let data = matches!(
            name,
            "GetObject" | "PutObject" | "DeleteObject" | "PutItem" | "GetItem" | "SendMessage"
        );
        self.events.push((
            t,
            json!({
                "eventVersion": "1.10", "userIdentity": who,
                "eventTime": parapet_model::time::rfc3339_ms(t - t % 1000),
                "eventSource": format!("{service}.amazonaws.com"), "eventName": name,
                "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": ua,
                "requestParameters": req, "responseElements": resp,
                "requestID": format!("req-{:012}", self.seq),
                "eventID": format!("benign-{:012}", self.seq),
                "readOnly": read_only,
                "eventType": "AwsApiCall", "managementEvent": !data,
                "recipientAccountId": ACCOUNT,
                "eventCategory": if data { "Data" } else { "Management" },
            }),
        ));
        &mut self.events.last_mut().unwrap().1
    }
}

fn function_arn(f: u64) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-{f}")
}

/// A pipeline deploying new code to every function, as `aws lambda update-function-code`.
fn deploy(trail: &mut Trail, t: i64) {
    let ci = session("gha-deployer", "GitHubActions", "ASIADEPLOYER0001");
    for f in 0..12 {
        trail.call(
            t + f as i64 * 2_000,
            &ci,
            "lambda",
            "UpdateFunctionCode20150331v2",
            json!({"functionName": function_arn(f), "publish": true}),
            json!({"functionName": format!("orders-{f}"), "version": "42"}),
            DEPLOY_UA,
            "20.42.0.7",
        );
    }
}

/// A Terraform plan refreshing the stack's resources, then (on applies) its changes.
fn terraform(trail: &mut Trail, r: &mut Lcg, t: i64, apply: bool) {
    let tf = session("gha-terraform", "GitHubActions", "ASIATERRAFORM001");
    let reads: [(&str, &str, Value); 14] = [
        ("ec2", "DescribeVpcs", json!({"vpcSet": {}})),
        (
            "ec2",
            "DescribeSecurityGroups",
            json!({"securityGroupIdSet": {"items": [{"groupId": "sg-0a1b2c3d4e5f60001"}]}}),
        ),
        ("ec2", "DescribeInstances", json!({"instancesSet": {}})),
        ("iam", "GetRole", json!({"roleName": "orders-role"})),
        (
            "iam",
            "ListAttachedRolePolicies",
            json!({"roleName": "orders-role"}),
        ),
        (
            "s3",
            "GetBucketPolicy",
            json!({"bucketName": "orders-exports", "Host": "orders-exports.s3.amazonaws.com"}),
        ),
        (
            "rds",
            "DescribeDBInstances",
            json!({"dBInstanceIdentifier": "orders-db"}),
        ),
        (
            "lambda",
            "GetFunction20150331v2",
            json!({"functionName": "orders-1"}),
        ),
        (
            "logs",
            "DescribeLogGroups",
            json!({"logGroupNamePrefix": "/aws/lambda/orders"}),
        ),
        ("kms", "DescribeKey", json!({"keyId": "alias/orders"})),
        (
            "elasticloadbalancing",
            "DescribeLoadBalancers",
            json!({"names": ["orders-alb"]}),
        ),
        ("dynamodb", "DescribeTable", json!({"tableName": "orders"})),
        (
            "sqs",
            "GetQueueAttributes",
            json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/orders"}),
        ),
        (
            "secretsmanager",
            "DescribeSecret",
            json!({"secretId": "orders/db"}),
        ),
    ];
    let mut at = t;
    for (svc, name, req) in reads {
        at += 300 + r.below(700) as i64;
        trail.call(
            at,
            &tf,
            svc,
            name,
            req,
            Value::Null,
            TERRAFORM_UA,
            "20.42.0.9",
        );
    }
    // The stack's secret versions and its configuration, as the provider reads them.
    for k in 0..6 {
        trail.call(
            at + 100 * (k + 1),
            &tf,
            "secretsmanager",
            "GetSecretValue",
            json!({"secretId": format!("orders/{k}/db")}),
            Value::Null,
            TERRAFORM_UA,
            "20.42.0.9",
        );
    }
    if !apply {
        return;
    }
    at += 5_000;
    let id = format!("i-0{:016x}", t);
    trail.call(
        at,
        &tf,
        "ec2",
        "RunInstances",
        json!({"instanceType": "m6i.large", "iamInstanceProfile": {"name": "orders-worker"},
               "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]}}),
        json!({"instancesSet": {"items": [{"instanceId": id, "instanceType": "m6i.large"}]}}),
        TERRAFORM_UA,
        "20.42.0.9",
    );
    // The load balancer's group serves HTTPS to everyone; that is what it is for.
    trail.call(
        at + 1_000,
        &tf,
        "ec2",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-0a1b2c3d4e5f60001", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        json!({"_return": true}),
        TERRAFORM_UA,
        "20.42.0.9",
    );
    trail.call(
        at + 2_000,
        &tf,
        "iam",
        "PutRolePolicy",
        json!({"roleName": "orders-role", "policyName": "read-exports",
               "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],\"Resource\":[\"arn:aws:s3:::orders-exports\",\"arn:aws:s3:::orders-exports/*\"]}]}"}),
        Value::Null,
        TERRAFORM_UA,
        "20.42.0.9",
    );
    // A new function's role: trusted by Lambda, with the basic execution policy.
    let role_name = format!("orders-report-{t}");
    trail.call(
        at + 3_000,
        &tf,
        "iam",
        "CreateRole",
        json!({"roleName": role_name,
               "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}),
        json!({"role": {"roleName": role_name, "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role_name}")}}),
        TERRAFORM_UA,
        "20.42.0.9",
    );
    trail.call(
        at + 4_000,
        &tf,
        "iam",
        "AttachRolePolicy",
        json!({"roleName": role_name, "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}),
        Value::Null,
        TERRAFORM_UA,
        "20.42.0.9",
    );
    // Auto Scaling replaces an instance with its service-linked role.
    trail.call(
        at + 30_000,
        &json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"),
                "accountId": ACCOUNT, "invokedBy": "autoscaling.amazonaws.com",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"), "userName": "AWSServiceRoleForAutoScaling"}}}),
        "ec2",
        "RunInstances",
        json!({"instanceType": "m6i.large", "launchTemplate": {"launchTemplateId": "lt-0abc", "version": "3"},
               "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}),
        json!({"instancesSet": {"items": [{"instanceId": format!("i-1{:016x}", t)}]}}),
        "autoscaling.amazonaws.com",
        "autoscaling.amazonaws.com",
    );
    // The instance, once up, works with its role (EC2 names the session after it).
    let role = session("orders-worker", &id, "ASIAWORKER000001");
    for k in 0..40 {
        let key = format!("exports/{t}/{k}.json");
        trail.call(
            at + 60_000 + k * 15_000,
            &role,
            "s3",
            if k % 2 == 0 { "GetObject" } else { "PutObject" },
            json!({"bucketName": "orders-exports", "key": key}),
            Value::Null,
            EC2_UA,
            "10.0.12.34",
        );
    }
}

/// Engineers: SSO console sessions and the CLI, a few services at a time.
fn engineers(trail: &mut Trail, r: &mut Lcg, t: i64) {
    for (i, user) in ["alice@example.com", "bob@example.com", "chen@example.com"]
        .into_iter()
        .enumerate()
    {
        let who = sso(user);
        let ip = format!("198.51.100.{}", 10 + i);
        let start = t + i as i64 * 600_000;
        trail.call(
            start,
            &who,
            "signin",
            "ConsoleLogin",
            Value::Null,
            json!({"ConsoleLogin": "Success"}),
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
            &ip,
        )["additionalEventData"] =
            json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"});
        // Half an hour in the console: CloudWatch, logs and EC2 pages.
        let pages: [(&str, &str); 5] = [
            ("monitoring", "DescribeAlarms"),
            ("monitoring", "GetMetricData"),
            ("logs", "FilterLogEvents"),
            ("ec2", "DescribeInstances"),
            ("logs", "DescribeLogStreams"),
        ];
        for k in 0..90 {
            let (svc, name) = pages[r.below(pages.len() as u64) as usize];
            trail.call(
                start + 20_000 * (k + 1),
                &who,
                svc,
                name,
                json!({"logGroupName": "/aws/lambda/orders-1"}),
                Value::Null,
                "AWS Internal",
                &ip,
            );
        }
        // Then the CLI for a few checks.
        for (k, (svc, name)) in [
            ("sts", "GetCallerIdentity"),
            ("ec2", "DescribeInstances"),
            ("cloudformation", "DescribeStacks"),
            ("ec2", "DescribeSecurityGroups"),
        ]
        .into_iter()
        .enumerate()
        {
            trail.call(
                start + 2_000_000 + k as i64 * 30_000,
                &who,
                svc,
                name,
                json!({}),
                Value::Null,
                CLI_UA,
                &ip,
            );
        }
    }
    // A person opens SSH to the office address only, and looks at one instance through
    // Session Manager.
    let alice = sso("alice@example.com");
    trail.call(
        t + 2_300_000,
        &alice,
        "ec2",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-0a1b2c3d4e5f60002", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "198.51.100.10/32"}]}}]}}),
        json!({"_return": true}),
        "AWS Internal",
        "198.51.100.10",
    );
    trail.call(
        t + 2_400_000,
        &alice,
        "ssm",
        "StartSession",
        json!({"target": "i-0aaaabbbbccccdddd"}),
        json!({"sessionId": "alice-0123456789abcdef0"}),
        "AWS Internal",
        "198.51.100.10",
    );
}

/// An IAM user rotating their own access key, signed in with MFA.
fn rotation(trail: &mut Trail, t: i64) {
    let dana = json!({"type": "IAMUser", "principalId": "AIDADANAEXAMPLE0001", "arn": format!("arn:aws:iam::{ACCOUNT}:user/dana"),
                      "accountId": ACCOUNT, "userName": "dana"});
    trail.call(
        t,
        &dana,
        "signin",
        "ConsoleLogin",
        Value::Null,
        json!({"ConsoleLogin": "Success"}),
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "203.0.113.40",
    )["additionalEventData"] = json!({"MFAUsed": "Yes", "MobileVersion": "No"});
    let mut console = dana.clone();
    console["accessKeyId"] = json!("ASIADANACONSOLE01");
    trail.call(
        t + 60_000,
        &console,
        "iam",
        "CreateAccessKey",
        json!({"userName": "dana"}),
        json!({"accessKey": {"userName": "dana", "accessKeyId": "AKIADANANEWKEY0001", "status": "Active"}}),
        "AWS Internal",
        "203.0.113.40",
    );
    trail.call(
        t + 90_000,
        &console,
        "iam",
        "DeleteAccessKey",
        json!({"userName": "dana", "accessKeyId": "AKIADANAOLDKEY0001"}),
        Value::Null,
        "AWS Internal",
        "203.0.113.40",
    );
}

/// The steady work of the account's functions and AWS services.
fn workloads(trail: &mut Trail, r: &mut Lcg, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        t += 250 + r.below(500) as i64;
        let f = r.below(12);
        let who = session(
            &format!("orders-{f}-role"),
            &format!("orders-{f}"),
            &format!("ASIAORDERS{f:06}"),
        );
        // Lambda's egress addresses vary from call to call.
        let ip = format!("3.{}.{}.{}", 80 + r.below(8), r.below(256), r.below(256));
        // A cold start loads the function's own configuration.
        if r.below(200) == 0 {
            trail.call(
                t,
                &who,
                "ssm",
                "GetParametersByPath",
                json!({"path": format!("/orders/{f}/"), "recursive": true, "withDecryption": true}),
                Value::Null,
                LAMBDA_UA,
                &ip,
            );
        }
        let mut ev = match (f, r.below(6)) {
            // Functions 0-2 are the product's assistant: they call Bedrock.
            (0..=2, 0..=2) => trail.call(
                t,
                &who,
                "bedrock",
                if r.below(2) == 0 { "InvokeModel" } else { "Converse" },
                json!({"modelId": "anthropic.claude-3-5-haiku-20241022-v1:0"}),
                Value::Null,
                LAMBDA_UA,
                &ip,
            )
            .clone(),
            (_, 0) => trail
                .call(
                    t,
                    &who,
                    "secretsmanager",
                    "GetSecretValue",
                    json!({"secretId": format!("orders/{f}/db")}),
                    Value::Null,
                    LAMBDA_UA,
                    &ip,
                )
                .clone(),
            (_, 1) => trail
                .call(
                    t,
                    &who,
                    "kms",
                    "Decrypt",
                    json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                    Value::Null,
                    LAMBDA_UA,
                    &ip,
                )
                .clone(),
            (_, 2) => trail
                .call(
                    t,
                    &who,
                    "sqs",
                    "SendMessage",
                    json!({"queueUrl": format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders")}),
                    Value::Null,
                    LAMBDA_UA,
                    &ip,
                )
                .clone(),
            _ => trail
                .call(
                    t,
                    &who,
                    "dynamodb",
                    if r.below(2) == 0 { "PutItem" } else { "GetItem" },
                    json!({"tableName": "orders"}),
                    Value::Null,
                    LAMBDA_UA,
                    &ip,
                )
                .clone(),
        };
        // One call in a hundred is refused (a permission missing for an edge case).
        if r.below(100) == 0 {
            ev["errorCode"] = json!("AccessDeniedException");
            trail.events.last_mut().unwrap().1 = ev;
        }
        // AWS services acting for the account: Lambda assuming the functions' roles.
        if r.below(40) == 0 {
            trail.call(
                t + 1,
                &json!({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}),
                "sts",
                "AssumeRole",
                json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/orders-{f}-role"), "roleSessionName": format!("orders-{f}")}),
                json!({"assumedRoleUser": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/orders-{f}-role/orders-{f}")}}),
                "lambda.amazonaws.com",
                "lambda.amazonaws.com",
            );
        }
    }
    // A clean-up function deletes expired exports every quarter hour, twenty at a time.
    let mut t = from;
    let cleaner = session(
        "exports-cleanup-role",
        "exports-cleanup",
        "ASIACLEANUP00001",
    );
    while t < to {
        for k in 0..20 {
            trail.call(
                t + k * 400,
                &cleaner,
                "s3",
                "DeleteObject",
                json!({"bucketName": "orders-exports", "key": format!("exports/old/{t}-{k}.json")}),
                Value::Null,
                LAMBDA_UA,
                "3.88.1.1",
            );
        }
        t += HOUR / 4;
    }
}

pub fn day() -> Vec<parapet_trail::Event> {
    let mut r = Lcg(7);
    let mut trail = Trail {
        events: Vec::new(),
        seq: 0,
    };
    let end = START_MS + 6 * HOUR;
    workloads(&mut trail, &mut r, START_MS, end);
    for h in 0..6 {
        terraform(
            &mut trail,
            &mut r,
            START_MS + h * HOUR + 5 * 60_000,
            h % 2 == 1,
        );
    }
    deploy(&mut trail, START_MS + HOUR + 30 * 60_000);
    deploy(&mut trail, START_MS + 4 * HOUR);
    engineers(&mut trail, &mut r, START_MS + 2 * HOUR);
    rotation(&mut trail, START_MS + 3 * HOUR);
    upkeep::upkeep(&mut trail, START_MS + 5 * HOUR);
    upkeep::scanners_and_services(&mut trail, START_MS + HOUR + 15 * 60_000);
    trail.events.sort_by_key(|(t, _)| *t);
    trail
        .events
        .into_iter()
        .map(|(_, v)| parapet_trail::Event::from_value(v).unwrap())
        .collect()
}
