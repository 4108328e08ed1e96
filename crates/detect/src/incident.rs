//! Alerts of one lineage become one incident, with the attack's phases in the order
//! they were reached.

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
}

/// Cap on alerts kept per incident (the count goes on).
const MAX_ALERTS: usize = 1_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Incidents {
    by_root: Map<String, Incident>,
    /// When several roots merge (a lineage learned late), alerts follow the survivor.
    alias: BTreeMap<String, String>,
    pub total_alerts: u64,
}

impl Incidents {
    /// Join `alert` to its lineage's incident; returns the incident id. `anchor` names
    /// the root as every account's log can (see [`crate::Lineage::anchor`]): the
    /// incident's id is made from it, so one lineage has one id across detectors.
    pub fn add(&mut self, alert: &Alert, anchor: Option<&str>) -> String {
        self.total_alerts += 1;
        let root = alert
            .lineage
            .last()
            .cloned()
            .unwrap_or_else(|| alert.actor.clone());
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
    }
}

fn push(inc: &mut Incident, a: Alert) {
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
    match inc.phases.iter_mut().find(|(p, _)| *p == phase) {
        Some((_, t)) if a.first_time < *t => *t = a.first_time.clone(),
        Some(_) => {}
        None => inc.phases.push((phase, a.first_time.clone())),
    }
    let rank = |p: &str| PHASES.iter().position(|x| *x == p).unwrap_or(PHASES.len());
    inc.phases
        .sort_by(|a, b| (rank(&a.0), &a.1).cmp(&(rank(&b.0), &b.1)));
    add_all(&mut inc.actors, std::slice::from_ref(&a.actor), 1_000);
    add_all(&mut inc.attack, &a.attack, 1_000);
    add_all(&mut inc.atlas, &a.atlas, 1_000);
    add_all(&mut inc.rules, std::slice::from_ref(&a.rule_id), 1_000);
    // Evidence is capped (the alerts keep their own); the newest ids are usually in the
    // last alert, so only those are checked for duplicates.
    add_all(&mut inc.event_ids, &a.event_ids, MAX_EVIDENCE);
    if inc.alerts.len() < MAX_ALERTS {
        let at = inc.alerts.partition_point(|x| x.first_ms <= a.first_ms);
        inc.alerts.insert(at, a);
    }
}

const MAX_EVIDENCE: usize = 1_000;

fn add_all(into: &mut Vec<String>, items: &[String], cap: usize) {
    for i in items {
        if into.len() < cap && !into.contains(i) {
            into.push(i.clone());
        }
    }
}
