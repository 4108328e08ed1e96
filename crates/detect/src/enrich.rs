//! Fields parapet adds to every event before rules see it, under `parapet.`:
//! who acted and of which kind, the lineage, what the call made possible (the same
//! knowledge layer that gates plans), and whether a key is used from somewhere new.
//!
//! | field | meaning |
//! |---|---|
//! | `parapet.actor` | the acting identity (`key:AKIA...`, `session:<arn>`, `user:<arn>`) |
//! | `parapet.actorType` | `human`, `automation`, `service` or `unknown` ([`ActorKinds`]) |
//! | `parapet.lineage` | the root of the actor's lineage |
//! | `parapet.lineageDepth` | how many identities lie between actor and root |
//! | `parapet.eventName` | the event name without an API version suffix |
//! | `parapet.effects` | effect ids of a successful call (`privilege.admin`, `share.public`...) |
//! | `parapet.newSourceIp`, `parapet.newUserAgent` | a known key used from a new address or client |
//! | `parapet.via` | how the actor was made (`CreateAccessKey`, `UpdateFunctionCode then ran as its role`...) |
//! | `parapet.resource` | the resource a call names (`ec2:groupId=sg-1`), when it names one |
//! | `parapet.revertsHumanChange` | automation undoing a human's recent change to the same resource |

use crate::lineage::Lineage;
use parapet_trail::{Event, IdentityType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};

/// How actors are told apart: patterns (`*` wildcards, case-insensitive) on role, user
/// and session names and on user agents. Data, embedded and overridable.
#[derive(Debug, Clone, Deserialize)]
pub struct ActorKinds {
    pub automation_names: Vec<String>,
    pub automation_user_agents: Vec<String>,
    pub human_user_agents: Vec<String>,
    pub human_names: Vec<String>,
}

pub const BUILTIN_ACTORS: &str = include_str!("../data/actors.toml");

impl ActorKinds {
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_ACTORS).expect("the built-in actor table parses")
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn classify(&self, e: &Event) -> &'static str {
        let id = &e.identity;
        if matches!(id.kind, IdentityType::AwsService | IdentityType::AwsAccount) {
            return "service";
        }
        let ua = e.user_agent.as_deref().unwrap_or("");
        let names: Vec<&str> = [
            id.user_name.as_deref(),
            id.session_name.as_deref(),
            id.issuer_arn.as_deref().and_then(|a| a.rsplit('/').next()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let any = |pats: &[String], s: &str| pats.iter().any(|p| wildcard(p, s));
        if any(&self.automation_user_agents, ua)
            || names.iter().any(|n| any(&self.automation_names, n))
        {
            return "automation";
        }
        if any(&self.human_user_agents, ua)
            || names.iter().any(|n| any(&self.human_names, n))
            || matches!(
                id.kind,
                IdentityType::Root | IdentityType::IdentityCenterUser | IdentityType::SamlUser
            )
        {
            return "human";
        }
        "unknown"
    }
}

fn wildcard(pat: &str, s: &str) -> bool {
    let (p, s) = (pat.to_ascii_lowercase(), s.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == s;
    }
    let mut rest = s.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Where each key has been used from, bounded per key.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct KeyHistory {
    events: u64,
    ips: HashSet<String>,
    agents: HashSet<String>,
    last_ms: i64,
}

/// A human's recent write, remembered so automation undoing it can be seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HumanChange {
    resource: String,
    op: String,
    time_ms: i64,
}

/// Events a key must have before a new address counts as new.
const WARM_UP: u64 = 5;
const MAX_PER_KEY: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enricher {
    keys: HashMap<String, KeyHistory>,
    human: VecDeque<HumanChange>,
    #[serde(skip, default = "ActorKinds::builtin")]
    kinds: ActorKinds,
    max_keys: usize,
    revert_window_ms: i64,
}

impl Enricher {
    pub fn new(kinds: ActorKinds) -> Self {
        Enricher {
            keys: HashMap::new(),
            human: VecDeque::new(),
            kinds,
            max_keys: 200_000,
            revert_window_ms: 24 * 3_600_000,
        }
    }

    /// Keep the actor table of `other` (a restored checkpoint does not carry one).
    pub fn take_kinds_from(&mut self, other: Enricher) {
        self.kinds = other.kinds;
    }

    /// The `{"parapet": {...}}` object for one event.
    pub fn enrich(&mut self, e: &Event, lineage: &Lineage, actor: &str, effects: &[&str]) -> Value {
        let kind = self.kinds.classify(e);
        let path = lineage.path(actor);
        let (new_ip, new_agent) = self.key_use(e, actor);
        let reverts = self.reverts(e, kind);
        let via = lineage.link_of(actor).map(|l| l.how.clone());
        json!({"parapet": {
            "via": via,
            "resource": resource_of(e),
            "actor": actor,
            "actorType": kind,
            "lineage": path.last().cloned().unwrap_or_default(),
            "lineageDepth": path.len() - 1,
            "eventName": e.name,
            "effects": effects,
            "newSourceIp": new_ip,
            "newUserAgent": new_agent,
            "revertsHumanChange": reverts,
        }})
    }

    fn key_use(&mut self, e: &Event, actor: &str) -> (bool, bool) {
        if e.identity.kind == IdentityType::AwsService {
            return (false, false);
        }
        let h = self.keys.entry(actor.to_string()).or_default();
        h.last_ms = h.last_ms.max(e.time_ms);
        h.events += 1;
        let warm = h.events > WARM_UP;
        let fresh = |set: &mut HashSet<String>, v: &Option<String>| -> bool {
            let Some(v) = v else { return false };
            if set.contains(v) {
                return false;
            }
            if set.len() < MAX_PER_KEY {
                set.insert(v.clone());
            }
            warm
        };
        let ip = fresh(&mut h.ips, &e.source_ip);
        let agent = fresh(&mut h.agents, &e.user_agent);
        (ip, agent)
    }

    fn reverts(&mut self, e: &Event, kind: &str) -> bool {
        if e.read_only || e.error_code.is_some() {
            return false;
        }
        let Some(resource) = resource_of(e) else {
            return false;
        };
        while self
            .human
            .front()
            .is_some_and(|h| h.time_ms < e.time_ms - self.revert_window_ms)
        {
            self.human.pop_front();
        }
        match kind {
            "human" => {
                self.human.push_back(HumanChange {
                    resource,
                    op: e.name.clone(),
                    time_ms: e.time_ms,
                });
                if self.human.len() > 100_000 {
                    self.human.pop_front();
                }
                false
            }
            "automation" => self.human.iter().any(|h| {
                h.resource == resource && h.time_ms <= e.time_ms && undoes(&e.name, &h.op)
            }),
            _ => false,
        }
    }

    pub fn evict(&mut self, now_ms: i64, ttl_ms: i64) {
        self.keys.retain(|_, h| h.last_ms >= now_ms - ttl_ms);
        if self.keys.len() > self.max_keys {
            let mut t: Vec<i64> = self.keys.values().map(|h| h.last_ms).collect();
            t.sort_unstable();
            let cut = t[self.keys.len() - self.max_keys];
            self.keys.retain(|_, h| h.last_ms >= cut);
        }
    }
}

/// The resource a write names, by the request parameters APIs use for ids.
fn resource_of(e: &Event) -> Option<String> {
    const IDS: [&str; 14] = [
        "groupId",
        "bucketName",
        "functionName",
        "userName",
        "roleName",
        "policyArn",
        "dBInstanceIdentifier",
        "instanceId",
        "networkAclId",
        "keyId",
        "secretId",
        "trailName",
        "name",
        "tableName",
    ];
    let req = e.raw.get("requestParameters")?;
    IDS.iter().find_map(|k| {
        req.get(*k)
            .and_then(Value::as_str)
            .map(|v| format!("{}:{k}={v}", e.service))
    })
}

/// Whether `op` undoes `earlier` (Revoke after Authorize, Delete after Put...).
fn undoes(op: &str, earlier: &str) -> bool {
    const PAIRS: [(&str, &str); 9] = [
        ("Authorize", "Revoke"),
        ("Create", "Delete"),
        ("Put", "Delete"),
        ("Attach", "Detach"),
        ("Add", "Remove"),
        ("Enable", "Disable"),
        ("Start", "Stop"),
        ("Associate", "Disassociate"),
        ("Replace", "Replace"),
    ];
    PAIRS.iter().any(|(a, b)| {
        let swap = |x: &str, y: &str| {
            earlier
                .strip_prefix(x)
                .zip(op.strip_prefix(y))
                .is_some_and(|(r1, r2)| r1 == r2)
        };
        swap(a, b) || swap(b, a)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_operations() {
        assert!(undoes(
            "RevokeSecurityGroupIngress",
            "AuthorizeSecurityGroupIngress"
        ));
        assert!(undoes("DeleteBucketPolicy", "PutBucketPolicy"));
        assert!(undoes("AttachUserPolicy", "DetachUserPolicy"));
        assert!(!undoes("DeleteUser", "PutBucketPolicy"));
        assert!(wildcard("*terraform*", "my-Terraform-role"));
        assert!(wildcard("ci-*", "ci-deploy"));
        assert!(!wildcard("ci-*", "oci-deploy"));
    }
}
