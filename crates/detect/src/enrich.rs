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
//! | `parapet.viaActorType` | the kind of the identity that made the actor (as `actorType`) |
//! | `parapet.viaMinutes` | minutes since the actor was made (or its function changed) |
//! | `parapet.resource` | the resource a call names (`ec2:groupId=sg-1`), when it names one (the first of a list) |
//! | `parapet.resourceCount` | how many resources the call names (every name of a list-valued id: `GetParameters` `names`) |
//! | `parapet.revertsHumanChange` | automation undoing a human's recent change to the same resource |
//! | `parapet.readonlyRole` | the acting role is a read-only audit role (a scanner's), by the role's name |
//! | `parapet.desktopClient` | the user agent is the AWS CLI or an SDK on macOS or Windows |
//! | `parapet.unfamiliarSourceIp` | the address was first used by this identity (or its role) after its first calls |
//! | `parapet.serviceActing` | AWS made the call for the actor (`invokedBy`, or a service name as source address) |
//! | `parapet.cappedAdmin` | the role is one whose administration is reported at most at medium (SSO administrators) |

pub use crate::kinds::ActorKinds;
use crate::lineage::Lineage;
use crate::{Map, Set};
use parapet_trail::{Event, IdentityType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;

/// The `parapet.*` fields of one event, as rules read them: a slot per name in
/// `FIELDS`, rewritten in place for each event (no map, no new keys).
#[derive(Debug, Clone)]
pub struct Enriched {
    vals: [Value; FIELDS.len()],
}

const FIELDS: [&str; 19] = [
    "actor",
    "actorType",
    "lineage",
    "lineageDepth",
    "eventName",
    "effects",
    "newSourceIp",
    "newUserAgent",
    "revertsHumanChange",
    "via",
    "resource",
    "viaActorType",
    "viaMinutes",
    "readonlyRole",
    "desktopClient",
    "unfamiliarSourceIp",
    "serviceActing",
    "cappedAdmin",
    "resourceCount",
];
const ACTOR: usize = 0;
const ACTOR_TYPE: usize = 1;
const LINEAGE: usize = 2;
const DEPTH: usize = 3;
const EVENT_NAME: usize = 4;
const EFFECTS: usize = 5;
const NEW_IP: usize = 6;
const NEW_AGENT: usize = 7;
const REVERTS: usize = 8;
const VIA: usize = 9;
const RESOURCE: usize = 10;
const VIA_ACTOR_TYPE: usize = 11;
const VIA_MINUTES: usize = 12;
const READONLY_ROLE: usize = 13;
const DESKTOP: usize = 14;
const UNFAMILIAR_IP: usize = 15;
const SERVICE_ACTING: usize = 16;
const CAPPED_ADMIN: usize = 17;
const RESOURCE_COUNT: usize = 18;

impl Default for Enriched {
    fn default() -> Self {
        Enriched {
            vals: std::array::from_fn(|_| Value::Null),
        }
    }
}

impl Enriched {
    /// A field by its full name (`parapet.actor`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        let field = name.strip_prefix("parapet.")?;
        FIELDS
            .iter()
            .position(|f| *f == field)
            .map(|i| &self.vals[i])
    }

    pub fn actor_type(&self) -> &str {
        self.vals[ACTOR_TYPE].as_str().unwrap_or("unknown")
    }

    /// Whether alerts on this event are capped at medium: an administrator role
    /// working as usual, from an address its role has used before.
    pub fn capped(&self) -> bool {
        self.vals[CAPPED_ADMIN] == Value::Bool(true)
            && self.vals[UNFAMILIAR_IP] != Value::Bool(true)
    }

    /// Whether the call came from an address new or unfamiliar to the acting identity.
    pub fn from_new_place(&self) -> bool {
        self.vals[NEW_IP] == Value::Bool(true) || self.vals[UNFAMILIAR_IP] == Value::Bool(true)
    }

    /// The resource the call names (`bedrock:modelId=...`), when it names one.
    pub fn resource(&self) -> Option<&str> {
        self.vals[RESOURCE].as_str()
    }

    fn set_str(&mut self, i: usize, s: Option<&str>) {
        match (&mut self.vals[i], s) {
            (Value::String(old), Some(s)) => {
                old.clear();
                old.push_str(s);
            }
            (slot, Some(s)) => *slot = Value::String(s.to_owned()),
            (slot, None) => *slot = Value::Null,
        }
    }

    /// As an object, `{"parapet": {...}}` (keyword rules, tests).
    pub fn to_value(&self) -> Value {
        let inner: serde_json::Map<String, Value> = FIELDS
            .iter()
            .zip(&self.vals)
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        json!({ "parapet": inner })
    }
}

impl crate::sigma::Record for Enriched {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
    fn whole(&self) -> std::borrow::Cow<'_, Value> {
        std::borrow::Cow::Owned(self.to_value())
    }
}

/// Where each key has been used from, bounded per key.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct KeyHistory {
    events: u64,
    ips: Set<String>,
    agents: Set<String>,
    last_ms: i64,
    /// The actor's kind when last seen, as an index into `KINDS`: rules about what an
    /// identity made ask what made it (a pipeline's deploy, or a person's edit).
    #[serde(default)]
    kind: u8,
    /// Addresses first used after the warm-up: every later call from one of them is
    /// still from somewhere unfamiliar (bounded like `ips`).
    #[serde(default)]
    late_ips: Set<String>,
}

const KINDS: [&str; 4] = ["unknown", "human", "automation", "service"];

/// A human's recent write, remembered so automation undoing it can be seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HumanChange {
    resource: String,
    op: String,
    time_ms: i64,
}

/// What the actor table says about an actor with a user agent.
#[derive(Debug, Clone, Copy)]
struct ActorFacts {
    kind: &'static str,
    readonly_role: bool,
    desktop: bool,
    capped: bool,
}

/// Events a key must have before a new address counts as new.
const WARM_UP: u64 = 5;
const MAX_PER_KEY: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enricher {
    keys: Map<String, KeyHistory>,
    human: VecDeque<HumanChange>,
    #[serde(skip, default = "ActorKinds::builtin")]
    kinds: ActorKinds,
    #[serde(skip)]
    extra: Enriched,
    #[serde(skip)]
    kind_cache: Map<u64, ActorFacts>,
    #[serde(skip)]
    kind_hasher: foldhash::quality::RandomState,
    max_keys: usize,
    revert_window_ms: i64,
}

impl Enricher {
    pub fn new(kinds: ActorKinds) -> Self {
        Enricher {
            keys: Map::default(),
            human: VecDeque::new(),
            kinds,
            extra: Enriched::default(),
            kind_cache: Map::default(),
            kind_hasher: Default::default(),
            max_keys: 200_000,
            revert_window_ms: 24 * 3_600_000,
        }
    }

    /// Keep the actor table of `other` (a restored checkpoint does not carry one).
    pub fn take_kinds_from(&mut self, other: Enricher) {
        self.kinds = other.kinds;
        self.kind_cache.clear();
    }

    /// The `parapet.*` fields for one event, rewritten in place. `path` is the
    /// actor's lineage path.
    pub fn enrich(
        &mut self,
        e: &Event,
        lineage: &Lineage,
        path: &[String],
        effects: &[&str],
    ) -> &Enriched {
        let actor = &path[0];
        let ActorFacts {
            kind,
            readonly_role,
            desktop,
            capped,
        } = self.kind_of(e, actor);
        let (new_ip, new_agent, mut unfamiliar) = self.key_use(e, actor, kind);
        // A role's sessions share one history of addresses: a new session of the
        // same role from somewhere the role never called from is still unfamiliar.
        // Not for instance profiles: each new instance of a fleet has its own address.
        if let Some(role) = e
            .identity
            .issuer_arn
            .as_deref()
            .filter(|_| e.identity.kind == IdentityType::AssumedRole)
            .filter(|_| !e.identity.session_name.as_deref().is_some_and(instance_id))
        {
            let (_, _, role_unfamiliar) = self.key_use(e, &["role:", role].concat(), kind);
            unfamiliar |= role_unfamiliar;
        }
        let service_acting = service_acting(e);
        let (resource, resource_count) = match resource_of(e) {
            Some((r, n)) => (Some(r), n),
            None => (None, 0),
        };
        let reverts = self.reverts(e, kind, resource.as_deref());
        let x = &mut self.extra;
        x.set_str(ACTOR, Some(actor));
        x.set_str(ACTOR_TYPE, Some(kind));
        x.set_str(LINEAGE, Some(path.last().map_or("", String::as_str)));
        x.vals[DEPTH] = json!(path.len() - 1);
        x.set_str(EVENT_NAME, Some(&e.name));
        match &mut x.vals[EFFECTS] {
            Value::Array(list) if effects.is_empty() => list.clear(),
            slot => {
                *slot = effects
                    .iter()
                    .map(|x| Value::String(x.to_string()))
                    .collect()
            }
        }
        x.vals[NEW_IP] = Value::Bool(new_ip);
        x.vals[NEW_AGENT] = Value::Bool(new_agent);
        x.vals[REVERTS] = Value::Bool(reverts);
        let link = lineage.link_of(actor);
        x.set_str(VIA, link.map(|l| l.how.as_str()));
        x.set_str(
            VIA_ACTOR_TYPE,
            link.map(|l| {
                let k = self.keys.get(&l.parent).map_or(0, |h| h.kind);
                KINDS[usize::from(k)]
            }),
        );
        x.vals[VIA_MINUTES] = link.map_or(Value::Null, |l| {
            Value::from((e.time_ms - l.time_ms).max(0) / 60_000)
        });
        x.set_str(RESOURCE, resource.as_deref());
        x.vals[RESOURCE_COUNT] = Value::from(resource_count);
        x.vals[READONLY_ROLE] = Value::Bool(readonly_role);
        x.vals[DESKTOP] = Value::Bool(desktop);
        x.vals[UNFAMILIAR_IP] = Value::Bool(unfamiliar);
        x.vals[SERVICE_ACTING] = Value::Bool(service_acting);
        x.vals[CAPPED_ADMIN] = Value::Bool(capped);
        &self.extra
    }

    /// Actor kind and the facts read from its names and user agent, cached per actor
    /// and user agent (the patterns are many; the role's name is part of the actor).
    fn kind_of(&mut self, e: &Event, actor: &str) -> ActorFacts {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.kind_hasher.build_hasher();
        actor.hash(&mut h);
        e.user_agent.hash(&mut h);
        let key = h.finish();
        if let Some(k) = self.kind_cache.get(&key) {
            return *k;
        }
        let k = ActorFacts {
            kind: self.kinds.classify(e),
            readonly_role: self.kinds.readonly_role(e),
            desktop: self.kinds.desktop_client(e),
            capped: self.kinds.capped_admin(e),
        };
        if self.kind_cache.len() >= 100_000 {
            self.kind_cache.clear();
        }
        self.kind_cache.insert(key, k);
        k
    }

    fn key_use(&mut self, e: &Event, actor: &str, kind: &str) -> (bool, bool, bool) {
        if e.identity.kind == IdentityType::AwsService {
            return (false, false, false);
        }
        if !self.keys.contains_key(actor) {
            self.keys.insert(actor.to_string(), KeyHistory::default());
        }
        let h = self.keys.get_mut(actor).expect("inserted above");
        h.last_ms = h.last_ms.max(e.time_ms);
        h.events += 1;
        h.kind = KINDS.iter().position(|k| *k == kind).unwrap_or(0) as u8;
        let warm = h.events > WARM_UP;
        let fresh = |set: &mut Set<String>, v: &Option<String>| -> bool {
            let Some(v) = v else { return false };
            if set.contains(v) || set.len() >= MAX_PER_KEY {
                return false;
            }
            set.insert(v.clone());
            warm
        };
        let ip = fresh(&mut h.ips, &e.source_ip);
        let agent = fresh(&mut h.agents, &e.user_agent);
        // Only real addresses: a service name (`ecs-tasks.amazonaws.com`) or `AWS
        // Internal` as source is AWS calling, not a place.
        let address = e
            .source_ip
            .as_deref()
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok());
        if let (true, Some(a)) = (ip, address) {
            if h.late_ips.len() < MAX_PER_KEY {
                h.late_ips.insert(a.to_string());
            }
        }
        let unfamiliar = address.is_some_and(|a| h.late_ips.contains(a));
        (ip, agent, unfamiliar)
    }

    fn reverts(&mut self, e: &Event, kind: &str, resource: Option<&str>) -> bool {
        if e.read_only || e.error_code.is_some() {
            return false;
        }
        let Some(resource) = resource else {
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
                    resource: resource.to_string(),
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

/// Whether `s` is an EC2 instance id (`i-` and 8 or 17 hex digits): the session name
/// EC2 gives an instance profile's credentials.
fn instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether AWS made the call for the actor: a service principal in `invokedBy`, or a
/// service's name where the address would be. CloudTrail writes both; a caller
/// cannot (the user agent, which a caller picks, does not count).
fn service_acting(e: &Event) -> bool {
    let aws = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.ends_with(".amazonaws.com") || s == "aws internal"
    };
    e.identity.kind == IdentityType::AwsService
        || e.identity.invoked_by.as_deref().is_some_and(aws)
        || e.source_ip.as_deref().is_some_and(aws)
}

/// The resource a call names, by the id parameters the knowledge layer reads for a
/// call's target (`parapet_aws::api::ID_KEYS`, in its order), written as the record
/// spells the key: `rds:dBInstanceIdentifier=orders-db`; and how many it names (a
/// list-valued id, `names: [...]`, names each of its strings; the first is the resource).
fn resource_of(e: &Event) -> Option<(String, usize)> {
    if let Some(batch) = batch_read(e) {
        return Some(batch);
    }
    // One pass over the raw parameters (no `Value` built); the first id in `ID_KEYS`
    // order wins, the last of duplicate keys as JSON readers keep.
    let raw = e.record.raw("requestParameters")?;
    if !raw.starts_with('{') {
        return None;
    }
    let mut best: Option<(usize, std::borrow::Cow<'_, str>, &str)> = None;
    for (k, v) in parapet_trail::json::entries(raw) {
        let key = parapet_trail::json::decode_str(k)?;
        if let Some(i) = id_key_rank(&key) {
            let named = v.starts_with('"') || v.starts_with('[');
            if named && best.as_ref().is_none_or(|(b, _, _)| i <= *b) {
                best = Some((i, key, v));
            }
        }
    }
    let (_, key, v) = best?;
    let (first, count) = if v.starts_with('[') {
        // Rare (batch reads and deletes): parsed, every string counted.
        let list: Vec<Value> = serde_json::from_str(v).ok()?;
        let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        (
            std::borrow::Cow::Owned(names.first()?.to_string()),
            names.len(),
        )
    } else {
        (parapet_trail::json::decode_str(v)?, 1)
    };
    // `concat` over `format!`: a third of the cost, on most events.
    Some(([e.service.as_str(), ":", &key, "=", &first].concat(), count))
}

/// Batch reads of secrets name every secret in a list the fast pass does not read
/// (`names`, `secretIdList`): counted as the service models say (`api::ids`), so one
/// call reading ten secrets counts as ten.
fn batch_read(e: &Event) -> Option<(String, usize)> {
    let op = match (e.service.as_str(), e.name.as_str()) {
        ("ssm", "GetParameters") | ("secretsmanager", "BatchGetSecretValue") => e.name.as_str(),
        _ => return None,
    };
    let raw = e.record.raw("requestParameters")?;
    let params: Value = serde_json::from_str(raw).ok()?;
    let target = parapet_aws::api::ids::target(&e.service, op)?;
    let named = parapet_aws::api::ids::named(&e.service, target, parapet_aws::api::P::new(&params));
    let first = named.all.first()?;
    Some(([e.service.as_str(), ":", first].concat(), named.all.len()))
}

/// `key`'s place in `ID_KEYS`, ignoring case. Every parameter of every event asks, so
/// this is one lookup of the lowercased key rather than a comparison per id key.
fn id_key_rank(key: &str) -> Option<usize> {
    use parapet_aws::api::ID_KEYS;
    use std::sync::OnceLock;
    type Ranks = std::collections::HashMap<Vec<u8>, usize, foldhash::fast::FixedState>;
    static RANKS: OnceLock<Ranks> = OnceLock::new();
    const LONGEST: usize = 48;
    let ranks = RANKS.get_or_init(|| {
        let mut m = Ranks::default();
        for (i, id) in ID_KEYS.iter().enumerate().rev() {
            debug_assert!(id.len() <= LONGEST);
            m.insert(id.to_ascii_lowercase().into_bytes(), i);
        }
        m
    });
    let mut buf = [0u8; LONGEST];
    let lower = buf.get_mut(..key.len())?;
    lower.copy_from_slice(key.as_bytes());
    lower.make_ascii_lowercase();
    ranks.get(&*lower).copied()
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

    /// Each name reaches its own slot, and only `parapet.` names reach any.
    #[test]
    fn every_field_is_found_by_its_name() {
        let x = Enriched::default();
        for (i, f) in FIELDS.iter().enumerate() {
            let got = x.get(&format!("parapet.{f}")).unwrap();
            assert!(std::ptr::eq(got, &x.vals[i]), "{f}");
            assert!(x.get(f).is_none());
        }
        assert!(x.get("parapet.nope").is_none());
    }

    #[test]
    fn the_resource_a_call_names() {
        let ev = |params: &str| {
            Event::from_json(&format!(
                r#"{{"eventSource": "ec2.amazonaws.com", "eventName": "X", "eventTime": "2024-08-01T13:52:02Z", "requestParameters": {params}}}"#
            ))
            .unwrap()
        };
        // `ID_KEYS` order decides, not the order in the record; escapes are decoded.
        let e = ev(r#"{"name": "n", "nested": {"groupId": "no"}, "groupId": "sg-\u0031"}"#);
        assert_eq!(resource_of(&e), Some(("ec2:groupId=sg-1".to_string(), 1)));
        assert_eq!(resource_of(&ev(r#"{"name": 3}"#)), None);
        assert_eq!(resource_of(&ev("null")), None);
        assert_eq!(
            resource_of(&ev(r#"{"instanceIds": ["i-1", "i-2", 7, "i-3"]}"#)),
            Some(("ec2:instanceIds=i-1".to_string(), 3))
        );
        let batch = |source: &str, name: &str, params: &str| {
            Event::from_json(&format!(
                r#"{{"eventSource": "{source}", "eventName": "{name}", "eventTime": "2024-08-01T13:52:02Z", "requestParameters": {params}}}"#
            ))
            .unwrap()
        };
        let e = batch(
            "ssm.amazonaws.com",
            "GetParameters",
            r#"{"names": ["/a", "/b", "/c"], "withDecryption": true}"#,
        );
        assert_eq!(resource_of(&e).map(|r| r.1), Some(3));
        let e = batch(
            "secretsmanager.amazonaws.com",
            "BatchGetSecretValue",
            r#"{"secretIdList": ["a", "b", "c", "d", "e", "f"]}"#,
        );
        assert_eq!(resource_of(&e).map(|r| r.1), Some(6));
        let mut x = Enriched::default();
        x.set_str(ACTOR, Some("a"));
        x.set_str(ACTOR, Some("b"));
        assert_eq!(x.get("parapet.actor"), Some(&Value::from("b")));
        assert_eq!(x.get("parapet.nothing"), None);
        assert_eq!(x.to_value()["parapet"]["actor"], "b");
    }

    #[test]
    fn inverse_operations() {
        assert!(undoes(
            "RevokeSecurityGroupIngress",
            "AuthorizeSecurityGroupIngress"
        ));
        assert!(undoes("DeleteBucketPolicy", "PutBucketPolicy"));
        assert!(undoes("AttachUserPolicy", "DetachUserPolicy"));
        assert!(!undoes("DeleteUser", "PutBucketPolicy"));
    }
}
