//! Plain-language sentences, built only from the facts in an effect.

use crate::effect::{
    is_admin_ports, is_database_ports, Certainty, DataFate, Effect, ExposureScope, Grant,
    PortRange, ShareTarget, Technique, Unrecognised,
};
use std::fmt::Write;

impl PortRange {
    pub fn describe(&self) -> String {
        if self.protocol == "all" {
            return "all protocols and ports".into();
        }
        let proto = self.protocol.to_uppercase();
        if self.from == 0 && self.to == 65535 {
            format!("all {proto} ports")
        } else if self.from == self.to {
            format!("{proto} {}", self.from)
        } else {
            format!("{proto} {}-{}", self.from, self.to)
        }
    }
}

fn data_clause(data: &DataFate) -> String {
    match data {
        DataFate::NotDataBearing => String::new(),
        DataFate::Lost { why } => format!("; {why}, so its data is lost"),
        DataFate::Survives { how } => format!("; its data survives: {how}"),
        DataFate::Protected { how } => format!("; AWS will refuse: {how}"),
        DataFate::Unknown { why } => format!("; whether its data survives is unknown: {why}"),
    }
}

fn level_counts(g: &Grant) -> String {
    let names = ["list", "read", "write", "permissions-management", "tagging"];
    let parts: Vec<String> = g
        .added_by_level
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    parts.join(", ")
}

impl Effect {
    /// One sentence: what the change does and what it newly makes possible.
    pub fn summary(&self) -> String {
        match self {
            Effect::Destroy { resource, data } => {
                format!("destroys {resource}{}", data_clause(data))
            }
            Effect::Replace {
                resource,
                because,
                destroy_first,
                data,
            } => {
                let why = if because.is_empty() {
                    String::new()
                } else {
                    format!(" because {} forces replacement", because.join(", "))
                };
                let order = if *destroy_first {
                    " (destroyed before the new one exists)"
                } else {
                    " (new one created first)"
                };
                format!("replaces {resource}{why}{order}{}", data_clause(data))
            }
            Effect::NetworkExposure {
                target,
                ports,
                source,
                scope,
                certainty,
            } => {
                if *certainty == Certainty::UnknownUntilApply {
                    return format!(
                        "may open {} on {target} to addresses known only after apply ({source})",
                        ports.describe()
                    );
                }
                let whom = match scope {
                    ExposureScope::Internet => format!("the whole internet ({source})"),
                    ExposureScope::BroadPublicRange => {
                        format!("a very broad public range ({source})")
                    }
                };
                format!("opens {} on {target} to {whom}", ports.describe())
            }
            Effect::PublicAccess {
                resource,
                how,
                certainty,
            } => match certainty {
                Certainty::Known => format!("makes {resource} public: {how}"),
                Certainty::UnknownUntilApply => {
                    format!("may make {resource} public once values are known: {how}")
                }
            },
            Effect::ExternalShare {
                resource, target, ..
            } => match target {
                ShareTarget::Public => format!("shares {resource} with everyone (public)"),
                ShareTarget::Account { id } => {
                    format!("shares {resource} with AWS account {id}")
                }
            },
            Effect::PrivilegeGrant(g) => grant_summary(g),
            Effect::TrustOpened {
                role,
                principal,
                scope,
                certainty,
            } => {
                let who = match scope.as_str() {
                    "public" => "anyone (Principal \"*\")".to_string(),
                    "other_account" => format!("another AWS account ({principal})"),
                    "federated_unconditioned" => {
                        format!("any identity from {principal}, with no condition on who")
                    }
                    _ => principal.clone(),
                };
                let maybe = if *certainty == Certainty::UnknownUntilApply {
                    "may let"
                } else {
                    "lets"
                };
                format!("{maybe} {who} assume {role}")
            }
            Effect::NewCredential { resource, what } if what.contains(resource.as_str()) => {
                what.clone()
            }
            Effect::NewCredential { resource, what } => format!("{what} ({resource})"),
            Effect::CodeChange {
                resource,
                what,
                role,
            } => match role {
                Some(r) => format!("{what} on {resource}, which runs as {r}"),
                None => format!("{what} on {resource}"),
            },
            Effect::DefenseEvasion { resource, evasion } => {
                format!("{} on {resource}: {}", evasion.what, evasion.control)
            }
            Effect::CriticalResource { resource, why } => {
                format!("{resource} is a critical resource ({why})")
            }
            Effect::RevertsPin {
                resource,
                pin,
                attribute,
                reason,
                incident,
                certainty,
            } => {
                let verb = if *certainty == Certainty::UnknownUntilApply {
                    "may undo"
                } else {
                    "undoes"
                };
                let inc = incident
                    .as_ref()
                    .map(|i| format!(", incident {i}"))
                    .unwrap_or_default();
                format!("{verb} pinned emergency change {pin} to {resource}.{attribute} ({reason}{inc})")
            }
            Effect::RevertsDrift {
                resource,
                attributes,
                restores_previous,
            } => {
                let how = if *restores_previous {
                    "puts back the values they had before"
                } else {
                    "overwrites"
                };
                format!(
                    "{how} a change made outside Terraform to {resource} ({}), such as a manual emergency fix",
                    attributes.join(", ")
                )
            }
            Effect::Unknown {
                unrecognised: Unrecognised::Action,
                name,
                why,
                ..
            } => format!("parapet does not know {name}: {why}"),
            Effect::Unknown {
                unrecognised: Unrecognised::ResourceType,
                resource,
                why,
                ..
            } => format!("parapet cannot tell what kind of resource {resource} is: {why}"),
            Effect::Unknown {
                unrecognised: Unrecognised::Parameters,
                name,
                why,
                ..
            } => format!("parapet could not fully read the parameters of {name}: {why}"),
            Effect::Technique { resource, what, .. } if what.contains(resource.as_str()) => {
                what.clone()
            }
            Effect::Technique { resource, what, .. } => format!("{what} ({resource})"),
        }
    }

    /// Why it matters: what an attacker or an accident can do once this is applied.
    pub fn explanation(&self) -> String {
        match self {
            Effect::Destroy { data, .. } | Effect::Replace { data, .. } => match data {
                DataFate::Lost { .. } => "Once applied the data cannot be recovered from AWS; the only copy is whatever backups exist outside this resource.".into(),
                DataFate::Unknown { .. } => "The plan does not show that a copy survives; treat the data as at risk until someone confirms a backup.".into(),
                DataFate::NotDataBearing => "Anything that depends on this resource is interrupted until it exists again.".into(),
                _ => "Dependents are interrupted while the resource is replaced or gone.".into(),
            },
            Effect::NetworkExposure { ports, certainty, .. } => {
                if *certainty == Certainty::UnknownUntilApply {
                    "The source addresses are computed during apply; if they resolve to the internet the port is exposed. Review what the value will be.".into()
                } else if ports.is_all_ports() {
                    "Every service on the attached instances becomes reachable, including ones never meant to be public; internet scanners find new exposure within minutes.".into()
                } else if is_admin_ports(ports) {
                    "Remote administration becomes reachable from anywhere: brute force, leaked keys and unpatched daemons lead straight to a shell or the control plane.".into()
                } else if is_database_ports(ports) {
                    "A database or cache becomes reachable from anywhere; many are found and emptied or ransomed within hours.".into()
                } else {
                    "A service becomes reachable from outside; make sure it is meant to be public and authenticates its callers.".into()
                }
            }
            Effect::PublicAccess { .. } => "Anyone, without AWS credentials, can reach or read this resource.".into(),
            Effect::ExternalShare { target, .. } => match target {
                ShareTarget::Public => "Anyone with an AWS account can copy the data; this is a classic exfiltration step.".into(),
                ShareTarget::Account { .. } => "The other account can copy the data out; make sure it is one of yours.".into(),
            },
            Effect::PrivilegeGrant(g) => {
                let mut s = String::new();
                if g.admin {
                    // Administrator access subsumes every escalation path.
                    return "The holder gets full control of the account, including the power to hide its tracks.".into();
                }
                // The first few in full; a grant like iam:* has a dozen.
                for e in g.escalations.iter().take(3) {
                    let _ = write!(s, "{}: {} ", e.id, e.lets_holder);
                }
                if g.escalations.len() > 3 {
                    let _ = write!(s, "And {} more escalation paths. ", g.escalations.len() - 3);
                }
                if s.is_empty() {
                    if g.added_by_level[3] > 0 {
                        s.push_str("Permissions-management actions let the holder change who can do what; review each one.");
                    } else if g.certainty == Certainty::UnknownUntilApply {
                        s.push_str("The policy is computed during apply, so what it grants cannot be checked yet; review it once known.");
                    } else if !g.sensitive_reads.is_empty() {
                        let _ = write!(s, "Not escalation: no permissions-management action or escalation path is added, but the reads include secrets and data ({}); check the holder should see them.", g.sensitive_reads.join(", "));
                    } else {
                        s.push_str("The holder can do more than before; check the new actions are needed.");
                    }
                }
                s.trim_end().to_string()
            }
            Effect::TrustOpened { .. } => "Whoever can assume the role gets all of its permissions, from outside your control.".into(),
            Effect::NewCredential { .. } => "Long-lived credentials outlive the session that made them and are how attackers keep access.".into(),
            Effect::CodeChange { .. } => "New code runs with the role's permissions; a replaced function is a known way to mint credentials.".into(),
            Effect::DefenseEvasion { .. } => "Attackers turn off logging and detection first; once applied, what happens next is not recorded or not alerted on.".into(),
            Effect::CriticalResource { .. } => "Changes to critical resources get stricter review.".into(),
            Effect::RevertsPin { .. } => "A human pinned this value during an emergency; automation putting back the old value can reopen the hole that was closed.".into(),
            Effect::RevertsDrift { .. } => "Terraform treats git as the only truth; an out-of-band change is often an emergency fix made during an incident, and reverting it can reopen what it closed.".into(),
            Effect::Unknown { unrecognised: Unrecognised::Action, .. } => "No rule can say what an action parapet cannot look up does: it may destroy data, open access or grant permissions. Unknown actions need a person.".into(),
            Effect::Unknown { unrecognised: Unrecognised::ResourceType, .. } => "Policies for critical and data-bearing resources cannot apply to a target whose kind is unknown; a person must confirm what it is.".into(),
            Effect::Unknown { unrecognised: Unrecognised::Parameters, .. } => "The parameters that say what this write opens, shares or grants are missing or unreadable; AWS may apply defaults or read them differently, so the worst case must be assumed until a person checks.".into(),
            Effect::Technique { technique, .. } => match technique {
                Technique::RunsCommands => "Commands on an instance run as root with the instance role's credentials; the behaviour pack reports this as execution once CloudTrail shows it.",
                Technique::ExpiresData => "S3 deletes every matching object once the expiry passes, without another API call; on a log bucket that erases the evidence.",
                Technique::BulkDelete => "Each key is deleted in one request; without versioning the objects cannot be recovered.",
                Technique::AssumesPrivilegedRole => "The session gets all of the role's permissions. parapet cannot see the role's policies offline, so it judges by the name; confirm what the role may do.",
                Technique::InhibitsRecovery => "With versioning suspended S3 keeps no previous versions: objects overwritten or deleted from then on cannot be restored, the usual step before destroying or ransoming data.",
                Technique::AcceleratedCompute => "GPU and accelerator instances cost up to hundreds of dollars an hour each and are what attackers launch first for mining and model abuse; the behaviour pack reports such launches once CloudTrail shows them.",
                Technique::KubernetesAdmin => "A cluster administrator controls every workload on the cluster and reads every Kubernetes secret; granted through an EKS access entry, it bypasses the cluster's own RBAC review and outlives changes to the principal's IAM policies.",
                Technique::DisablesKey => "While a KMS key is disabled nothing encrypted under it can be decrypted: databases, volumes, buckets and secrets that use it stop working, which is how data is held to ransom in the cloud.",
            }.into(),
        }
    }
}

fn grant_summary(g: &Grant) -> String {
    let maybe = if g.certainty == Certainty::UnknownUntilApply {
        "may grant"
    } else {
        "grants"
    };
    if g.admin {
        let via = g
            .via
            .as_ref()
            .map(|v| format!(" through {v}"))
            .unwrap_or_default();
        return format!(
            "{maybe} {}{via} full administrator access (every action on {})",
            g.holder, g.resources
        );
    }
    let via = g
        .via
        .as_ref()
        .map(|v| format!(" through {v}"))
        .unwrap_or_default();
    if g.added == 0 && g.removed == 0 {
        return if g.certainty == Certainty::UnknownUntilApply {
            format!(
                "{maybe} {}{via} permissions that are known only after apply",
                g.holder
            )
        } else {
            format!(
                "{maybe} {}{via} permissions parapet cannot enumerate",
                g.holder
            )
        };
    }
    let mut s = format!("{maybe} {}{via} {} action(s)", g.holder, g.added);
    let levels = level_counts(g);
    if !levels.is_empty() {
        let _ = write!(s, " ({levels})");
    }
    let _ = write!(s, " on {}", g.resources);
    let wild: Vec<String> = g
        .patterns
        .iter()
        .filter(|(p, _)| p.contains('*') || p.contains('?'))
        .map(|(p, n)| format!("{p} = {n} actions"))
        .collect();
    if !wild.is_empty() {
        let _ = write!(s, " [{}]", wild.join(", "));
    }
    if g.removed > 0 {
        let _ = write!(s, "; removes {}", g.removed);
    }
    if !g.escalations.is_empty() {
        let ids: Vec<&str> = g.escalations.iter().map(|e| e.id.as_str()).collect();
        let _ = write!(s, "; includes escalation path(s): {}", ids.join(", "));
    }
    s
}
