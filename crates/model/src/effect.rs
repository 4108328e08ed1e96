use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Numeric rank for policies (`context.maxSeverity >= 3`).
    pub fn rank(self) -> i64 {
        self as i64
    }
}

/// Whether a fact is certain or depends on values known only after apply.
/// Unknown is a third outcome: "may expose once known", never silently fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    #[default]
    Known,
    /// Depends on a value Terraform computes during apply.
    UnknownUntilApply,
}

/// What happens to the data held by a resource that is destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum DataFate {
    /// The resource holds no data worth keeping.
    NotDataBearing,
    /// Data is gone: e.g. `skip_final_snapshot = true`, `force_destroy = true`.
    Lost { why: String },
    /// A copy survives: final snapshot, recovery window, retention.
    Survives { how: String },
    /// AWS refuses the deletion: deletion protection, a non-empty bucket.
    Protected { how: String },
    /// The plan does not say.
    Unknown { why: String },
}

impl DataFate {
    pub fn is_lost(&self) -> bool {
        matches!(self, DataFate::Lost { .. })
    }
}

/// A protocol and port range, as a security group or NACL rule states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct PortRange {
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `all`.
    pub protocol: &'static str,
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub fn all() -> PortRange {
        PortRange {
            protocol: "all",
            from: 0,
            to: 65535,
        }
    }

    pub fn covers(&self, port: u16) -> bool {
        (self.protocol == "all" || self.protocol == "tcp") && self.from <= port && port <= self.to
    }

    pub fn is_all_ports(&self) -> bool {
        self.protocol == "all" || (self.from == 0 && self.to == 65535)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ExposureScope {
    /// `0.0.0.0/0`, `::/0`, or any `/0`.
    Internet,
    /// A very large range (a /8 or wider) that is not private address space.
    BroadPublicRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum ShareTarget {
    Public,
    Account { id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationHit {
    pub id: String,
    /// The actions that together make the primitive, as granted.
    pub actions: Vec<String>,
    /// What the holder can do with it, in plain language.
    pub lets_holder: String,
}

/// Permissions granted (and revoked) by a policy document or attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Who receives the permissions, e.g. `role aws_iam_role.ci`.
    pub holder: String,
    /// How: an attached policy or a group membership, when not an inline document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub added: usize,
    pub removed: usize,
    /// Added actions by access level: list, read, write, permissions management, tagging.
    pub added_by_level: [usize; 5],
    /// For a grant without permissions management or escalation: the reads among them that return secrets, stored
    /// data or credentials (`secretsmanager:GetSecretValue`, `s3:GetObject`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensitive_reads: Vec<String>,
    /// Patterns in the document and how many catalog actions each expands to.
    pub patterns: Vec<(String, usize)>,
    /// `"*"` or a short description of the resources.
    pub resources: String,
    /// Full control of the account (`*` on `*`, `AdministratorAccess`).
    pub admin: bool,
    pub escalations: Vec<EscalationHit>,
    pub certainty: Certainty,
}

impl Grant {
    /// A grant whose permissions parapet cannot enumerate (an attachment of an unknown
    /// policy, a membership, a document known only after apply).
    pub fn opaque(holder: String, via: Option<String>, certainty: Certainty) -> Grant {
        Grant {
            holder,
            via,
            added: 0,
            removed: 0,
            added_by_level: [0; 5],
            sensitive_reads: Vec::new(),
            patterns: Vec::new(),
            resources: "unknown resources".into(),
            admin: false,
            escalations: Vec::new(),
            certainty,
        }
    }
}

/// The sorted, distinct policy labels of some effects, and their highest severity rank.
pub fn policy_facts(effects: &[Effect]) -> (Vec<String>, i64) {
    let mut labels: Vec<String> = effects
        .iter()
        .flat_map(|e| e.labels())
        .map(String::from)
        .collect();
    labels.sort();
    labels.dedup();
    let max = effects
        .iter()
        .map(|e| e.severity().rank())
        .max()
        .unwrap_or(0);
    (labels, max)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefenseEvasion {
    /// CloudTrail, GuardDuty, AWS Config, VPC Flow Logs, Security Hub, Bedrock invocation logging...
    pub control: String,
    /// What is lost, e.g. "stops recording API activity".
    pub what: String,
}

/// What parapet could not recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unrecognised {
    /// An action missing from the IAM catalog: misspelt, or newer than this build.
    Action,
    /// A write whose target kind parapet cannot work out.
    ResourceType,
    /// A write whose risky parameters are missing, null or of the wrong type, so
    /// parapet cannot tell what it opens, shares or grants.
    Parameters,
}

/// An attack technique the behaviour pack (crates/detect/rules) reports once CloudTrail
/// shows it, recognised before the call is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Technique {
    /// Commands or a shell on instances or containers (SSM Run Command and Session
    /// Manager, EC2 Instance Connect, ECS Exec, user data, build-spec overrides).
    RunsCommands,
    /// Stored data set to expire soon (an S3 lifecycle rule with a short expiry).
    ExpiresData,
    /// Many objects deleted in one call (S3 DeleteObjects).
    BulkDelete,
    /// Assuming a role whose name or ARN looks like an administrator role.
    AssumesPrivilegedRole,
    /// Recovery made harder: S3 versioning suspended, so overwritten and deleted objects
    /// are no longer kept.
    InhibitsRecovery,
    /// GPU, accelerator or very large instances launched (instances, spot requests,
    /// fleets): the capacity attackers take for mining and model abuse.
    AcceleratedCompute,
    /// An IAM principal made a Kubernetes cluster administrator through an EKS access
    /// entry (the cluster-admin access policies, or the `system:masters` group).
    KubernetesAdmin,
    /// A KMS key disabled: nothing encrypted under it can be decrypted until it is
    /// enabled again.
    DisablesKey,
}

impl Technique {
    pub fn as_str(self) -> &'static str {
        match self {
            Technique::RunsCommands => "runs_commands",
            Technique::ExpiresData => "data_expiry",
            Technique::BulkDelete => "bulk_delete",
            Technique::AssumesPrivilegedRole => "assumes_privileged_role",
            Technique::InhibitsRecovery => "inhibits_recovery",
            Technique::AcceleratedCompute => "accelerated_compute",
            Technique::KubernetesAdmin => "kubernetes_admin",
            Technique::DisablesKey => "disables_key",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// The resource is destroyed.
    Destroy {
        resource: String,
        data: DataFate,
    },
    /// The resource is destroyed and created again.
    Replace {
        resource: String,
        /// Attributes forcing replacement, or Terraform's action reason.
        because: Vec<String>,
        destroy_first: bool,
        data: DataFate,
    },
    /// Network reachability from outside: security groups, NACLs.
    NetworkExposure {
        target: String,
        ports: PortRange,
        source: String,
        scope: ExposureScope,
        certainty: Certainty,
    },
    /// A resource reachable or readable by anyone: public buckets, function URLs, endpoints.
    PublicAccess {
        resource: String,
        how: String,
        certainty: Certainty,
    },
    /// Data or an image shared outside the account.
    ExternalShare {
        resource: String,
        target: ShareTarget,
        certainty: Certainty,
    },
    PrivilegeGrant(Grant),
    /// A role's trust policy lets someone new assume it.
    TrustOpened {
        role: String,
        principal: String,
        /// `public`, `other_account`, `federated_unconditioned`, `service`.
        scope: String,
        certainty: Certainty,
    },
    /// A new long-lived credential or login.
    NewCredential {
        resource: String,
        what: String,
    },
    /// Code that runs with a role changes.
    CodeChange {
        resource: String,
        what: String,
        role: Option<String>,
    },
    DefenseEvasion {
        resource: String,
        evasion: DefenseEvasion,
    },
    /// The resource is critical by type or by tag.
    CriticalResource {
        resource: String,
        why: String,
    },
    /// The change undoes a pinned emergency fix.
    RevertsPin {
        resource: String,
        pin: String,
        attribute: String,
        reason: String,
        incident: Option<String>,
        certainty: Certainty,
    },
    /// The change puts back attributes that were changed outside Terraform.
    RevertsDrift {
        resource: String,
        attributes: Vec<String>,
        /// True when the plan restores exactly the value from before the manual change.
        restores_previous: bool,
    },
    /// Something parapet cannot judge, so it never passes silently: an action it does
    /// not know, or a write to a kind of resource it cannot place.
    Unknown {
        resource: String,
        unrecognised: Unrecognised,
        /// The name not recognised (`rds:FrobnicateDBInstance`), or the target's type.
        name: String,
        /// Why, in plain language.
        why: String,
    },
    /// An attack technique of the behaviour pack, seen before the call.
    Technique {
        resource: String,
        technique: Technique,
        /// What the call does, in plain language.
        what: String,
    },
}

impl Effect {
    /// A stable identifier, used as the finding/rule id in every report.
    pub fn id(&self) -> &'static str {
        match self {
            Effect::Destroy { data, .. } if data.is_lost() => "destroy.data-loss",
            Effect::Destroy { data, .. } if *data != DataFate::NotDataBearing => {
                "destroy.data-bearing"
            }
            Effect::Destroy { .. } => "destroy",
            Effect::Replace { data, .. } if data.is_lost() => "replace.data-loss",
            Effect::Replace { data, .. } if *data != DataFate::NotDataBearing => {
                "replace.data-bearing"
            }
            Effect::Replace { .. } => "replace",
            Effect::NetworkExposure { certainty, .. }
                if *certainty == Certainty::UnknownUntilApply =>
            {
                "exposure.unknown"
            }
            Effect::NetworkExposure { ports, .. } if ports.is_all_ports() => "exposure.all-ports",
            Effect::NetworkExposure { ports, .. } if is_admin_ports(ports) => "exposure.admin-port",
            Effect::NetworkExposure { ports, .. } if is_database_ports(ports) => {
                "exposure.database-port"
            }
            Effect::NetworkExposure { .. } => "exposure.port",
            Effect::PublicAccess { .. } => "exposure.public-access",
            Effect::ExternalShare {
                target: ShareTarget::Public,
                ..
            } => "share.public",
            Effect::ExternalShare { .. } => "share.external-account",
            Effect::PrivilegeGrant(g) if g.admin => "privilege.admin",
            Effect::PrivilegeGrant(g) if !g.escalations.is_empty() => "privilege.escalation",
            Effect::PrivilegeGrant(g) if g.certainty == Certainty::UnknownUntilApply => {
                "privilege.unknown"
            }
            Effect::PrivilegeGrant(g) if g.added_by_level[3] > 0 => {
                "privilege.permissions-management"
            }
            Effect::PrivilegeGrant(_) => "privilege.grant",
            Effect::TrustOpened { .. } => "privilege.trust-opened",
            Effect::NewCredential { .. } => "privilege.new-credential",
            Effect::CodeChange { .. } => "code.change",
            Effect::DefenseEvasion { .. } => "defense-evasion",
            Effect::CriticalResource { .. } => "critical-resource",
            Effect::RevertsPin { .. } => "reverts.pin",
            Effect::RevertsDrift { .. } => "reverts.manual-change",
            Effect::Unknown {
                unrecognised: Unrecognised::Action,
                ..
            } => "unknown.action",
            Effect::Unknown {
                unrecognised: Unrecognised::ResourceType,
                ..
            } => "unknown.resource-type",
            Effect::Unknown {
                unrecognised: Unrecognised::Parameters,
                ..
            } => "unknown.parameters",
            Effect::Technique { technique, .. } => match technique {
                Technique::RunsCommands => "execution.run-commands",
                Technique::ExpiresData => "impact.data-expiry",
                Technique::BulkDelete => "impact.bulk-delete",
                Technique::AssumesPrivilegedRole => "identity.assume-privileged-role",
                Technique::InhibitsRecovery => "impact.inhibit-recovery",
                Technique::AcceleratedCompute => "impact.accelerated-compute",
                Technique::KubernetesAdmin => "identity.kubernetes-admin",
                Technique::DisablesKey => "impact.disable-key",
            },
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Effect::Destroy { data, .. } | Effect::Replace { data, .. } => match data {
                DataFate::Lost { .. } => Severity::Critical,
                DataFate::Unknown { .. } => Severity::High,
                DataFate::Survives { .. } | DataFate::Protected { .. } => Severity::Medium,
                DataFate::NotDataBearing => Severity::Low,
            },
            Effect::NetworkExposure {
                ports,
                scope,
                certainty,
                ..
            } => {
                if *certainty == Certainty::UnknownUntilApply {
                    Severity::High
                } else if ports.is_all_ports() || is_admin_ports(ports) || is_database_ports(ports)
                {
                    Severity::Critical
                } else if *scope == ExposureScope::Internet {
                    Severity::Medium
                } else {
                    Severity::Low
                }
            }
            Effect::PublicAccess { .. } => Severity::High,
            Effect::ExternalShare { target, .. } => match target {
                ShareTarget::Public => Severity::Critical,
                ShareTarget::Account { .. } => Severity::High,
            },
            Effect::PrivilegeGrant(g) => {
                if g.admin || !g.escalations.is_empty() {
                    Severity::Critical
                } else if g.added_by_level[3] > 0 || g.certainty == Certainty::UnknownUntilApply {
                    Severity::High
                } else if g.added_by_level[2] > 0 {
                    Severity::Medium
                } else if g.added > 0 {
                    Severity::Low
                } else {
                    Severity::Info
                }
            }
            Effect::TrustOpened { scope, .. } => match scope.as_str() {
                "public" | "federated_unconditioned" => Severity::Critical,
                "other_account" | "unknown" => Severity::High,
                _ => Severity::Low,
            },
            Effect::NewCredential { .. } => Severity::High,
            Effect::CodeChange { .. } => Severity::Medium,
            Effect::DefenseEvasion { .. } => Severity::Critical,
            Effect::CriticalResource { .. } => Severity::Info,
            Effect::RevertsPin { .. } => Severity::Critical,
            Effect::RevertsDrift { .. } => Severity::High,
            Effect::Unknown { unrecognised, .. } => match unrecognised {
                Unrecognised::Action => Severity::High,
                Unrecognised::ResourceType => Severity::Medium,
                Unrecognised::Parameters => Severity::High,
            },
            Effect::Technique { .. } => Severity::High,
        }
    }

    /// Facts the policies match on (`context.effects.contains("exposure_admin_port")`).
    /// Documented in docs/policies.md; renaming one is a breaking change.
    pub fn labels(&self) -> Vec<&'static str> {
        let mut l = Vec::with_capacity(4);
        match self {
            Effect::Destroy { data, .. } | Effect::Replace { data, .. } => {
                l.push(if matches!(self, Effect::Destroy { .. }) {
                    "destroy"
                } else {
                    "replace"
                });
                match data {
                    DataFate::NotDataBearing => {}
                    DataFate::Lost { .. } => l.extend(["data_bearing", "data_loss"]),
                    DataFate::Unknown { .. } => l.extend(["data_bearing", "data_loss_possible"]),
                    DataFate::Survives { .. } | DataFate::Protected { .. } => {
                        l.push("data_bearing")
                    }
                }
            }
            Effect::NetworkExposure {
                ports,
                scope,
                certainty,
                ..
            } => {
                l.push("exposure");
                if *certainty == Certainty::UnknownUntilApply {
                    l.extend(["exposure_unknown", "unknown"]);
                } else {
                    if *scope == ExposureScope::Internet {
                        l.push("exposure_internet");
                        // Combined labels, so two different rules in one change cannot
                        // add up to a finding neither of them makes.
                        if ports.is_all_ports() {
                            l.push("internet_all_ports");
                        }
                        if is_admin_ports(ports) {
                            l.push("internet_admin_port");
                        }
                        if is_database_ports(ports) {
                            l.push("internet_database_port");
                        }
                    }
                    if ports.is_all_ports() {
                        l.push("exposure_all_ports");
                    }
                    if is_admin_ports(ports) {
                        l.push("exposure_admin_port");
                    }
                    if is_database_ports(ports) {
                        l.push("exposure_database_port");
                    }
                }
            }
            Effect::PublicAccess { certainty, .. } => {
                l.extend(["exposure", "public_access"]);
                if *certainty == Certainty::UnknownUntilApply {
                    l.push("unknown");
                }
            }
            Effect::ExternalShare {
                target, certainty, ..
            } => {
                l.push("external_share");
                if *target == ShareTarget::Public {
                    l.push("external_share_public");
                }
                if *certainty == Certainty::UnknownUntilApply {
                    l.push("unknown");
                }
            }
            Effect::PrivilegeGrant(g) => {
                l.push("privilege_grant");
                if g.admin {
                    l.push("privilege_admin");
                }
                if !g.escalations.is_empty() {
                    l.push("privilege_escalation");
                }
                if g.added_by_level[3] > 0 {
                    l.push("privilege_permissions_management");
                }
                if g.certainty == Certainty::UnknownUntilApply {
                    l.extend(["privilege_unknown", "unknown"]);
                }
            }
            Effect::TrustOpened {
                scope, certainty, ..
            } => {
                l.push("trust_opened");
                match scope.as_str() {
                    "public" => l.push("trust_public"),
                    "other_account" => l.push("trust_other_account"),
                    "federated_unconditioned" => l.push("trust_federated_unconditioned"),
                    _ => {}
                }
                if *certainty == Certainty::UnknownUntilApply {
                    l.push("unknown");
                }
            }
            Effect::NewCredential { .. } => l.push("new_credential"),
            Effect::CodeChange { .. } => l.push("code_change"),
            Effect::DefenseEvasion { .. } => l.push("defense_evasion"),
            Effect::CriticalResource { .. } => l.push("critical"),
            Effect::RevertsPin { certainty, .. } => {
                l.push("reverts_pin");
                if *certainty == Certainty::UnknownUntilApply {
                    l.push("unknown");
                }
            }
            Effect::RevertsDrift { .. } => l.push("reverts_drift"),
            Effect::Unknown { unrecognised, .. } => match unrecognised {
                Unrecognised::Action => l.push("unknown_action"),
                Unrecognised::ResourceType => l.push("unknown_resource_type"),
                Unrecognised::Parameters => l.extend(["unknown_parameters", "unknown"]),
            },
            Effect::Technique { technique, .. } => l.extend(["technique", technique.as_str()]),
        }
        l
    }
}

/// Remote administration: SSH, RDP, WinRM, and Docker/Kubernetes APIs.
pub(crate) const ADMIN_PORTS: &[u16] = &[22, 3389, 5985, 5986, 2375, 2376, 6443, 10250];
/// Databases and caches that must never face the internet.
pub(crate) const DATABASE_PORTS: &[u16] = &[
    1433, 1521, 3306, 5432, 5984, 6379, 7000, 7001, 9042, 9200, 9300, 11211, 27017, 27018,
];

pub(crate) fn is_admin_ports(p: &PortRange) -> bool {
    ADMIN_PORTS.iter().any(|&port| p.covers(port))
}

pub(crate) fn is_database_ports(p: &PortRange) -> bool {
    DATABASE_PORTS.iter().any(|&port| p.covers(port))
}
