//! Techniques the behaviour pack (crates/detect/rules) reports after the fact, recognised
//! before the call: running commands on instances, expiring or bulk-deleting data,
//! assuming an administrator-like role. Leaving the organization is defense evasion
//! (`lifecycle::EVASION`).

use super::*;
use parapet_model::Technique;

/// Calls that run commands or open a shell whatever their parameters:
/// (service, operation, what it does).
pub(super) const RUNS_COMMANDS: &[(&str, &str, &str)] = &[
    (
        "ssm",
        "SendCommand",
        "runs commands on instances through SSM Run Command",
    ),
    (
        "ssm",
        "StartSession",
        "opens a shell session on an instance through SSM Session Manager",
    ),
    (
        "ec2-instance-connect",
        "SendSSHPublicKey",
        "pushes a one-time SSH key to an instance (EC2 Instance Connect): a shell for whoever holds the key",
    ),
    (
        "ec2-instance-connect",
        "SendSerialConsoleSSHPublicKey",
        "pushes a one-time SSH key for an instance's serial console: a shell for whoever holds the key",
    ),
    (
        "ecs",
        "ExecuteCommand",
        "runs a command inside a running container (ECS Exec)",
    ),
    (
        "sagemaker",
        "CreateNotebookInstanceLifecycleConfig",
        "sets a script that runs as root on notebook instances when they start",
    ),
    (
        "sagemaker",
        "UpdateNotebookInstanceLifecycleConfig",
        "changes a script that runs as root on notebook instances when they start",
    ),
    (
        "sagemaker",
        "CreateStudioLifecycleConfig",
        "sets a script that runs in SageMaker Studio applications when they start",
    ),
];

/// An S3 lifecycle expiry this short or shorter (days) is treated as deleting data:
/// the behaviour pack's `parapet-bucket-short-expiry` alerts at the same bound.
pub const SHORT_EXPIRY_DAYS: i64 = 7;

/// A DeleteObjects call naming at least this many keys is a bulk delete (the API takes
/// up to 1,000 keys per request).
pub const BULK_DELETE_KEYS: usize = 10;

/// Role names (compared case-insensitively, as substrings of the role name) that AWS or
/// common practice gives administrator access: AWS Organizations' member-account role,
/// Control Tower's and StackSets' execution roles, IAM Identity Center's
/// AdministratorAccess permission set, break-glass roles.
pub const ADMIN_LIKE_ROLES: &[&str] = &[
    "admin",
    "organizationaccountaccessrole",
    "controltowerexecution",
    "stacksetexecution",
    "poweruser",
    "breakglass",
    "break-glass",
    "superuser",
];

/// Instance type prefixes of GPU, accelerator and very large memory families, as the
/// behaviour pack's `parapet-gpu-launch` rule lists them (crates/detect/rules/compute.yml).
pub const ACCELERATED_TYPES: &[&str] = &[
    "p2.", "p3.", "p3dn.", "p4d.", "p4de.", "p5.", "p5e.", "p5en.", "p6", "g3.", "g3s.", "g4dn.",
    "g4ad.", "g5.", "g5g.", "g6.", "g6e.", "gr6.", "trn1", "trn2", "inf1.", "inf2.", "dl1.",
    "dl2q.", "x1.", "x1e.", "x2", "u-",
];

/// Size suffixes of the very largest instances of any family, as the behaviour pack's
/// `parapet-gpu-launch` rule lists them: hundreds of vCPUs each, what miners ask for
/// when GPUs are refused.
pub const HUGE_SIZES: &[&str] = &[".24xlarge", ".32xlarge", ".48xlarge", ".metal"];

fn accelerated(instance_type: &str) -> bool {
    let t = instance_type.trim().to_ascii_lowercase();
    ACCELERATED_TYPES.iter().any(|p| t.starts_with(p)) || HUGE_SIZES.iter().any(|s| t.ends_with(s))
}

/// The accelerated instance types a launch asks for, in the API's and CloudTrail's
/// shapes: RunInstances `InstanceType`, RequestSpotInstances `LaunchSpecification`,
/// CreateFleet `LaunchTemplateConfigs[].Overrides[]` (CloudTrail wraps it in
/// `CreateFleetRequest`), RequestSpotFleet `SpotFleetRequestConfig.LaunchSpecifications`.
fn accelerated_launch(c: &Ctx, out: &mut Out) {
    let mut types: Vec<&str> = Vec::new();
    types.extend(c.p.get("InstanceType").str());
    types.extend(c.p.get("LaunchSpecification").get("InstanceType").str());
    let fleet = c.p.get("CreateFleetRequest");
    for root in [c.p, fleet] {
        for cfg in root.get("LaunchTemplateConfigs").list() {
            for o in cfg.get("Overrides").list() {
                types.extend(o.get("InstanceType").str());
            }
        }
    }
    let spot_fleet = c.p.get("SpotFleetRequestConfig");
    for spec in spot_fleet.get("LaunchSpecifications").list() {
        types.extend(spec.get("InstanceType").str());
    }
    for cfg in spot_fleet.get("LaunchTemplateConfigs").list() {
        for o in cfg.get("Overrides").list() {
            types.extend(o.get("InstanceType").str());
        }
    }
    let mut found: Vec<&str> = types.into_iter().filter(|t| accelerated(t)).collect();
    found.sort_unstable();
    found.dedup();
    if found.is_empty() {
        return;
    }
    let count = c.p.any(&["MaxCount", "InstanceCount"]).i64().or_else(|| {
        c.p.get("InstancesSet")
            .list()
            .first()
            .and_then(|i| i.get("MaxCount").i64())
    });
    let how_many = count.map_or(String::new(), |n| format!("up to {n} "));
    push(
        out,
        c.named_target(),
        Technique::AcceleratedCompute,
        format!(
            "launches {how_many}GPU, accelerator or very large instance(s) ({})",
            found.join(", ")
        ),
    );
}

/// EKS access policies that make their holder a cluster administrator (EKS user guide,
/// "Review access policy permissions"): the cluster-admin policy (Kubernetes'
/// `cluster-admin` role) and the admin policy (`admin` in every namespace in scope).
const EKS_ADMIN_POLICIES: &[&str] = &["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"];

/// An EKS access entry that makes an IAM principal a cluster administrator: an admin
/// access policy associated (`policyArn`), or the `system:masters` group in the entry's
/// Kubernetes groups (`kubernetesGroups`, a list; AWS refuses `system:` groups for new
/// entries, but a request asking for one is judged by what it asks).
fn kubernetes_admin(c: &Ctx, out: &mut Out) {
    let principal = c.p.get("PrincipalArn").str().unwrap_or("a principal");
    let cluster =
        c.p.any(&["ClusterName", "Name"])
            .str()
            .unwrap_or("the cluster");
    let what = if c.op == "AssociateAccessPolicy" {
        let policy = c.p.get("PolicyArn").str().unwrap_or("");
        let Some(admin) = EKS_ADMIN_POLICIES.iter().find(|p| {
            policy
                .rsplit('/')
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(p))
        }) else {
            return;
        };
        let scope =
            c.p.get("AccessScope")
                .get("Type")
                .str()
                .unwrap_or("cluster");
        format!(
            "makes {principal} an administrator of EKS cluster {cluster} ({admin}, scope {scope})"
        )
    } else {
        let groups = c.p.get("KubernetesGroups").strings();
        if !groups
            .iter()
            .any(|g| g.trim().eq_ignore_ascii_case("system:masters"))
        {
            return;
        }
        format!("puts {principal} in system:masters on EKS cluster {cluster}: unrestricted cluster administrator")
    };
    push(
        out,
        c.target(&["ClusterName", "Name"]),
        Technique::KubernetesAdmin,
        what,
    );
}

/// Where commands run: every instance named (`InstanceIds`, or `Target`), or the tag
/// and resource-group targets (`Targets[].Key`/`Values`) that select them.
fn command_targets(c: &Ctx) -> String {
    let ids = c.p.any(&["InstanceIds", "Target", "InstanceId"]).strings();
    if !ids.is_empty() {
        let shown: Vec<&str> = ids.iter().take(5).copied().collect();
        let more = ids.len().saturating_sub(shown.len());
        return match more {
            0 => shown.join(", "),
            n => format!("{} and {n} more instance(s)", shown.join(", ")),
        };
    }
    let targets: Vec<String> =
        c.p.get("Targets")
            .list()
            .into_iter()
            .filter_map(|t| {
                let key = t.get("Key").str()?;
                Some(format!("{key}={}", t.get("Values").strings().join(",")))
            })
            .collect();
    if targets.is_empty() {
        c.named_target()
    } else {
        format!("instances selected by {}", targets.join("; "))
    }
}

fn push(out: &mut Out, resource: String, technique: Technique, what: String) {
    out.effects.push(Effect::Technique {
        resource,
        technique,
        what,
    });
}

pub(super) fn techniques(c: &Ctx, out: &mut Out) {
    if let Some((_, _, what)) = RUNS_COMMANDS
        .iter()
        .find(|(s, o, _)| *s == c.service && *o == c.op)
    {
        let mut what = what.to_string();
        if c.op == "SendCommand" {
            let doc =
                c.p.get("DocumentName")
                    .str()
                    .unwrap_or("(no document named)");
            let n = c.p.get("Parameters").get("commands").strings().len();
            what = format!("{what}: document {doc}");
            if n > 0 {
                what.push_str(&format!(", {n} command line(s)"));
            }
        }
        push(out, command_targets(c), Technique::RunsCommands, what);
        return;
    }
    match (c.service, c.op) {
        ("ec2", "ModifyInstanceAttribute") => {
            let named =
                c.p.get("Attribute")
                    .str()
                    .is_some_and(|a| a.eq_ignore_ascii_case("userData"));
            if named || !c.p.get("UserData").is_null() {
                push(
                    out,
                    c.named_target(),
                    Technique::RunsCommands,
                    "replaces the instance's user data, which runs as root at its next start"
                        .into(),
                );
            }
        }
        ("codebuild", "StartBuild" | "StartBuildBatch")
            if !c.p.get("BuildspecOverride").is_null() =>
        {
            push(
                out,
                c.target(&["ProjectName"]),
                Technique::RunsCommands,
                "starts a build with its commands replaced (buildspecOverride): they run as the project's role".into(),
            );
        }
        (
            "s3",
            "PutLifecycleConfiguration" | "PutBucketLifecycleConfiguration" | "PutBucketLifecycle",
        ) => expiry(c, out),
        ("s3", "DeleteObjects") => bulk_delete(c, out),
        ("s3", "PutBucketVersioning") => {
            // API and CloudTrail both carry `VersioningConfiguration.Status`;
            // `Suspended` is the only value that stops keeping versions.
            let status = c.p.get("VersioningConfiguration").get("Status");
            if status
                .str()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("Suspended"))
            {
                push(
                    out,
                    c.target(&["Bucket", "bucketName"]),
                    Technique::InhibitsRecovery,
                    "suspends the bucket's versioning: overwritten and deleted objects are no longer kept".into(),
                );
            }
        }
        ("sts", "AssumeRole" | "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML") => {
            assume(c, out)
        }
        ("ec2", "RunInstances" | "RequestSpotInstances" | "CreateFleet" | "RequestSpotFleet") => {
            accelerated_launch(c, out)
        }
        ("eks", "AssociateAccessPolicy" | "CreateAccessEntry" | "UpdateAccessEntry") => {
            kubernetes_admin(c, out)
        }
        ("kms", "DisableKey") => push(
            out,
            c.target(&["KeyId"]),
            Technique::DisablesKey,
            "disables the KMS key: everything encrypted under it is unreadable until it is enabled again".into(),
        ),
        _ => {}
    }
}

/// The shortest enabled expiry of a lifecycle configuration, API (`Rules`) or CloudTrail
/// (`Rule`, one object or a list) shape, current or noncurrent versions, by days
/// (`Expiration.Days`, `NoncurrentVersionExpiration.NoncurrentDays`) or by date
/// (`Expiration.Date`: objects expire from that day, at once when it has passed).
fn expiry(c: &Ctx, out: &mut Out) {
    let cfg = c.p.any(&["LifecycleConfiguration", "Lifecycle"]);
    let mut shortest: Option<(i64, String)> = None;
    let mut keep = |d: i64, what: String| {
        if d <= SHORT_EXPIRY_DAYS && shortest.as_ref().is_none_or(|(s, _)| d < *s) {
            shortest = Some((d, what));
        }
    };
    for rule in cfg.any(&["Rules", "Rule"]).list() {
        if rule
            .get("Status")
            .str()
            .is_some_and(|s| s.eq_ignore_ascii_case("disabled"))
        {
            continue;
        }
        if let Some(d) = rule.get("Expiration").get("Days").i64() {
            keep(d, format!("objects {d} day(s) after they are written"));
        }
        let date = rule.get("Expiration").get("Date");
        if !date.is_null() {
            match days_until(date) {
                Some(d) => keep(d, format!("every object it covers from {}", date_text(date))),
                // S3 refuses a date it cannot read; parapet judges the worst case.
                None => keep(
                    0,
                    format!(
                        "every object it covers from Expiration.Date {}, which parapet cannot read as a date (judged as now)",
                        date.0
                    ),
                ),
            }
        }
        let noncurrent = rule
            .get("NoncurrentVersionExpiration")
            .any(&["NoncurrentDays", "NoncurrentVersionDays"])
            .i64();
        if let Some(d) = noncurrent {
            keep(
                d,
                format!("earlier versions {d} day(s) after they are replaced"),
            );
        }
    }
    if let Some((_, what)) = shortest {
        push(
            out,
            c.target(&["Bucket", "bucketName"]),
            Technique::ExpiresData,
            format!("a lifecycle rule makes S3 delete {what}"),
        );
    }
}

/// Whole days from now until a lifecycle date (ISO 8601 text, or Unix seconds as the
/// API's JSON protocols write timestamps); 0 for a date that has passed.
fn days_until(date: P) -> Option<i64> {
    let at = match date.0 {
        serde_json::Value::Number(n) => n.as_f64().map(|f| f as i64),
        serde_json::Value::String(s) => parapet_model::time::parse_rfc3339(s.trim()),
        _ => None,
    }?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Some(((at - now).max(0)) / 86_400)
}

fn date_text(date: P) -> String {
    match date.0 {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keys of a DeleteObjects call: the API's `Delete.Objects[].Key`, CloudTrail's
/// `delete.object` (one object or a list).
fn bulk_delete(c: &Ctx, out: &mut Out) {
    let bucket = c.target(&["Bucket", "bucketName"]);
    let keys = c.p.get("Delete").any(&["Objects", "Object"]).list().len();
    out.resource_type = Some("aws_s3_object");
    out.destroys = true;
    out.effects.push(Effect::Destroy {
        resource: bucket.clone(),
        data: DataFate::Unknown {
            why: format!(
                "s3:DeleteObjects deletes {keys} object(s); only bucket versioning, which parapet cannot see offline, keeps earlier versions"
            ),
        },
    });
    if keys >= BULK_DELETE_KEYS {
        push(
            out,
            bucket,
            Technique::BulkDelete,
            format!("deletes {keys} objects in one request"),
        );
    }
}

fn assume(c: &Ctx, out: &mut Out) {
    let Some(arn) = c.p.get("RoleArn").str() else {
        return;
    };
    let name = arn.rsplit('/').next().unwrap_or(arn).to_ascii_lowercase();
    if let Some(hit) = ADMIN_LIKE_ROLES.iter().find(|p| name.contains(*p)) {
        push(
            out,
            arn.to_string(),
            Technique::AssumesPrivilegedRole,
            format!(
                "assumes role {arn}, whose name (`{hit}`) is one administrator roles carry; the role's permissions are not known offline"
            ),
        );
    }
}
