#!/usr/bin/env python3
"""Write demo/trail/takeover: CloudTrail as S3 delivers it (gzip `{"Records": [...]}`
files, one per 5 minutes, the attack's files written late), for an "8-minute takeover"
in the middle of an ordinary morning.

The attack follows the publicly reported chain: a key found in a public bucket does
cross-service recon (with denied calls), replaces a Lambda function's code, the
function's role mints a key for an admin user, that key creates a back-door admin user
with its own key and console password, which reads secrets, launches a GPU instance
behind an open security group, switches on Bedrock models and invokes them, shares an
EBS snapshot with an outside account and turns off model invocation logging.

Around it, benign traffic: an SSO engineer, a Terraform pipeline, a reporting service
using its key as usual, and two automation mistakes: the pipeline deleting and
recreating a database, and a drift bot revoking an engineer's emergency rule.

Record shapes follow CloudTrail's (eventVersion 1.09, userIdentity, sessionContext,
requestParameters/responseElements as the APIs log them). Deterministic: same output
on every run. Usage: scripts/make-takeover-demo.py [OUT_DIR]
"""

import gzip
import json
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

ACCOUNT = "111122223333"
OUTSIDE = "444455556666"
REGION = "us-east-1"
rng = random.Random(20261102)
T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=timezone.utc)
ATTACK = T0 + timedelta(hours=1, minutes=7)


def uid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def key(prefix="AKIA"):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(rng.choice(alphabet) for _ in range(16))


def user(name, access_key, ua, ip):
    return {
        "identity": {
            "type": "IAMUser",
            "principalId": "AIDA" + name.upper().replace("-", "")[:12].ljust(12, "X"),
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "accountId": ACCOUNT,
            "accessKeyId": access_key,
            "userName": name,
        },
        "ua": ua,
        "ip": ip,
    }


def session(role, name, access_key, ua, ip, invoked_by=None):
    ident = {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper().replace('-', '')[:12]}:{name}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": access_key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{role.upper().replace('-', '')[:12]}",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": T0.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        ident["invokedBy"] = invoked_by
    return {"identity": ident, "ua": ua, "ip": ip}


records = []


def call(actor, t, source, name, req=None, resp=None, error=None, read_only=None, resources=None):
    svc = source.split(".")[0]
    ro = read_only if read_only is not None else name.startswith(("Get", "List", "Describe", "Head"))
    r = {
        "eventVersion": "1.09",
        "userIdentity": actor["identity"],
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": actor["ip"],
        "userAgent": actor["ua"],
        "requestParameters": req,
        "responseElements": resp,
        "requestID": uid(),
        "eventID": uid(),
        "readOnly": ro,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    if error:
        r["errorCode"] = error
        r["errorMessage"] = f"User: {actor['identity']['arn']} is not authorized to perform: {svc}:{name}"
        r["responseElements"] = None
    if resources:
        r["resources"] = resources
    records.append(r)
    return r


# --- the ordinary morning -------------------------------------------------------------
reporting_key = key()
reporting = user("svc-reporting", reporting_key, "aws-sdk-java/2.25.12 Linux/5.10 OpenJDK_64-Bit_Server_VM/17", "203.0.113.10")
alice = session("AWSReservedSSO_PlatformAdmin_0a1b2c3d", "alice@example.com", key("ASIA"),
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "198.51.100.23")
terraform = session("gha-terraform", "GitHubActions-deploy-8841", key("ASIA"),
                    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io)", "192.0.2.44")
drift_bot = session("drift-remediation-agent", "agent-run-3317", key("ASIA"),
                    "aws-sdk-go-v2/1.30.3 os/linux lang/go md/agent claude-remediator/0.4", "192.0.2.80")

for minute in range(0, 150, 7):
    t = T0 + timedelta(minutes=minute, seconds=rng.randint(0, 50))
    call(reporting, t, "s3.amazonaws.com", "ListBuckets")
    call(reporting, t + timedelta(seconds=2), "athena.amazonaws.com", "StartQueryExecution",
         {"queryString": "SELECT ...", "workGroup": "reports"}, {"queryExecutionId": uid()}, read_only=False)
    call(reporting, t + timedelta(seconds=9), "athena.amazonaws.com", "GetQueryExecution", {"queryExecutionId": uid()})
for minute in range(3, 150, 11):
    t = T0 + timedelta(minutes=minute, seconds=rng.randint(0, 50))
    for name, src in [("DescribeInstances", "ec2"), ("DescribeDBInstances", "rds"), ("GetMetricData", "monitoring")]:
        call(alice, t + timedelta(seconds=rng.randint(0, 20)), f"{src}.amazonaws.com", name)
for minute in (12, 48, 95):
    t = T0 + timedelta(minutes=minute)
    for i, (name, src) in enumerate([("DescribeSecurityGroups", "ec2"), ("DescribeVpcs", "ec2"), ("GetRole", "iam"),
                                     ("GetBucketPolicy", "s3"), ("DescribeDBInstances", "rds")]):
        call(terraform, t + timedelta(seconds=i), f"{src}.amazonaws.com", name)

# Automation mistake 1: the pipeline "fixes" a small bug by deleting and recreating the orders database.
t = T0 + timedelta(minutes=52)
call(terraform, t, "rds.amazonaws.com", "DeleteDBInstance",
     {"dBInstanceIdentifier": "orders-db", "skipFinalSnapshot": True, "deleteAutomatedBackups": True},
     {"dBInstanceIdentifier": "orders-db", "dBInstanceStatus": "deleting"})
call(terraform, t + timedelta(minutes=6), "rds.amazonaws.com", "CreateDBInstance",
     {"dBInstanceIdentifier": "orders-db", "dBInstanceClass": "db.r6g.large", "engine": "postgres",
      "masterUserPassword": "HIDDEN_DUE_TO_SECURITY_REASONS"},
     {"dBInstanceIdentifier": "orders-db", "dBInstanceStatus": "creating"})

# Automation mistake 2: an engineer blocks an address during an incident; the drift bot reverts it.
t = T0 + timedelta(minutes=20)
call(alice, t, "ec2.amazonaws.com", "AuthorizeSecurityGroupEgress",
     {"groupId": "sg-0aa11bb22cc33dd44", "ipPermissions": {"items": [{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16", "description": "INC-2211 quarantine egress"}]}}]}},
     {"_return": True}, read_only=False)
call(drift_bot, t + timedelta(minutes=9), "ec2.amazonaws.com", "RevokeSecurityGroupEgress",
     {"groupId": "sg-0aa11bb22cc33dd44", "ipPermissions": {"items": [{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "10.20.0.0/16"}]}}]}},
     {"_return": True}, read_only=False)

# --- the takeover ----------------------------------------------------------------------
attacker_ip, attacker_ua = "185.220.101.47", "aws-cli/2.17.0 Python/3.12.4 Linux/6.8 exe/x86_64.kali"
stolen = dict(reporting, ip=attacker_ip, ua=attacker_ua)
t = ATTACK
call(stolen, t, "sts.amazonaws.com", "GetCallerIdentity")
recon = [("s3", "ListBuckets"), ("iam", "ListUsers"), ("iam", "ListRoles"), ("ec2", "DescribeInstances"),
         ("lambda", "ListFunctions20150331"), ("secretsmanager", "ListSecrets"), ("rds", "DescribeDBInstances"),
         ("bedrock", "ListFoundationModels"), ("cloudtrail", "DescribeTrails"), ("ssm", "DescribeParameters"),
         ("ec2", "DescribeSecurityGroups"), ("iam", "ListAttachedUserPolicies"), ("ecr", "DescribeRepositories"),
         ("kms", "ListKeys"), ("organizations", "DescribeOrganization"), ("guardduty", "ListDetectors")]
for i, (src, name) in enumerate(recon):
    denied = src in ("organizations", "guardduty", "kms")
    call(stolen, t + timedelta(seconds=3 + i * 2), f"{src}.amazonaws.com", name,
         error="AccessDenied" if denied else None)
for i in range(12):
    call(stolen, t + timedelta(seconds=40 + i), "iam.amazonaws.com",
         rng.choice(["ListAccessKeys", "GetAccountAuthorizationDetails", "ListPolicies"]),
         error="AccessDenied")

# Lambda hijack: the reporting key may update the invoice exporter, whose role can manage IAM.
t = ATTACK + timedelta(minutes=2, seconds=10)
fn = "invoice-exporter"
fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
call(stolen, t, "lambda.amazonaws.com", "UpdateFunctionCode20150331v2",
     {"functionName": fn, "publish": True, "zipFile": "HIDDEN"},
     {"functionName": fn, "functionArn": fn_arn, "role": f"arn:aws:iam::{ACCOUNT}:role/invoice-exporter-role",
      "codeSha256": "p1ZwI1Y6lm8oZsFvb3V2m5xC0l8p0Vq2o5s2d0k9r6U=", "lastUpdateStatus": "InProgress"}, read_only=False)
call(stolen, t + timedelta(seconds=8), "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2",
     {"functionName": fn, "timeout": 900},
     {"functionName": fn, "functionArn": fn_arn, "timeout": 900}, read_only=False)
lambda_key = key("ASIA")
lambda_svc = {"identity": {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}, "ua": "lambda.amazonaws.com", "ip": "lambda.amazonaws.com"}
call(lambda_svc, t + timedelta(seconds=30), "sts.amazonaws.com", "AssumeRole",
     {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/invoice-exporter-role", "roleSessionName": fn},
     {"credentials": {"accessKeyId": lambda_key, "expiration": "Nov 2, 2026, 10:08:00 PM", "sessionToken": "HIDDEN"},
      "assumedRoleUser": {"assumedRoleId": f"AROAINVOICEEXPORTER:{fn}", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/invoice-exporter-role/{fn}"}})
hijacked = session("invoice-exporter-role", fn, lambda_key, "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux exec-env/AWS_Lambda_python3.12", "3.91.12.7")
admin_key = key()
call(hijacked, t + timedelta(seconds=31), "iam.amazonaws.com", "CreateAccessKey", {"userName": "ops-admin"},
     {"accessKey": {"userName": "ops-admin", "accessKeyId": admin_key, "status": "Active", "createDate": "Nov 2, 2026, 10:09:41 AM"}},
     read_only=False)

# The admin key builds a back door.
ops = user("ops-admin", admin_key, attacker_ua, attacker_ip)
t = ATTACK + timedelta(minutes=3, seconds=30)
call(ops, t, "iam.amazonaws.com", "CreateUser", {"userName": "backup-svc"},
     {"user": {"userName": "backup-svc", "userId": "AIDABACKUPSVC0000001", "arn": f"arn:aws:iam::{ACCOUNT}:user/backup-svc", "path": "/"}},
     read_only=False)
call(ops, t + timedelta(seconds=6), "iam.amazonaws.com", "AttachUserPolicy",
     {"userName": "backup-svc", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, None, read_only=False)
backdoor_key = key()
call(ops, t + timedelta(seconds=11), "iam.amazonaws.com", "CreateAccessKey", {"userName": "backup-svc"},
     {"accessKey": {"userName": "backup-svc", "accessKeyId": backdoor_key, "status": "Active"}}, read_only=False)
call(ops, t + timedelta(seconds=15), "iam.amazonaws.com", "CreateLoginProfile",
     {"userName": "backup-svc", "passwordResetRequired": False}, {"loginProfile": {"userName": "backup-svc"}}, read_only=False)

backdoor = user("backup-svc", backdoor_key, attacker_ua, attacker_ip)
t = ATTACK + timedelta(minutes=4, seconds=30)
for i, s in enumerate(["prod/db/orders", "prod/stripe/api", "prod/openai/key", "prod/github/deploy", "prod/datadog/api", "prod/jwt/signing"]):
    call(backdoor, t + timedelta(seconds=i * 3), "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": s})
call(backdoor, t + timedelta(seconds=25), "ssm.amazonaws.com", "GetParameters",
     {"names": ["/prod/app/DB_PASSWORD", "/prod/app/SESSION_KEY"], "withDecryption": True})

# Compute hijacking.
t = ATTACK + timedelta(minutes=5, seconds=30)
call(backdoor, t, "ec2.amazonaws.com", "CreateSecurityGroup",
     {"groupName": "default-ssh", "groupDescription": "ssh", "vpcId": "vpc-0f1e2d3c"}, {"_return": True, "groupId": "sg-0badc0ffee1234567"}, read_only=False)
call(backdoor, t + timedelta(seconds=4), "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
     {"groupId": "sg-0badc0ffee1234567", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
     {"_return": True}, read_only=False)
call(backdoor, t + timedelta(seconds=9), "ec2.amazonaws.com", "RunInstances",
     {"instancesSet": {"items": [{"imageId": "ami-0c7217cdde317cfec", "minCount": 4, "maxCount": 4}]}, "instanceType": "p4d.24xlarge",
      "groupSet": {"items": [{"groupId": "sg-0badc0ffee1234567"}]}},
     {"instancesSet": {"items": [{"instanceId": f"i-0{rng.getrandbits(60):015x}", "instanceType": "p4d.24xlarge"} for _ in range(4)]}},
     read_only=False)

# LLMjacking.
t = ATTACK + timedelta(minutes=6, seconds=20)
call(backdoor, t, "bedrock.amazonaws.com", "PutUseCaseForModelAccess", {"formData": "HIDDEN"}, None, read_only=False)
models = ["anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-opus-20240229-v1:0", "meta.llama3-1-405b-instruct-v1:0",
          "mistral.mistral-large-2407-v1:0", "cohere.command-r-plus-v1:0", "ai21.jamba-1-5-large-v1:0"]
for i, m in enumerate(models):
    call(backdoor, t + timedelta(seconds=3 + i), "bedrock.amazonaws.com", "GetFoundationModelAvailability", {"modelId": m})
call(backdoor, t + timedelta(seconds=12), "bedrock.amazonaws.com", "PutFoundationModelEntitlement", {"modelId": models[1]}, {"status": "SUCCESS"}, read_only=False)
for i in range(5):
    call(backdoor, t + timedelta(seconds=20 + i * 4), "bedrock.amazonaws.com", "InvokeModel",
         {"modelId": models[i % 2], "contentType": "application/json"}, None, read_only=True)

# Exfiltration by sharing, then covering tracks.
t = ATTACK + timedelta(minutes=7, seconds=20)
call(backdoor, t, "ec2.amazonaws.com", "ModifySnapshotAttribute",
     {"snapshotId": "snap-0123456789abcdef0", "attributeType": "CREATE_VOLUME_PERMISSION",
      "createVolumePermission": {"add": {"items": [{"userId": OUTSIDE}]}}}, {"_return": True}, read_only=False)
call(backdoor, t + timedelta(seconds=25), "bedrock.amazonaws.com", "DeleteModelInvocationLoggingConfiguration", None, None, read_only=False)

# --- deliver as S3 would ---------------------------------------------------------------
records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "demo", "trail", "takeover")
os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    if f.endswith(".json.gz"):
        os.remove(os.path.join(out, f))
batches = {}
for r in records:
    t = datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    slot = t - timedelta(minutes=t.minute % 5, seconds=t.second)
    batches.setdefault(slot, []).append(r)
for slot, recs in sorted(batches.items()):
    # The attack's files were delivered late: named (and so listed) after later files.
    late = ATTACK <= slot < ATTACK + timedelta(minutes=10)
    written = slot + timedelta(minutes=5 + (12 if late else 0))
    name = f"{ACCOUNT}_CloudTrail_{REGION}_{written.strftime('%Y%m%dT%H%MZ')}_{uid()[:16].replace('-', '')}.json.gz"
    body = json.dumps({"Records": recs}, separators=(",", ":")).encode()
    with open(os.path.join(out, name), "wb") as fh:
        fh.write(gzip.compress(body, mtime=0))
print(f"{len(records)} records in {len(batches)} files -> {out}")
