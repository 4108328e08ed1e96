//! Alerts of one lineage become one incident, with the attack's phases in the order
//! they were reached.
//!
//! An incident also holds what the attacker did without raising an alert: once a high
//! alert shows where the attacker works from (an address new to the acting identity,
//! or one used by an identity the lineage made), every later call of the lineage's
//! identities from that address joins the incident as activity, while the same
//! identities' calls from their usual addresses stay out. Two lineages whose high alerts
//! come from one such address are one attacker: the younger incident merges into the
//! older (alerts already written keep the id they were written with).

use crate::sigma::Level;
use crate::Alert;
use crate::Map;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The 8-minute-takeover chain, in order; other phases sort after these.
pub const PHASES: [&str; 14] = [
    "initial-access",
    "recon",
    "lambda-hijack",
    "admin-persistence",
    "secrets",
    "execution",
    "lateral-movement",
    "compute-hijack",
    "llmjacking",
    "exfil-share",
    "impact",
    "defense-evasion",
    "automation",
    "other",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The identity every actor of this incident descends from.
    pub root: String,
    pub level: Level,
    pub first_time: String,
    pub last_time: String,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Phases reached, in chain order, with when each was first seen.
    pub phases: Vec<(String, String)>,
    pub actors: Vec<String>,
    pub attack: Vec<String>,
    pub atlas: Vec<String>,
    pub rules: Vec<String>,
    pub event_ids: Vec<String>,
    pub alerts: Vec<Alert>,
    /// Addresses the attacker acted from (see the module documentation).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Calls of the lineage's identities from those addresses that raised no alert,
    /// in arrival order (capped; `activity_total` counts on).
    #[serde(default)]
    pub activity: Vec<Activity>,
    #[serde(default)]
    pub activity_total: u64,
    /// Access key node -> the user it belongs to, for the keys this incident names.
    #[serde(default)]
    pub key_users: BTreeMap<String, String>,
}

/// One call the attacker made that raised no alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    pub time: String,
    pub time_ms: i64,
    pub event_id: String,
    pub actor: String,
    /// `service:EventName`.
    pub action: String,
    pub source_ip: String,
}

/// Caps on what one incident keeps beyond its alerts.
const MAX_ACTIVITY: usize = 10_000;
const MAX_SOURCES: usize = 64;

/// Cap on alerts kept per incident (the count goes on).
const MAX_ALERTS: usize = 1_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Incidents {
    by_root: Map<String, Incident>,
    /// When several roots merge (a lineage learned late), alerts follow the survivor.
    alias: BTreeMap<String, String>,
    pub total_alerts: u64,
    /// Attacker address -> the root of the incident it belongs to.
    #[serde(default)]
    source_root: BTreeMap<String, String>,
    /// Root -> the root whose incident it merged into (same attacker).
    #[serde(default)]
    merged: BTreeMap<String, String>,
}

impl Incidents {
    /// Join `alert` to its lineage's incident; returns the incident id. `anchor` names
    /// the root as every account's log can (see [`crate::Lineage::anchor`]): the
    /// incident's id is made from it, so one lineage has one id across detectors.
    pub fn add(&mut self, alert: &Alert, anchor: Option<&str>) -> String {
        self.total_alerts += 1;
        let root = self.resolve(
            alert
                .lineage
                .last()
                .map_or(alert.actor.as_str(), String::as_str),
        );
        // Any earlier incident of an identity now known to be in this lineage merges in.
        for node in &alert.lineage[..alert.lineage.len().saturating_sub(1)] {
            if let Some(old) = self.by_root.remove(node) {
                let into = self
                    .by_root
                    .entry(root.clone())
                    .or_insert_with(|| empty(&root, anchor));
                for a in old.alerts {
                    push(into, a);
                }
                self.alias.insert(old.id, into.id.clone());
            }
        }
        let inc = self
            .by_root
            .entry(root.clone())
            .or_insert_with(|| empty(&root, anchor));
        let mut a = alert.clone();
        a.incident = Some(inc.id.clone());
        push(inc, a);
        inc.id.clone()
    }

    /// The root whose incident now stands for `root` (itself unless merged).
    fn resolve(&self, root: &str) -> String {
        let mut cur = root;
        for _ in 0..16 {
            match self.merged.get(cur) {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur.to_string()
    }

    /// `ip` is where the attacker of `root`'s incident acts from. Already the address
    /// of another incident: the two are one attacker, and the younger merges into the
    /// older.
    pub fn add_source(&mut self, root: &str, ip: &str) {
        let root = self.resolve(root);
        if !self.by_root.contains_key(&root) {
            return;
        }
        if let Some(other) = self.source_root.get(ip).map(|r| self.resolve(r)) {
            if other != root && self.by_root.contains_key(&other) {
                let (keep, gone) = if self.by_root[&other].first_ms <= self.by_root[&root].first_ms
                {
                    (other, root)
                } else {
                    (root, other)
                };
                self.merge(&gone, &keep);
            }
            return;
        }
        let inc = self.by_root.get_mut(&root).expect("checked above");
        if inc.sources.len() < MAX_SOURCES {
            inc.sources.push(ip.to_string());
            self.source_root.insert(ip.to_string(), root);
        }
    }

    fn merge(&mut self, gone: &str, keep: &str) {
        let Some(old) = self.by_root.remove(gone) else {
            return;
        };
        self.merged.insert(gone.to_string(), keep.to_string());
        for r in self.source_root.values_mut() {
            if r == gone {
                *r = keep.to_string();
            }
        }
        let into = self
            .by_root
            .get_mut(keep)
            .expect("merged into a live incident");
        self.alias.insert(old.id.clone(), into.id.clone());
        for a in old.alerts {
            push(into, a);
        }
        for ip in old.sources {
            if into.sources.len() < MAX_SOURCES && !into.sources.contains(&ip) {
                into.sources.push(ip);
            }
        }
        into.key_users.extend(old.key_users);
        into.activity_total += old.activity_total;
        for a in old.activity {
            if into.activity.len() < MAX_ACTIVITY {
                into.activity.push(a);
            }
        }
        into.activity.sort_by_key(|a| a.time_ms);
    }

    /// A call of `root`'s lineage by `actor` that raised no alert: activity of the
    /// incident when it came from one of the attacker's addresses.
    pub fn witness(&mut self, root: &str, actor: &str, e: &parapet_trail::Event) {
        if self.source_root.is_empty() {
            return;
        }
        let Some(ip) = e.source_ip.as_deref() else {
            return;
        };
        let Some(held_by) = self.source_root.get(ip) else {
            return;
        };
        let root = self.resolve(root);
        if *held_by != root {
            return;
        }
        let Some(inc) = self.by_root.get_mut(&root) else {
            return;
        };
        inc.activity_total += 1;
        if inc.activity.len() < MAX_ACTIVITY {
            inc.activity.push(Activity {
                time: e.time_rfc3339(),
                time_ms: e.time_ms,
                event_id: e.id.clone(),
                actor: actor.to_string(),
                action: format!("{}:{}", e.service, e.name),
                source_ip: ip.to_string(),
            });
            if inc.event_ids.len() < MAX_EVIDENCE {
                inc.event_ids.push(e.id.clone());
            }
        }
        if e.time_ms > inc.last_ms {
            inc.last_ms = e.time_ms;
            inc.last_time = e.time_rfc3339();
        }
        if !inc.actors.iter().any(|a| a == actor) && inc.actors.len() < 1_000 {
            inc.actors.push(actor.to_string());
        }
    }

    /// Name `key` (a `key:AKIA...` node of `root`'s incident) with its user.
    pub fn name_key(&mut self, root: &str, key: &str, user: &str) {
        let root = self.resolve(root);
        if let Some(inc) = self.by_root.get_mut(&root) {
            if inc.key_users.len() < 1_000 {
                inc.key_users
                    .entry(key.to_string())
                    .or_insert_with(|| user.to_string());
            }
        }
    }

    pub fn all(&self) -> Vec<&Incident> {
        let mut v: Vec<&Incident> = self.by_root.values().collect();
        v.sort_by(|a, b| (a.first_ms, &a.id).cmp(&(b.first_ms, &b.id)));
        v
    }

    pub fn len(&self) -> usize {
        self.by_root.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_root.is_empty()
    }

    /// Forget incidents quiet for the TTL (they were reported when they happened).
    pub fn evict(&mut self, now_ms: i64, ttl_ms: i64) {
        self.by_root.retain(|_, i| i.last_ms >= now_ms - ttl_ms);
        let live = &self.by_root;
        self.source_root.retain(|_, r| live.contains_key(r));
        self.merged.retain(|_, r| live.contains_key(r));
    }
}

fn empty(root: &str, anchor: Option<&str>) -> Incident {
    // A stable id from the root: the same lineage gets the same id in every run, and in
    // every detector that knows the root's anchor.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in anchor.unwrap_or(root).bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Incident {
        id: format!("INC-{:08x}", h >> 32),
        root: root.to_string(),
        level: Level::Informational,
        first_time: String::new(),
        last_time: String::new(),
        first_ms: i64::MAX,
        last_ms: i64::MIN,
        phases: Vec::new(),
        actors: Vec::new(),
        attack: Vec::new(),
        atlas: Vec::new(),
        rules: Vec::new(),
        event_ids: Vec::new(),
        alerts: Vec::new(),
        sources: Vec::new(),
        activity: Vec::new(),
        activity_total: 0,
        key_users: BTreeMap::new(),
    }
}

fn push(inc: &mut Incident, a: Alert) {
    // Calls a correlation window took in are its alert's now, not quiet activity.
    if a.event_ids.len() > 1 && !inc.activity.is_empty() {
        let before = inc.activity.len();
        inc.activity.retain(|x| {
            x.time_ms < a.first_ms || x.time_ms > a.last_ms || !a.event_ids.contains(&x.event_id)
        });
        inc.activity_total -= (before - inc.activity.len()) as u64;
    }
    inc.level = inc.level.max(a.level);
    if a.first_ms < inc.first_ms {
        inc.first_ms = a.first_ms;
        inc.first_time = a.first_time.clone();
    }
    if a.last_ms > inc.last_ms {
        inc.last_ms = a.last_ms;
        inc.last_time = a.last_time.clone();
    }
    let phase = a.phase.clone().unwrap_or_else(|| "other".into());
    // A phase is reached when its alert fires: a window's last event, not its first
    // (a burst of recon opens on the identity's own calls before the attacker's).
    let reached = if a.kind == "correlation" {
        &a.last_time
    } else {
        &a.first_time
    };
    match inc.phases.iter_mut().find(|(p, _)| *p == phase) {
        Some((_, t)) if reached < t => *t = reached.clone(),
        Some(_) => {}
        None => inc.phases.push((phase, reached.clone())),
    }
    // In the order they were reached; the chain's order breaks ties.
    let rank = |p: &str| PHASES.iter().position(|x| *x == p).unwrap_or(PHASES.len());
    inc.phases
        .sort_by(|a, b| (&a.1, rank(&a.0)).cmp(&(&b.1, rank(&b.0))));
    add_all(&mut inc.actors, std::slice::from_ref(&a.actor), 1_000);
    add_all(&mut inc.attack, &a.attack, 1_000);
    add_all(&mut inc.atlas, &a.atlas, 1_000);
    add_all(&mut inc.rules, std::slice::from_ref(&a.rule_id), 1_000);
    // Evidence is capped (the alerts keep their own); the newest ids are usually in the
    // last alert, so only those are checked for duplicates.
    for id in &a.event_ids {
        let recent = &inc.event_ids[inc.event_ids.len().saturating_sub(256)..];
        if inc.event_ids.len() < MAX_EVIDENCE && !recent.contains(id) {
            inc.event_ids.push(id.clone());
        }
    }
    if inc.alerts.len() < MAX_ALERTS {
        let at = inc.alerts.partition_point(|x| x.first_ms <= a.first_ms);
        inc.alerts.insert(at, a);
    }
}

const MAX_EVIDENCE: usize = 10_000;

fn add_all(into: &mut Vec<String>, items: &[String], cap: usize) {
    for i in items {
        if into.len() < cap && !into.contains(i) {
            into.push(i.clone());
        }
    }
}
