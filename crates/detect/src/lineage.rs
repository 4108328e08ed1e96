//! Identity lineage: who made which identity, as the log shows it.
//!
//! Nodes are identities as CloudTrail names them: `key:AKIA...`, `user:<arn>`,
//! `session:<assumed-role arn>`, `root:<account>`, services. An edge says "this
//! identity was made (or taken over) by that one":
//! - CreateAccessKey: creator -> the new key (and the key's user, if it is someone else's)
//! - CreateUser, CreateLoginProfile, UpdateLoginProfile: creator -> that user
//! - AssumeRole: caller -> the session it got
//! - Create/UpdateFunctionCode/UpdateFunctionConfiguration: modifier -> the function's
//!   role sessions that follow (Lambda names the session after the function)
//! - RunInstances with an instance profile: launcher -> the instance's role sessions
//!   (EC2 names the session after the instance id)
//!
//! Alerts on any identity of one lineage join one incident. State is bounded: nodes
//! unseen for the TTL are forgotten, and the map is capped.

use crate::Map;
use parapet_trail::{Event, IdentityType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub parent: String,
    /// What made the edge (`CreateAccessKey`...).
    pub how: String,
    pub event_id: String,
    pub time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Taint {
    by: String,
    how: String,
    event_id: String,
    time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lineage {
    links: Map<String, Link>,
    /// Access key -> the user it belongs to (read from the events that use it).
    key_user: Map<String, String>,
    /// User or session node -> `principal:<unique id>` (AIDA..., AROA...:name), read
    /// from the events it makes. Another account records a cross-account call by
    /// that id alone (an `AWSAccount` caller, no ARN), so the id is what both accounts'
    /// detectors can agree on (see [`Lineage::anchor`]).
    #[serde(default)]
    principals: Map<String, String>,
    /// Function name or instance id -> who changed or launched it.
    taints: Map<String, Taint>,
    seen: Map<String, i64>,
    ttl_ms: i64,
    max_nodes: usize,
}

impl Default for Lineage {
    fn default() -> Self {
        Lineage::new(7 * 86_400_000, 1_000_000)
    }
}

const MAX_DEPTH: usize = 32;

impl Lineage {
    pub fn new(ttl_ms: i64, max_nodes: usize) -> Self {
        Lineage {
            links: Map::default(),
            key_user: Map::default(),
            principals: Map::default(),
            taints: Map::default(),
            seen: Map::default(),
            ttl_ms,
            max_nodes,
        }
    }

    /// The node that acted in `e` (once per event: `concat`, not `format!`).
    pub fn actor(e: &Event) -> String {
        let id = &e.identity;
        match id.kind {
            IdentityType::AssumedRole => match &id.arn {
                Some(a) => ["session:", a].concat(),
                None => id.key(),
            },
            IdentityType::IamUser => match (&id.access_key_id, &id.arn) {
                (Some(k), _) if k.starts_with("AKIA") => ["key:", k].concat(),
                (_, Some(a)) => ["user:", a].concat(),
                _ => id.key(),
            },
            IdentityType::Root => [
                "root:",
                id.account_id.as_deref().unwrap_or("unknown-account"),
            ]
            .concat(),
            _ => id.key(),
        }
    }

    /// Learn from one event (edges it creates) and return the acting node.
    pub fn observe(&mut self, e: &Event) -> String {
        let actor = Self::actor(e);
        let id = &e.identity;
        if let (Some(k), Some(a)) = (&id.access_key_id, &id.arn) {
            if id.kind == IdentityType::IamUser
                && k.starts_with("AKIA")
                && !self.key_user.contains_key(k)
            {
                let user = format!("user:{a}");
                if let Some(p) = &id.principal_id {
                    self.principals
                        .entry(user.clone())
                        .or_insert_with(|| ["principal:", p].concat());
                }
                self.key_user.insert(k.clone(), user);
            }
        }
        // Checked only where the actor is the user or session itself (a key's user is
        // learned above, once per key): one lookup, no allocation once known.
        if let Some(p) = &id.principal_id {
            if (actor.starts_with("user:") || actor.starts_with("session:"))
                && !self.principals.contains_key(&actor)
            {
                self.principals
                    .insert(actor.clone(), ["principal:", p].concat());
            }
        }
        // A role session run by a changed function or a launched instance. Lambda names
        // every session of a function alike, so a newer change takes the session over:
        // a pipeline's deploy last week must not hide an attacker's code change today.
        if id.kind == IdentityType::AssumedRole && !self.taints.is_empty() {
            if let Some(t) = id.session_name.as_ref().and_then(|s| self.taints.get(s)) {
                let newer = self.links.get(&actor).is_none_or(|l| l.time_ms < t.time_ms);
                if newer && t.time_ms <= e.time_ms && t.by != actor {
                    let link = Link {
                        parent: t.by.clone(),
                        how: t.how.clone(),
                        event_id: t.event_id.clone(),
                        time_ms: t.time_ms,
                    };
                    self.link(&actor, link);
                }
            }
        }
        match self.seen.get_mut(&actor) {
            Some(t) => *t = (*t).max(e.time_ms),
            None => {
                self.seen.insert(actor.clone(), e.time_ms);
            }
        }
        if e.error_code.is_none() {
            self.edges(e, &actor);
        }
        actor
    }

    fn edges(&mut self, e: &Event, actor: &str) {
        // Parsed only by the arms that read them: most calls make no identity.
        let req = || e.get("requestParameters").unwrap_or(&Value::Null);
        let resp = || e.get("responseElements").unwrap_or(&Value::Null);
        let s = |v: &Value, path: &[&str]| -> Option<String> {
            let mut cur = v;
            for p in path {
                cur = cur.get(p)?;
            }
            cur.as_str().map(String::from)
        };
        let account = e
            .account
            .clone()
            .or_else(|| e.identity.account_id.clone())
            .unwrap_or_default();
        let link = |how: &str| Link {
            parent: actor.to_string(),
            how: how.to_string(),
            event_id: e.id.clone(),
            time_ms: e.time_ms,
        };
        let user_node = |name: &str| format!("user:arn:aws:iam::{account}:user/{name}");
        match (e.service.as_str(), e.name.as_str()) {
            ("iam", "CreateAccessKey") => {
                if let Some(k) = s(resp(), &["accessKey", "accessKeyId"]) {
                    self.link(&format!("key:{k}"), link("CreateAccessKey"));
                    if let Some(u) =
                        s(req(), &["userName"]).or_else(|| s(resp(), &["accessKey", "userName"]))
                    {
                        let node = user_node(&u);
                        self.key_user.insert(k, node.clone());
                        if node != actor && !self.is_own_user(actor, &node) {
                            self.link(&node, link("CreateAccessKey"));
                        }
                    }
                }
            }
            ("iam", "CreateUser") => {
                let node = s(resp(), &["user", "arn"])
                    .map(|a| format!("user:{a}"))
                    .or_else(|| s(req(), &["userName"]).map(|u| user_node(&u)));
                if let Some(n) = node {
                    self.link(&n, link("CreateUser"));
                }
            }
            ("iam", "CreateLoginProfile" | "UpdateLoginProfile") => {
                if let Some(u) = s(req(), &["userName"]) {
                    let node = user_node(&u);
                    if !self.is_own_user(actor, &node) {
                        self.link(&node, link(&e.name));
                    }
                }
            }
            ("sts", "AssumeRole" | "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML") => {
                if e.identity.kind == IdentityType::AwsService {
                    return;
                }
                if let Some(a) = s(resp(), &["assumedRoleUser", "arn"]) {
                    self.link(&format!("session:{a}"), link(&e.name));
                }
            }
            ("lambda", "CreateFunction" | "UpdateFunctionCode" | "UpdateFunctionConfiguration") => {
                if let Some(f) = s(req(), &["functionName"]) {
                    let name = f.rsplit(':').next().unwrap_or(&f).to_string();
                    self.taint(name, actor, e);
                }
            }
            ("ec2", "RunInstances") if req().get("iamInstanceProfile").is_some() => {
                let items = resp()
                    .get("instancesSet")
                    .and_then(|s| s.get("items"))
                    .and_then(Value::as_array);
                for i in items.into_iter().flatten() {
                    if let Some(id) = i.get("instanceId").and_then(Value::as_str) {
                        self.taint(id.to_string(), actor, e);
                    }
                }
            }
            _ => {}
        }
    }

    fn taint(&mut self, target: String, actor: &str, e: &Event) {
        self.taints.insert(
            target,
            Taint {
                by: actor.to_string(),
                how: format!("{} then ran as its role", e.name),
                event_id: e.id.clone(),
                time_ms: e.time_ms,
            },
        );
    }

    fn is_own_user(&self, actor: &str, user: &str) -> bool {
        actor == user || self.parent_of(actor).is_some_and(|p| p == user)
    }

    fn link(&mut self, child: &str, link: Link) {
        // Never make a cycle: the child must not already be an ancestor of the parent.
        if child == link.parent || self.path(&link.parent).iter().any(|n| n == child) {
            return;
        }
        self.seen.insert(child.to_string(), link.time_ms);
        self.links.insert(child.to_string(), link);
    }

    fn parent_of(&self, node: &str) -> Option<&str> {
        if let Some(l) = self.links.get(node) {
            return Some(&l.parent);
        }
        node.strip_prefix("key:")
            .and_then(|k| self.key_user.get(k))
            .map(String::as_str)
    }

    /// `node`, its parent, its parent's parent... up to the root.
    pub fn path(&self, node: &str) -> Vec<String> {
        let mut out = vec![node.to_string()];
        let mut cur = node;
        while let Some(p) = self.parent_of(cur) {
            if out.len() > MAX_DEPTH || out.iter().any(|n| n == p) {
                break;
            }
            out.push(p.to_string());
            cur = p;
        }
        out
    }

    pub fn root(&self, node: &str) -> String {
        self.path(node).pop().unwrap_or_default()
    }

    /// What names a lineage root the same way in every account's log: its unique
    /// principal id when known. An account that sees a cross-account call knows the
    /// caller only as `principal:<id>` (CloudTrail's `AWSAccount` identity), while the
    /// caller's own account knows it by ARN; both name the incident by the id, so
    /// detectors that see different accounts (workers of a cluster) give the lineage one
    /// incident id. None: the root is its own anchor.
    pub fn anchor(&self, root: &str) -> Option<&str> {
        self.principals.get(root).map(String::as_str)
    }

    /// The user an access key node (`key:AKIA...`) belongs to, when the log showed it.
    pub fn key_user(&self, node: &str) -> Option<&str> {
        node.strip_prefix("key:")
            .and_then(|k| self.key_user.get(k))
            .map(String::as_str)
    }

    /// Whether `node` was made (a key, a user, a login) or taken over (a changed
    /// function's or launched instance's role) by another identity within `within_ms`
    /// of `at_ms`; a role session someone assumed is not made (that is how roles work).
    pub fn made_recently(&self, node: &str, at_ms: i64, within_ms: i64) -> bool {
        self.links
            .get(node)
            .is_some_and(|l| !l.how.starts_with("AssumeRole") && at_ms - l.time_ms <= within_ms)
    }

    /// How `node` came to be, if the log showed it.
    pub fn link_of(&self, node: &str) -> Option<&Link> {
        self.links.get(node)
    }

    /// Forget what has not been seen for the TTL, and the oldest beyond the cap.
    pub fn evict(&mut self, now_ms: i64) {
        let horizon = now_ms - self.ttl_ms;
        self.seen.retain(|_, t| *t >= horizon);
        if self.seen.len() > self.max_nodes {
            let mut times: Vec<i64> = self.seen.values().copied().collect();
            times.sort_unstable();
            let cut = times[self.seen.len() - self.max_nodes];
            self.seen.retain(|_, t| *t >= cut);
        }
        let seen = &self.seen;
        self.links.retain(|k, _| seen.contains_key(k));
        self.taints.retain(|_, t| t.time_ms >= horizon);
        self.key_user
            .retain(|k, _| seen.contains_key(&format!("key:{k}")));
        let users: std::collections::HashSet<&String> = self.key_user.values().collect();
        self.principals
            .retain(|n, _| seen.contains_key(n) || users.contains(n));
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(t: i64, who: Value, name: &str, source: &str, req: Value, resp: Value) -> Event {
        Event::from_value(json!({
            "eventTime": parapet_model::time::rfc3339_ms(t), "eventSource": source,
            "eventName": name, "eventID": format!("e{t}"), "userIdentity": who,
            "requestParameters": req, "responseElements": resp, "recipientAccountId": "1",
        }))
        .unwrap()
    }

    fn user(k: &str, name: &str) -> Value {
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::1:user/{name}"), "accessKeyId": k, "userName": name, "accountId": "1"})
    }

    fn sess(role: &str, name: &str) -> Value {
        json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::1:assumed-role/{role}/{name}"), "accessKeyId": "ASIAX"})
    }

    #[test]
    fn assume_role_and_instance_profiles_link_sessions() {
        let mut l = Lineage::default();
        let a = user("AKIAA", "alice");
        l.observe(&ev(
            1,
            a.clone(),
            "AssumeRole",
            "sts.amazonaws.com",
            json!({}),
            json!({"assumedRoleUser": {"arn": "arn:aws:sts::1:assumed-role/ops/alice-s"}}),
        ));
        let s = l.observe(&ev(
            2,
            sess("ops", "alice-s"),
            "ListUsers",
            "iam.amazonaws.com",
            json!({}),
            json!({}),
        ));
        assert_eq!(
            l.path(&s),
            [
                "session:arn:aws:sts::1:assumed-role/ops/alice-s",
                "key:AKIAA",
                "user:arn:aws:iam::1:user/alice"
            ]
        );
        l.observe(&ev(
            3,
            sess("ops", "alice-s"),
            "RunInstances",
            "ec2.amazonaws.com",
            json!({"iamInstanceProfile": {"name": "web"}}),
            json!({"instancesSet": {"items": [{"instanceId": "i-0abc"}]}}),
        ));
        let inst = l.observe(&ev(
            4,
            sess("web-role", "i-0abc"),
            "GetObject",
            "s3.amazonaws.com",
            json!({}),
            json!({}),
        ));
        assert_eq!(l.root(&inst), "user:arn:aws:iam::1:user/alice");
        assert!(l.link_of(&inst).unwrap().how.contains("RunInstances"));
        // A session that was never made in view, or acted before the change, stays its own root.
        let other = l.observe(&ev(
            5,
            sess("web-role", "i-other"),
            "GetObject",
            "s3.amazonaws.com",
            json!({}),
            json!({}),
        ));
        assert_eq!(l.root(&other), other);
        // A login profile for someone else links them; failed calls link nothing.
        l.observe(&ev(
            6,
            a.clone(),
            "CreateLoginProfile",
            "iam.amazonaws.com",
            json!({"userName": "bob"}),
            json!({}),
        ));
        assert_eq!(
            l.root("user:arn:aws:iam::1:user/bob"),
            "user:arn:aws:iam::1:user/alice"
        );
        let mut failed = ev(
            7,
            a,
            "CreateUser",
            "iam.amazonaws.com",
            json!({"userName": "eve"}),
            json!({}),
        );
        failed.error_code = Some("AccessDenied".into());
        l.observe(&failed);
        assert!(l.link_of("user:arn:aws:iam::1:user/eve").is_none());
        // Eviction forgets what is old.
        l.evict(10 * 86_400_000);
        assert!(l.is_empty());
    }

    #[test]
    fn a_newer_function_change_takes_its_sessions_over() {
        let mut l = Lineage::default();
        let change = |t: i64, who: Value| {
            ev(
                t,
                who,
                "UpdateFunctionCode20150331v2",
                "lambda.amazonaws.com",
                json!({"functionName": "arn:aws:lambda:us-east-1:1:function:export"}),
                json!({}),
            )
        };
        let run = |t: i64| {
            ev(
                t,
                sess("export-role", "export"),
                "PutObject",
                "s3.amazonaws.com",
                json!({}),
                json!({}),
            )
        };
        l.observe(&change(1_000, user("AKIACI", "gha-deployer")));
        let s = l.observe(&run(2_000));
        assert_eq!(l.root(&s), "user:arn:aws:iam::1:user/gha-deployer");
        l.observe(&change(3_000, user("AKIAEVIL", "svc-reporting")));
        l.observe(&run(4_000));
        assert_eq!(l.root(&s), "user:arn:aws:iam::1:user/svc-reporting");
        assert_eq!(l.link_of(&s).unwrap().time_ms, 3_000);
        // Acting again under the same change keeps the link.
        l.observe(&run(5_000));
        assert_eq!(l.link_of(&s).unwrap().parent, "key:AKIAEVIL");
    }

    #[test]
    fn no_cycles() {
        let mut l = Lineage::default();
        l.observe(&ev(
            1,
            user("AKIAA", "a"),
            "CreateLoginProfile",
            "iam.amazonaws.com",
            json!({"userName": "b"}),
            json!({}),
        ));
        l.observe(&ev(
            2,
            user("AKIAB", "b"),
            "CreateLoginProfile",
            "iam.amazonaws.com",
            json!({"userName": "a"}),
            json!({}),
        ));
        assert_eq!(l.root("key:AKIAA"), "user:arn:aws:iam::1:user/a");
        assert!(l.path("key:AKIAB").len() <= 4);
    }
}
