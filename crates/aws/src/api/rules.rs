//! Per-operation knowledge: which calls destroy, expose, share, grant, or blind.

use super::params::P;
use crate::catalog::{catalog, AccessLevel};
use crate::iam::{
    account_of, aws_managed_policy, grant_delta, parse_policy, trust_grants, Permissions, Principal,
};
use crate::network::classify_source;
use parapet_model::{Certainty, DataFate, DefenseEvasion, Effect, Grant, PortRange, ShareTarget};

pub struct Ctx<'a> {
    pub service: &'a str,
    pub op: &'a str,
    pub resource: &'a str,
    pub p: P<'a>,
    pub own_account: Option<&'a str>,
}

pub struct Out {
    pub effects: Vec<Effect>,
    pub resource_type: Option<&'static str>,
    pub destroys: bool,
    pub data_bearing: bool,
}

/// Parameters that name the target of a call, most specific first.
const ID_KEYS: &[&str] = &[
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "DBSnapshotIdentifier",
    "TableName",
    "Bucket",
    "bucketName",
    "VolumeId",
    "SnapshotId",
    "InstanceIds",
    "KeyId",
    "SecretId",
    "RepositoryName",
    "FileSystemId",
    "FunctionName",
    "LogGroupName",
    "QueueUrl",
    "StreamName",
    "DomainName",
    "ClusterIdentifier",
    "CacheClusterId",
    "ReplicationGroupId",
    "BackupVaultName",
    "RoleName",
    "UserName",
    "DetectorId",
    "ConfigurationRecorderName",
    "DeliveryChannelName",
    "ResolverQueryLogConfigId",
    "FlowLogIds",
    "TrailName",
    "AnalyzerName",
    "GroupId",
    "NetworkAclId",
    "ImageId",
    "PolicyArn",
    "Name",
];

impl Ctx<'_> {
    /// The target named by the resource given or by the call's id parameters.
    pub fn named_target(&self) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        for k in ID_KEYS {
            let v = self.p.get(k);
            if let Some(s) = v.str() {
                return s.to_string();
            }
            if let Some(first) = v.strings().first() {
                return first.to_string();
            }
        }
        self.resource.to_string()
    }

    /// The target: the resource given, or the id parameter the call names.
    fn target(&self, keys: &[&str]) -> String {
        if !self.resource.ends_with("(no resource given)") {
            return self.resource.to_string();
        }
        self.p
            .any(keys)
            .str()
            .map(String::from)
            .unwrap_or_else(|| self.resource.to_string())
    }
}

pub fn apply(c: &Ctx, out: &mut Out) {
    // A call with a rule that finds nothing is fine; one with no rule is judged by its
    // access level in `fallback`.
    let mut has_rule = true;
    match (c.service, c.op) {
        ("ec2", "AuthorizeSecurityGroupIngress") => ingress(c, out),
        ("ec2", "CreateNetworkAclEntry" | "ReplaceNetworkAclEntry") => nacl(c, out),
        ("ec2", "ModifySnapshotAttribute") => share(
            c,
            out,
            "EBS snapshot",
            &["SnapshotId"],
            "CreateVolumePermission",
            "aws_ebs_snapshot",
        ),
        ("ec2", "ModifyImageAttribute") => {
            share(c, out, "image", &["ImageId"], "LaunchPermission", "aws_ami")
        }
        ("rds", "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute") => {
            rds_share(c, out)
        }
        (
            "iam",
            "PutRolePolicy"
            | "PutUserPolicy"
            | "PutGroupPolicy"
            | "CreatePolicyVersion"
            | "CreatePolicy",
        ) => iam_document(c, out),
        ("iam", "AttachRolePolicy" | "AttachUserPolicy" | "AttachGroupPolicy") => {
            iam_attach(c, out)
        }
        ("iam", "CreateRole" | "UpdateAssumeRolePolicy") => iam_trust(c, out),
        ("iam", "AddUserToGroup") => {
            let user = c.p.get("UserName").str().unwrap_or("(unnamed)");
            let group = c.p.get("GroupName").str().unwrap_or("(unnamed)");
            out.effects.push(Effect::PrivilegeGrant(Grant {
                holder: format!("user {user}"),
                via: Some(format!("membership of group {group}")),
                ..empty_grant(Certainty::Known)
            }));
        }
        ("iam", "CreateAccessKey") => credential(c, out, |u| {
            format!("creates a long-lived access key for IAM user {u}")
        }),
        ("iam", "CreateLoginProfile") => {
            credential(c, out, |u| format!("gives IAM user {u} a console password"))
        }
        ("iam", "UpdateLoginProfile") => credential(c, out, |u| {
            format!("resets the console password of IAM user {u}")
        }),
        ("iam", "CreateUser") => credential(c, out, |u| {
            format!("creates IAM user {u}, a long-lived identity")
        }),
        ("iam", "CreateServiceSpecificCredential") => credential(c, out, |u| {
            format!("creates service-specific credentials for IAM user {u}")
        }),
        ("iam", "UploadSSHPublicKey") => {
            credential(c, out, |u| format!("adds an SSH key for IAM user {u}"))
        }
        ("iam", "CreateOpenIDConnectProvider" | "CreateSAMLProvider") => {
            out.effects.push(Effect::NewCredential {
                resource: c.resource.into(),
                what: "adds an identity provider that roles can trust".into(),
            });
        }
        ("rolesanywhere", "CreateTrustAnchor") => {
            out.effects.push(Effect::NewCredential { resource: c.resource.into(), what: "lets certificates from an outside certificate authority obtain AWS credentials (IAM Roles Anywhere)".into() });
        }
        ("s3", "PutBucketPolicy") => resource_policy(c, out, "Policy", "aws_s3_bucket_policy"),
        ("s3", "PutBucketAcl") => {
            let acl = c.p.any(&["ACL", "x-amz-acl"]).str();
            let text = c.p.0.to_string();
            if matches!(
                acl,
                Some("public-read" | "public-read-write" | "authenticated-read")
            ) || text.contains("groups/global/AllUsers")
                || text.contains("groups/global/AuthenticatedUsers")
            {
                public(
                    out,
                    c.target(&["Bucket", "bucketName"]),
                    "an ACL that lets anyone read".into(),
                );
            }
        }
        ("s3", "DeletePublicAccessBlock") | ("s3", "DeleteBucketPublicAccessBlock") => {
            public(
                out,
                c.target(&["Bucket", "bucketName"]),
                "removes S3 Block Public Access, so public ACLs and policies take effect".into(),
            );
        }
        ("s3", "PutPublicAccessBlock")
        | ("s3", "PutBucketPublicAccessBlock")
        | ("s3", "PutAccountPublicAccessBlock") => {
            let cfg =
                c.p.any(&["PublicAccessBlockConfiguration", "publicAccessBlock"]);
            let off: Vec<&str> = [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ]
            .into_iter()
            .filter(|k| cfg.get(k).bool() == Some(false))
            .collect();
            if !off.is_empty() {
                public(
                    out,
                    c.target(&["Bucket", "bucketName"]),
                    format!(
                        "turns off S3 Block Public Access ({} = false)",
                        off.join(", ")
                    ),
                );
            }
        }
        ("lambda", "AddPermission") | ("lambda", "AddLayerVersionPermission") => {
            let principal = c.p.get("Principal").str().unwrap_or_default();
            let conditioned = [
                "SourceArn",
                "SourceAccount",
                "PrincipalOrgID",
                "OrganizationId",
            ]
            .iter()
            .any(|k| !c.p.get(k).is_null());
            let target = c.target(&["FunctionName", "LayerName"]);
            if principal == "*" && !conditioned {
                public(
                    out,
                    target,
                    "a resource policy lets any AWS principal use it".into(),
                );
            } else if let Some(a) = account_of(principal) {
                if Some(a) != c.own_account {
                    out.effects.push(Effect::ExternalShare {
                        resource: target,
                        target: ShareTarget::Account { id: a.into() },
                        certainty: Certainty::Known,
                    });
                }
            }
        }
        ("lambda", "CreateFunctionUrlConfig" | "UpdateFunctionUrlConfig") => {
            if c.p.get("AuthType").str() == Some("NONE") {
                public(
                    out,
                    c.target(&["FunctionName"]),
                    "a function URL with AuthType NONE: anyone on the internet can invoke it"
                        .into(),
                );
            }
        }
        ("lambda", "UpdateFunctionCode") => out.effects.push(Effect::CodeChange {
            resource: c.named_target(),
            what: "replaces the function's code".into(),
            role: None,
        }),
        ("lambda", "UpdateFunctionConfiguration") => {
            let mut what = Vec::new();
            if !c.p.get("Role").is_null() {
                what.push("changes the role the function runs as");
            }
            if !c.p.get("Layers").is_null() {
                what.push("changes the function's layers (code loaded before the handler)");
            }
            if !c.p.get("Environment").is_null() {
                what.push("changes the function's environment");
            }
            for w in what {
                out.effects.push(Effect::CodeChange {
                    resource: c.target(&["FunctionName"]),
                    what: w.into(),
                    role: c.p.get("Role").str().map(String::from),
                });
            }
        }
        ("ecr", "SetRepositoryPolicy") => {
            resource_policy(c, out, "PolicyText", "aws_ecr_repository_policy")
        }
        ("sqs", "SetQueueAttributes") => {
            let attrs = c.p.get("Attributes");
            if !attrs.get("Policy").is_null() {
                let inner = Ctx { p: attrs, ..*c };
                resource_policy(&inner, out, "Policy", "aws_sqs_queue_policy");
            }
        }
        ("sns", "SetTopicAttributes") => {
            if c.p.get("AttributeName").str() == Some("Policy") {
                resource_policy(c, out, "AttributeValue", "aws_sns_topic_policy");
            }
        }
        ("kms", "PutKeyPolicy") => resource_policy(c, out, "Policy", "aws_kms_key"),
        ("secretsmanager", "PutResourcePolicy") => {
            resource_policy(c, out, "ResourcePolicy", "aws_secretsmanager_secret_policy")
        }
        ("rds", "ModifyDBInstance" | "CreateDBInstance") => {
            if c.p.get("PubliclyAccessible").bool() == Some(true) {
                public(
                    out,
                    c.target(&["DBInstanceIdentifier"]),
                    "PubliclyAccessible is true: the database gets a public address".into(),
                );
            }
        }
        ("eks", "UpdateClusterConfig" | "CreateCluster") => {
            let vc = c.p.any(&["ResourcesVpcConfig", "resourcesVpcConfig"]);
            let cidrs = vc.get("PublicAccessCidrs").strings();
            if vc.get("EndpointPublicAccess").bool() == Some(true)
                && (cidrs.is_empty() || cidrs.iter().any(|x| x.ends_with("/0")))
            {
                public(
                    out,
                    c.target(&["Name", "name"]),
                    "the Kubernetes API endpoint is reachable from the whole internet".into(),
                );
            }
        }
        _ => has_rule = false,
    }
    evasion(c, out);
    destruction(c, out);
    if !has_rule && out.effects.is_empty() {
        fallback(c, out);
    }
}

fn empty_grant(certainty: Certainty) -> Grant {
    Grant {
        holder: String::new(),
        via: None,
        added: 0,
        removed: 0,
        added_by_level: [0; 5],
        patterns: Vec::new(),
        resources: "unknown resources".into(),
        admin: false,
        escalations: Vec::new(),
        certainty,
    }
}

fn public(out: &mut Out, resource: String, how: String) {
    out.effects.push(Effect::PublicAccess {
        resource,
        how,
        certainty: Certainty::Known,
    });
}

fn ports(p: P) -> PortRange {
    let proto = match p.any(&["IpProtocol", "Protocol"]).0 {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.to_ascii_lowercase(),
        _ => "-1".into(),
    };
    let protocol = match proto.as_str() {
        "-1" | "all" => return PortRange::all(),
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "icmpv6" | "58" => "icmpv6",
        _ => "other",
    };
    if !matches!(protocol, "tcp" | "udp") {
        return PortRange {
            protocol,
            from: 0,
            to: 0,
        };
    }
    let range = p.get("PortRange");
    let from = p
        .get("FromPort")
        .i64()
        .or(range.get("From").i64())
        .filter(|v| (0..=65535).contains(v));
    let to = p
        .get("ToPort")
        .i64()
        .or(range.get("To").i64())
        .filter(|v| (0..=65535).contains(v));
    match (from, to) {
        (Some(f), Some(t)) if f <= t => PortRange {
            protocol,
            from: f as u16,
            to: t as u16,
        },
        _ => PortRange {
            protocol,
            from: 0,
            to: 65535,
        },
    }
}

fn push_exposure(out: &mut Out, target: &str, ports: PortRange, cidr: &str) {
    if let Some(scope) = classify_source(cidr) {
        let e = Effect::NetworkExposure {
            target: target.into(),
            ports,
            source: cidr.into(),
            scope,
            certainty: Certainty::Known,
        };
        if !out.effects.contains(&e) {
            out.effects.push(e);
        }
    }
}

fn ingress(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_security_group_rule");
    let target = c.target(&["GroupId", "GroupName"]);
    let perms = c.p.get("IpPermissions").list();
    if perms.is_empty() {
        // The older flat form: CidrIp, IpProtocol, FromPort, ToPort.
        if let Some(cidr) = c.p.get("CidrIp").str() {
            push_exposure(out, &target, ports(c.p), cidr);
        }
        return;
    }
    for perm in perms {
        let pr = ports(perm);
        for r in perm.get("IpRanges").list() {
            if let Some(cidr) = r.get("CidrIp").str().or(r.str()) {
                push_exposure(out, &target, pr, cidr);
            }
        }
        for r in perm.get("Ipv6Ranges").list() {
            if let Some(cidr) = r.get("CidrIpv6").str().or(r.str()) {
                push_exposure(out, &target, pr, cidr);
            }
        }
    }
}

fn nacl(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_network_acl_rule");
    if c.p.get("Egress").bool() == Some(true)
        || c.p
            .get("RuleAction")
            .str()
            .is_some_and(|a| !a.eq_ignore_ascii_case("allow"))
    {
        return;
    }
    let target = c.target(&["NetworkAclId"]);
    let pr = ports(c.p);
    for key in ["CidrBlock", "Ipv6CidrBlock"] {
        if let Some(cidr) = c.p.get(key).str() {
            push_exposure(out, &target, pr, cidr);
        }
    }
}

fn share(c: &Ctx, out: &mut Out, what: &str, id_keys: &[&str], attr: &str, rtype: &'static str) {
    out.resource_type = Some(rtype);
    let resource = format!("{what} {}", c.target(id_keys));
    let perm = c.p.get(attr);
    let mut adds = perm.get("Add").list();
    // The flat form: Attribute=createVolumePermission, OperationType=add, UserIds/GroupNames.
    if adds.is_empty()
        && c.p
            .get("OperationType")
            .str()
            .is_some_and(|o| o.eq_ignore_ascii_case("add"))
    {
        for id in c.p.get("UserIds").strings() {
            out.effects.push(Effect::ExternalShare {
                resource: resource.clone(),
                target: ShareTarget::Account { id: id.into() },
                certainty: Certainty::Known,
            });
        }
        if c.p.get("GroupNames").strings().contains(&"all") {
            out.effects.push(Effect::ExternalShare {
                resource,
                target: ShareTarget::Public,
                certainty: Certainty::Known,
            });
        }
        return;
    }
    for a in adds.drain(..) {
        if a.get("Group").str() == Some("all") {
            out.effects.push(Effect::ExternalShare {
                resource: resource.clone(),
                target: ShareTarget::Public,
                certainty: Certainty::Known,
            });
        } else if let Some(id) = a.get("UserId").str() {
            if Some(id) != c.own_account {
                out.effects.push(Effect::ExternalShare {
                    resource: resource.clone(),
                    target: ShareTarget::Account { id: id.into() },
                    certainty: Certainty::Known,
                });
            }
        }
    }
}

fn rds_share(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_db_snapshot");
    if !c
        .p
        .get("AttributeName")
        .str()
        .is_some_and(|a| a.eq_ignore_ascii_case("restore"))
    {
        return;
    }
    let resource = format!(
        "RDS snapshot {}",
        c.target(&["DBSnapshotIdentifier", "DBClusterSnapshotIdentifier"])
    );
    for v in c.p.get("ValuesToAdd").strings() {
        let target = if v == "all" {
            ShareTarget::Public
        } else {
            ShareTarget::Account { id: v.into() }
        };
        out.effects.push(Effect::ExternalShare {
            resource: resource.clone(),
            target,
            certainty: Certainty::Known,
        });
    }
}

fn holder(c: &Ctx) -> String {
    for (key, kind) in [
        ("RoleName", "role"),
        ("UserName", "user"),
        ("GroupName", "group"),
    ] {
        if let Some(n) = c.p.get(key).str() {
            return format!("{kind} {n}");
        }
    }
    if c.op == "CreatePolicyVersion" || c.op == "CreatePolicy" {
        let arn =
            c.p.get("PolicyArn")
                .str()
                .or(c.p.get("PolicyName").str())
                .unwrap_or(c.resource);
        return format!("whoever managed policy {arn} is attached to");
    }
    c.resource.to_string()
}

fn iam_document(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_policy");
    let holder = holder(c);
    if c.op == "CreatePolicyVersion" && c.p.get("SetAsDefault").bool() != Some(true) {
        // A non-default version grants nothing until someone makes it the default.
        return;
    }
    let doc =
        c.p.get("PolicyDocument")
            .document()
            .and_then(|d| parse_policy(&d).ok());
    let g = match doc {
        Some(st) => grant_delta(
            &holder,
            None,
            &Permissions::from_statements(&st),
            Certainty::Known,
        ),
        None => Grant {
            holder,
            ..empty_grant(Certainty::UnknownUntilApply)
        },
    };
    out.effects.push(Effect::PrivilegeGrant(g));
}

fn iam_attach(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_role_policy_attachment");
    let holder = holder(c);
    let arn = c.p.get("PolicyArn").str().unwrap_or_default();
    let short = arn.rsplit('/').next().unwrap_or(arn).to_string();
    let g = match aws_managed_policy(arn) {
        Some(st) => {
            let mut g = grant_delta(
                &holder,
                None,
                &Permissions::from_statements(&st),
                Certainty::Known,
            );
            g.via = Some(format!("AWS managed policy {short}"));
            g
        }
        None => Grant {
            holder,
            via: Some(format!("policy {short}")),
            resources: "what that policy allows".into(),
            ..empty_grant(Certainty::Known)
        },
    };
    out.effects.push(Effect::PrivilegeGrant(g));
}

fn iam_trust(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_iam_role");
    let role = format!("role {}", c.p.get("RoleName").str().unwrap_or(c.resource));
    let Some(st) =
        c.p.any(&["AssumeRolePolicyDocument", "PolicyDocument"])
            .document()
            .and_then(|d| parse_policy(&d).ok())
    else {
        out.effects.push(Effect::TrustOpened {
            role,
            principal: "principals in an unreadable document".into(),
            scope: "unknown".into(),
            certainty: Certainty::UnknownUntilApply,
        });
        return;
    };
    for g in trust_grants(&st, c.own_account) {
        if matches!(g.scope, "service" | "same_account" | "federated") {
            continue;
        }
        out.effects.push(Effect::TrustOpened {
            role: role.clone(),
            principal: g.principal,
            scope: g.scope.into(),
            certainty: Certainty::Known,
        });
    }
}

fn credential(c: &Ctx, out: &mut Out, what: impl Fn(&str) -> String) {
    out.resource_type = Some("aws_iam_user");
    let user = c.p.get("UserName").str().unwrap_or("(the caller itself)");
    out.effects.push(Effect::NewCredential {
        resource: c.named_target(),
        what: what(user),
    });
}

fn resource_policy(c: &Ctx, out: &mut Out, key: &str, rtype: &'static str) {
    out.resource_type = Some(rtype);
    let target = c.target(&[
        "Bucket",
        "bucketName",
        "RepositoryName",
        "QueueUrl",
        "TopicArn",
        "KeyId",
        "SecretId",
    ]);
    let Some(st) = c.p.get(key).document().and_then(|d| parse_policy(&d).ok()) else {
        return;
    };
    for s in st.iter().filter(|s| s.allow) {
        for p in &s.principals {
            match p {
                Principal::Everyone if !s.has_condition => public(
                    out,
                    target.clone(),
                    format!("its policy lets anyone ({})", s.actions.join(", ")),
                ),
                Principal::Aws(a) => {
                    if let Some(acct) = account_of(a) {
                        if Some(acct) != c.own_account {
                            out.effects.push(Effect::ExternalShare {
                                resource: target.clone(),
                                target: ShareTarget::Account { id: acct.into() },
                                certainty: Certainty::Known,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// (service, operation, control, what is lost)
const EVASION: &[(&str, &str, &str, &str)] = &[
    (
        "cloudtrail",
        "StopLogging",
        "CloudTrail",
        "stops recording API activity",
    ),
    (
        "cloudtrail",
        "DeleteTrail",
        "CloudTrail",
        "deletes the trail",
    ),
    (
        "cloudtrail",
        "PutEventSelectors",
        "CloudTrail",
        "changes which events the trail records",
    ),
    (
        "cloudtrail",
        "PutInsightSelectors",
        "CloudTrail",
        "changes CloudTrail Insights",
    ),
    (
        "cloudtrail",
        "DeleteEventDataStore",
        "CloudTrail Lake",
        "deletes recorded events",
    ),
    (
        "guardduty",
        "DeleteDetector",
        "GuardDuty",
        "turns off threat detection",
    ),
    (
        "guardduty",
        "DisassociateFromMasterAccount",
        "GuardDuty",
        "leaves the administrator account's monitoring",
    ),
    (
        "guardduty",
        "DisassociateFromAdministratorAccount",
        "GuardDuty",
        "leaves the administrator account's monitoring",
    ),
    (
        "guardduty",
        "DeletePublishingDestination",
        "GuardDuty",
        "stops exporting findings",
    ),
    (
        "guardduty",
        "StopMonitoringMembers",
        "GuardDuty",
        "stops monitoring member accounts",
    ),
    (
        "config",
        "StopConfigurationRecorder",
        "AWS Config",
        "stops recording configuration changes",
    ),
    (
        "config",
        "DeleteConfigurationRecorder",
        "AWS Config",
        "deletes the configuration recorder",
    ),
    (
        "config",
        "DeleteDeliveryChannel",
        "AWS Config",
        "stops delivering configuration history",
    ),
    (
        "ec2",
        "DeleteFlowLogs",
        "VPC Flow Logs",
        "stops recording network flows",
    ),
    (
        "securityhub",
        "DisableSecurityHub",
        "Security Hub",
        "turns off Security Hub",
    ),
    (
        "bedrock",
        "DeleteModelInvocationLoggingConfiguration",
        "Bedrock invocation logging",
        "stops logging model invocations, so LLMjacking goes unrecorded",
    ),
    (
        "route53resolver",
        "DeleteResolverQueryLogConfig",
        "Route 53 Resolver query logging",
        "stops logging DNS queries",
    ),
    (
        "route53resolver",
        "DisassociateResolverQueryLogConfig",
        "Route 53 Resolver query logging",
        "stops logging DNS queries for a VPC",
    ),
    (
        "logs",
        "DeleteLogGroup",
        "CloudWatch Logs",
        "deletes stored log events, which may be evidence",
    ),
    (
        "access-analyzer",
        "DeleteAnalyzer",
        "IAM Access Analyzer",
        "stops analysing external access",
    ),
    (
        "macie2",
        "DisableMacie",
        "Amazon Macie",
        "stops sensitive-data discovery",
    ),
    (
        "inspector2",
        "Disable",
        "Amazon Inspector",
        "stops vulnerability scanning",
    ),
];

fn evasion(c: &Ctx, out: &mut Out) {
    let push = |out: &mut Out, control: &str, what: &str| {
        out.effects.push(Effect::DefenseEvasion {
            resource: c.named_target(),
            evasion: DefenseEvasion {
                control: control.into(),
                what: what.into(),
            },
        });
    };
    if let Some((_, _, control, what)) = EVASION
        .iter()
        .find(|(s, o, _, _)| *s == c.service && *o == c.op)
    {
        push(out, control, what);
        return;
    }
    match (c.service, c.op) {
        ("guardduty", "UpdateDetector") if c.p.get("Enable").bool() == Some(false) => {
            push(out, "GuardDuty", "suspends threat detection")
        }
        ("guardduty", "CreateFilter" | "UpdateFilter")
            if c.p.get("Action").str() == Some("ARCHIVE") =>
        {
            push(
                out,
                "GuardDuty",
                "auto-archives matching findings, so nobody sees them",
            )
        }
        ("cloudtrail", "UpdateTrail")
            if c.p.get("IsMultiRegionTrail").bool() == Some(false)
                || c.p.get("IncludeGlobalServiceEvents").bool() == Some(false) =>
        {
            push(out, "CloudTrail", "narrows what the trail records")
        }
        _ => {}
    }
}

/// (service, operation, resource type, data-bearing)
const DESTROY: &[(&str, &str, &str, bool)] = &[
    ("rds", "DeleteDBInstance", "aws_db_instance", true),
    ("rds", "DeleteDBCluster", "aws_rds_cluster", true),
    ("rds", "DeleteDBSnapshot", "aws_db_snapshot", true),
    (
        "rds",
        "DeleteDBClusterSnapshot",
        "aws_db_cluster_snapshot",
        true,
    ),
    ("dynamodb", "DeleteTable", "aws_dynamodb_table", true),
    ("dynamodb", "DeleteBackup", "aws_dynamodb_table", true),
    ("s3", "DeleteBucket", "aws_s3_bucket", true),
    ("ec2", "DeleteVolume", "aws_ebs_volume", true),
    ("ec2", "DeleteSnapshot", "aws_ebs_snapshot", true),
    ("ec2", "TerminateInstances", "aws_instance", false),
    ("kms", "ScheduleKeyDeletion", "aws_kms_key", true),
    (
        "secretsmanager",
        "DeleteSecret",
        "aws_secretsmanager_secret",
        true,
    ),
    ("ecr", "DeleteRepository", "aws_ecr_repository", true),
    ("efs", "DeleteFileSystem", "aws_efs_file_system", true),
    (
        "elasticfilesystem",
        "DeleteFileSystem",
        "aws_efs_file_system",
        true,
    ),
    ("backup", "DeleteBackupVault", "aws_backup_vault", true),
    ("backup", "DeleteRecoveryPoint", "aws_backup_vault", true),
    ("lambda", "DeleteFunction", "aws_lambda_function", false),
    ("eks", "DeleteCluster", "aws_eks_cluster", false),
    ("logs", "DeleteLogGroup", "aws_cloudwatch_log_group", true),
    ("sqs", "DeleteQueue", "aws_sqs_queue", true),
    ("kinesis", "DeleteStream", "aws_kinesis_stream", true),
    (
        "es",
        "DeleteElasticsearchDomain",
        "aws_elasticsearch_domain",
        true,
    ),
    ("es", "DeleteDomain", "aws_opensearch_domain", true),
    ("redshift", "DeleteCluster", "aws_redshift_cluster", true),
    (
        "elasticache",
        "DeleteCacheCluster",
        "aws_elasticache_cluster",
        true,
    ),
    (
        "elasticache",
        "DeleteReplicationGroup",
        "aws_elasticache_replication_group",
        true,
    ),
    ("cloudtrail", "DeleteTrail", "aws_cloudtrail", false),
    ("iam", "DeleteRole", "aws_iam_role", false),
    ("iam", "DeleteUser", "aws_iam_user", false),
];

fn destruction(c: &Ctx, out: &mut Out) {
    let Some(&(_, _, rtype, data_bearing)) = DESTROY
        .iter()
        .find(|(s, o, _, _)| *s == c.service && *o == c.op)
    else {
        return;
    };
    out.resource_type = Some(rtype);
    out.destroys = true;
    out.data_bearing = data_bearing;
    let p = c.p;
    let lost = |why: &str| DataFate::Lost { why: why.into() };
    let data = if !data_bearing {
        DataFate::NotDataBearing
    } else {
        match (c.service, c.op) {
            ("rds", "DeleteDBInstance" | "DeleteDBCluster") => match p.get("SkipFinalSnapshot").bool() {
                Some(true) => lost("SkipFinalSnapshot is true"),
                Some(false) => DataFate::Survives { how: format!("a final snapshot {} is taken", p.any(&["FinalDBSnapshotIdentifier", "FinalSnapshotIdentifier"]).str().unwrap_or("")).replace("  ", " ") },
                None => DataFate::Unknown { why: "SkipFinalSnapshot is not given".into() },
            },
            ("kms", "ScheduleKeyDeletion") => DataFate::Survives {
                how: format!("AWS waits {} days and the deletion can be cancelled until then; afterwards everything encrypted under the key is unreadable", p.get("PendingWindowInDays").i64().unwrap_or(30)),
            },
            ("secretsmanager", "DeleteSecret") => {
                if p.get("ForceDeleteWithoutRecovery").bool() == Some(true) {
                    lost("ForceDeleteWithoutRecovery is true")
                } else {
                    DataFate::Survives { how: format!("recoverable for {} days", p.get("RecoveryWindowInDays").i64().unwrap_or(30)) }
                }
            }
            ("s3", "DeleteBucket") => DataFate::Protected { how: "S3 refuses to delete a bucket that still holds objects".into() },
            ("ecr", "DeleteRepository") if p.get("Force").bool() != Some(true) => DataFate::Protected { how: "ECR refuses to delete a repository that holds images (force is not set)".into() },
            ("dynamodb", "DeleteTable") => lost("DynamoDB deletes every item; no backup is taken by this call"),
            ("rds" | "ec2" | "dynamodb" | "backup", _) if c.op.contains("Snapshot") || c.op.contains("Backup") || c.op.contains("RecoveryPoint") => lost("the snapshot or backup is itself the copy"),
            _ => lost("AWS deletes the stored data with the resource"),
        }
    };
    out.effects.push(Effect::Destroy {
        resource: c.named_target(),
        data,
    });
}

/// Calls parapet has no specific rule for: judged by what the catalog says they are.
fn fallback(c: &Ctx, out: &mut Out) {
    let cat = catalog();
    let Some(i) = cat.lookup(&format!("{}:{}", c.service, c.op)) else {
        return;
    };
    let op = c.op;
    if cat.actions[i].level == AccessLevel::PermissionsManagement {
        out.effects.push(Effect::PrivilegeGrant(Grant {
            holder: c.resource.into(),
            via: Some(format!(
                "{}:{op} (a permissions-management call)",
                c.service
            )),
            ..empty_grant(Certainty::UnknownUntilApply)
        }));
    } else if op.starts_with("Delete")
        || op.starts_with("Terminate")
        || op.starts_with("Remove")
        || op.starts_with("Purge")
    {
        out.destroys = true;
        out.effects.push(Effect::Destroy {
            resource: c.named_target(),
            data: DataFate::Unknown {
                why: format!(
                    "{}:{op} is not one parapet knows the data fate of",
                    c.service
                ),
            },
        });
    }
}
