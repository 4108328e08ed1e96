//! Issue 22, one knowledge before and after: every operation the behaviour pack keys on
//! (`eventSource` + `eventName` in crates/detect/rules/*.yml) is an effect the gate sees
//! before the call, from the same knowledge layer (`parapet_aws::api::analyze_call`).
//! A rule added for a new operation fails here until the knowledge layer knows it, or
//! until the operation is added, with its reason, to `AGGREGATE_OR_READ`.

use parapet_aws::api::{analyze_call, ApiCall};
use parapet_model::Effect;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use yaml_serde::Value as Y;

/// Operations the pack uses only in aggregate (counted across events, or correlated with
/// others) or that are reads: none is dangerous alone before the call, so the gate has
/// no effect for them. Each line says why.
const AGGREGATE_OR_READ: &[(&str, &str, &str)] = &[
    // Capacity through Auto Scaling: judged by instance type and in aggregate.
    (
        "autoscaling",
        "CreateAutoScalingGroup",
        "capacity, judged by type and in aggregate",
    ),
    (
        "autoscaling",
        "CreateLaunchConfiguration",
        "capacity, judged by type and in aggregate",
    ),
    (
        "autoscaling",
        "UpdateAutoScalingGroup",
        "capacity, judged by type and in aggregate",
    ),
    // Console sign-in is not an API call an agent can make through the gate.
    ("signin", "ConsoleLogin", "sign-in, not an API call"),
    // Recon and probing: reads counted per actor (recon.yml, llmjacking.yml, compute.yml).
    ("sts", "GetCallerIdentity", "recon read, counted"),
    ("ses", "GetSendQuota", "SES probe read, counted"),
    ("ses", "GetAccountSendingEnabled", "SES probe read, counted"),
    ("ses", "GetAccount", "SES probe read, counted"),
    ("ses", "ListIdentities", "SES probe read, counted"),
    ("ses", "ListEmailIdentities", "SES probe read, counted"),
    (
        "ses",
        "GetIdentityVerificationAttributes",
        "SES probe read, counted",
    ),
    ("ses", "GetSendStatistics", "SES probe read, counted"),
    (
        "bedrock",
        "GetFoundationModelAvailability",
        "Bedrock probe read, counted",
    ),
    (
        "bedrock",
        "GetUseCaseForModelAccess",
        "Bedrock probe read, counted",
    ),
    (
        "bedrock",
        "ListFoundationModelAgreementOffers",
        "Bedrock probe read, counted",
    ),
    (
        "bedrock",
        "ListFoundationModels",
        "Bedrock probe read, counted",
    ),
    // Model invocations: spend and unusual invokers, judged over many events.
    ("bedrock", "InvokeModel", "model use, judged in aggregate"),
    (
        "bedrock",
        "InvokeModelWithResponseStream",
        "model use, judged in aggregate",
    ),
    ("bedrock", "Converse", "model use, judged in aggregate"),
    (
        "bedrock",
        "ConverseStream",
        "model use, judged in aggregate",
    ),
    // Secret and data reads: counted per actor (secrets.yml); reads are not writes.
    ("secretsmanager", "GetSecretValue", "secret read, counted"),
    (
        "secretsmanager",
        "BatchGetSecretValue",
        "secret read, counted",
    ),
    ("ssm", "GetParameter", "parameter read, counted"),
    ("ssm", "GetParameters", "parameter reads, each name counted"),
    ("ssm", "GetParametersByPath", "parameter read, counted"),
    ("ec2", "GetPasswordData", "read, counted"),
    ("ec2", "DescribeInstanceAttribute", "read, counted"),
    (
        "sts",
        "GetFederationToken",
        "session credentials, judged with who asks",
    ),
    // Single-object writes and deletes: the pack counts them per actor (mass delete,
    // SSE-C ransomware over many writes); one alone is ordinary application traffic.
    (
        "s3",
        "DeleteObject",
        "counted: mass deletion is 100 within five minutes",
    ),
    (
        "s3",
        "PutObject",
        "counted: SSE-C encryption over many objects",
    ),
    (
        "s3",
        "CopyObject",
        "counted: SSE-C encryption over many objects",
    ),
    (
        "s3",
        "UploadPart",
        "counted: SSE-C encryption over many objects",
    ),
    (
        "s3",
        "CompleteMultipartUpload",
        "counted: SSE-C encryption over many objects",
    ),
    // Capacity asked for through templates and quotas: judged by type and in aggregate
    // (LLMjacking, crypto-mining). Launches themselves (RunInstances, fleets, spot) are
    // the gate's accelerated-compute effect, and checked below like any other.
    (
        "ec2",
        "CreateLaunchTemplate",
        "capacity, judged by type and in aggregate",
    ),
    (
        "ec2",
        "CreateLaunchTemplateVersion",
        "capacity, judged by type and in aggregate",
    ),
    (
        "sagemaker",
        "CreateNotebookInstance",
        "capacity, judged by type",
    ),
    ("sagemaker", "CreateTrainingJob", "capacity, judged by type"),
    (
        "sagemaker",
        "CreateProcessingJob",
        "capacity, judged by type",
    ),
    (
        "sagemaker",
        "CreateEndpointConfig",
        "capacity, judged by type",
    ),
    (
        "sagemaker",
        "CreateHyperPodCluster",
        "capacity, judged by type",
    ),
    ("sagemaker", "CreateCluster", "capacity, judged by type"),
    (
        "servicequotas",
        "RequestServiceQuotaIncrease",
        "capacity, judged in aggregate",
    ),
    // SES sending set-up and model access: LLMjacking and spam set-up, judged together.
    (
        "ses",
        "UpdateAccountSendingEnabled",
        "judged with the probes before it",
    ),
    (
        "ses",
        "PutAccountDetails",
        "judged with the probes before it",
    ),
    (
        "ses",
        "CreateEmailIdentity",
        "judged with the probes before it",
    ),
    (
        "ses",
        "VerifyEmailIdentity",
        "judged with the probes before it",
    ),
    (
        "ses",
        "VerifyEmailAddress",
        "judged with the probes before it",
    ),
    (
        "ses",
        "VerifyDomainIdentity",
        "judged with the probes before it",
    ),
    (
        "bedrock",
        "PutFoundationModelEntitlement",
        "judged with the probes before it",
    ),
    (
        "bedrock",
        "PutUseCaseForModelAccess",
        "judged with the probes before it",
    ),
    (
        "bedrock",
        "CreateFoundationModelAgreement",
        "judged with the probes before it",
    ),
];

/// The risky form of operations whose effect depends on their parameters, as CloudTrail
/// records them (the rule's own condition).
fn risky_params(service: &str, op: &str) -> Value {
    match (service, op) {
        ("ec2", "ModifyInstanceAttribute") => {
            json!({"instanceId": "i-1", "userData": "<sensitiveDataRemoved>"})
        }
        ("codebuild", "StartBuild" | "StartBuildBatch") => {
            json!({"projectName": "p", "buildspecOverride": "version: 0.2"})
        }
        ("s3", "PutBucketLifecycle") => {
            json!({"bucketName": "logs", "LifecycleConfiguration": {"Rule": {"Status": "Enabled", "Expiration": {"Days": 1}}}})
        }
        ("s3", "DeleteObjects") => {
            json!({"bucketName": "b", "delete": {"object": (0..50).map(|k| json!({"key": format!("k{k}")})).collect::<Vec<_>>()}})
        }
        ("s3", "PutBucketVersioning") => {
            json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Suspended"}})
        }
        ("guardduty", "UpdateDetector") => json!({"detectorId": "d", "enable": false}),
        ("cloudtrail", "UpdateTrail") => json!({"name": "t", "isMultiRegionTrail": false}),
        ("ec2", "ModifySnapshotAttribute") => {
            json!({"snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [{"group": "all"}]}}})
        }
        ("ec2", "ModifyImageAttribute") => {
            json!({"imageId": "ami-1", "launchPermission": {"add": {"items": [{"group": "all"}]}}})
        }
        ("rds", "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute") => {
            json!({"dBSnapshotIdentifier": "s", "dBClusterSnapshotIdentifier": "s", "attributeName": "restore", "valuesToAdd": ["all"]})
        }
        ("rds", "ModifyDBInstance" | "ModifyDBCluster") => {
            json!({"dBInstanceIdentifier": "db", "dBClusterIdentifier": "db", "masterUserPassword": "****"})
        }
        ("eks", "AssociateAccessPolicy") => {
            json!({"name": "c", "principalArn": "arn:aws:iam::1:role/x", "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "accessScope": {"type": "cluster"}})
        }
        ("eks", "CreateAccessEntry" | "UpdateAccessEntry") => {
            json!({"name": "c", "principalArn": "arn:aws:iam::1:role/x", "kubernetesGroups": ["system:masters"]})
        }
        ("iam", "CreateAccessKey" | "CreateLoginProfile" | "UpdateLoginProfile" | "CreateUser") => {
            json!({"userName": "someone"})
        }
        ("lambda", "UpdateFunctionConfiguration") => {
            json!({"functionName": "f", "role": "arn:aws:iam::1:role/admin"})
        }
        ("ec2", "RunInstances") => {
            json!({"instanceType": "p4d.24xlarge", "minCount": 1, "maxCount": 4})
        }
        ("ec2", "RequestSpotInstances") => {
            json!({"launchSpecification": {"instanceType": "g5.48xlarge"}, "instanceCount": 2})
        }
        ("ec2", "CreateFleet") => {
            json!({"CreateFleetRequest": {"LaunchTemplateConfigs": [{"Overrides": [{"InstanceType": "p5.48xlarge"}]}]}})
        }
        ("ec2", "RequestSpotFleet") => {
            json!({"spotFleetRequestConfig": {"launchSpecifications": [{"instanceType": "trn1.32xlarge"}]}})
        }
        ("kms", "ScheduleKeyDeletion" | "DisableKey") => {
            json!({"keyId": "k", "pendingWindowInDays": 7})
        }
        _ => json!({}),
    }
}

fn service_of(source: &str) -> String {
    source.trim_end_matches(".amazonaws.com").to_string()
}

/// (eventSource values, eventName values) of every map in a rule's detection that names
/// events; the rule's other eventSources are used when a map has none.
fn collect(y: &Y, pairs: &mut Vec<(Vec<String>, Vec<String>)>) {
    match y {
        Y::Mapping(m) => {
            let strings = |key: &str| -> Vec<String> {
                match m.get(Y::String(key.into())) {
                    Some(Y::String(s)) => vec![s.clone()],
                    Some(Y::Sequence(v)) => v
                        .iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                }
            };
            let names = strings("eventName");
            if !names.is_empty() {
                pairs.push((strings("eventSource"), names));
            }
            for v in m.values() {
                collect(v, pairs);
            }
        }
        Y::Sequence(v) => v.iter().for_each(|x| collect(x, pairs)),
        _ => {}
    }
}

fn pack_operations() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut ops = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yml"))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in text.split("\n---") {
            let y: Y = yaml_serde::from_str(doc).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let Some(det) = y.get("detection") else {
                continue;
            };
            let mut pairs = Vec::new();
            collect(det, &mut pairs);
            for (sources, names) in pairs {
                for n in &names {
                    if sources.is_empty() {
                        // A rule that keys on names alone (the evasion rule): the name
                        // must be judged in one of the services AWS defines it in.
                        let cat = parapet_aws::catalog::catalog();
                        let svcs: Vec<&str> = cat
                            .services
                            .iter()
                            .filter(|s| cat.canonical(s.prefix, n).is_some())
                            .map(|s| s.prefix)
                            .collect();
                        assert!(!svcs.is_empty(), "{}: {n} is in no service", f.display());
                        ops.insert((svcs.join(","), n.clone()));
                        continue;
                    }
                    // A rule naming several sources lists each one's operations together
                    // (rds and ec2 snapshots): keep the pairs AWS has.
                    let known: Vec<&String> = sources
                        .iter()
                        .filter(|s| {
                            let svc = service_of(s);
                            parapet_aws::catalog::catalog().canonical(&svc, n).is_some()
                                || AGGREGATE_OR_READ
                                    .iter()
                                    .any(|(a, b, _)| *a == svc && b == n)
                        })
                        .collect();
                    let chosen = if known.is_empty() {
                        sources.iter().collect()
                    } else {
                        known
                    };
                    for s in chosen {
                        ops.insert((service_of(s), n.clone()));
                    }
                }
            }
        }
    }
    ops
}

#[test]
fn every_operation_the_pack_detects_is_a_gate_effect() {
    let ops = pack_operations();
    assert!(ops.len() > 80, "the pack names {} operations", ops.len());
    let mut missing = Vec::new();
    for (svcs, op) in &ops {
        if AGGREGATE_OR_READ
            .iter()
            .any(|(a, b, _)| svcs.split(',').any(|s| s == *a) && b == op)
        {
            continue;
        }
        let judged = svcs.split(',').any(|svc| {
            let call = ApiCall::new(&format!("{svc}:{op}"), None, risky_params(svc, op)).unwrap();
            analyze_call(&call, Some("111122223333"))
                .effects
                .iter()
                .any(|e| !matches!(e, Effect::Unknown { .. } | Effect::CriticalResource { .. }))
        });
        if !judged {
            missing.push(format!("{svcs}:{op}"));
        }
    }
    assert!(
        missing.is_empty(),
        "operations the behaviour pack detects but the gate has no effect for: {missing:#?}"
    );
}

#[test]
fn the_allow_list_names_only_pack_operations() {
    let ops = pack_operations();
    for (svc, op, _) in AGGREGATE_OR_READ {
        assert!(
            ops.iter()
                .any(|(s, o)| o == op && s.split(',').any(|s| s == *svc)),
            "{svc}:{op} is allow-listed but no rule keys on it"
        );
    }
}

/// The instance types the pack's GPU rule counts are the ones the gate calls GPU,
/// accelerator or very large (one list each, checked both ways): a type added to one and
/// not the other would be judged before the call and missed after it, or the reverse.
#[test]
fn the_gpu_rule_and_the_gate_name_the_same_instance_types() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/compute.yml"))
            .unwrap();
    let rule = text
        .split("\n---")
        .map(|d| yaml_serde::from_str::<Y>(d).unwrap())
        .find(|y| y.get("id").and_then(Y::as_str) == Some("parapet-gpu-launch"))
        .expect("the GPU rule");
    let list = |key: &str| -> BTreeSet<String> {
        rule["detection"]["gpu_types"]
            .as_sequence()
            .unwrap()
            .iter()
            .find_map(|m| m.get(key))
            .unwrap_or_else(|| panic!("{key}"))
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let gate = |l: &[&str]| -> BTreeSet<String> { l.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        list("requestParameters.instanceType|startswith"),
        gate(parapet_aws::api::ACCELERATED_TYPES)
    );
    assert_eq!(
        list("requestParameters.instanceType|endswith"),
        gate(parapet_aws::api::HUGE_SIZES)
    );
}
