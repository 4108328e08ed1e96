//! Output formats: JSON lines (`parapet.trail/v1`), OCSF 1.3 Detection Finding (alerts)
//! and Incident Finding (incidents), and a readable incident timeline.

use crate::incident::Incident;
use crate::sigma::Level;
use crate::{Alert, Stats};
use serde_json::{json, Value};

pub const SCHEMA: &str = "parapet.trail/v1";

pub fn alert_json(a: &Alert) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), json!("alert"));
        m.insert("schema".into(), json!(SCHEMA));
    }
    v
}

pub fn incident_json(i: &Incident) -> Value {
    json!({
        "type": "incident",
        "schema": SCHEMA,
        "id": i.id,
        "root": i.root,
        "level": i.level,
        "first_time": i.first_time,
        "last_time": i.last_time,
        "phases": i.phases.iter().map(|(p, t)| json!({"phase": p, "first_time": t})).collect::<Vec<_>>(),
        "actors": i.actors,
        "attack": i.attack,
        "atlas": i.atlas,
        "rules": i.rules,
        "event_ids": i.event_ids,
        "alerts": i.alerts.len(),
        "sources": i.sources,
        "key_users": i.key_users,
        "activity_total": i.activity_total,
        "activity": i.activity.iter().map(|a| json!({"time": a.time, "actor": a.actor,
            "action": a.action, "source_ip": a.source_ip, "event_id": a.event_id})).collect::<Vec<_>>(),
    })
}

fn severity_id(l: Level) -> (u8, &'static str) {
    match l {
        Level::Informational => (1, "Informational"),
        Level::Low => (2, "Low"),
        Level::Medium => (3, "Medium"),
        Level::High => (4, "High"),
        Level::Critical => (5, "Critical"),
    }
}

fn metadata(uid: &str) -> Value {
    json!({
        "version": "1.3.0",
        "uid": uid,
        "product": {"name": "parapet", "vendor_name": "parapet", "version": env!("CARGO_PKG_VERSION")},
        "labels": ["cloudtrail"],
    })
}

fn attacks(techniques: &[String], tactics: &[String]) -> Vec<Value> {
    let mut out: Vec<Value> = techniques
        .iter()
        .map(|t| json!({"technique": {"uid": t}, "version": "19"}))
        .collect();
    out.extend(
        tactics
            .iter()
            .map(|t| json!({"tactic": {"name": t}, "version": "19"})),
    );
    out
}

/// OCSF Detection Finding (class 2004) for one alert.
pub fn alert_ocsf(a: &Alert) -> Value {
    let (sev, sev_name) = severity_id(a.level);
    let uid = format!(
        "{}:{}",
        a.rule_id,
        a.event_ids.first().map(String::as_str).unwrap_or("")
    );
    let (service, operation) = a.action.split_once(':').unwrap_or(("", &a.action));
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": a.last_ms,
        "severity_id": sev,
        "severity": sev_name,
        "status_id": 1,
        "status": "New",
        "message": a.title,
        "finding_info": {
            "uid": uid,
            "title": a.title,
            "desc": a.explanation.join(" "),
            "types": [a.phase.clone().unwrap_or_else(|| "other".into())],
            "first_seen_time": a.first_ms,
            "last_seen_time": a.last_ms,
            "analytic": {"uid": a.rule_id, "name": a.title, "type_id": 1, "type": "Rule"},
            "attacks": attacks(&a.attack, &a.tactics),
            "related_events": a.event_ids.iter().map(|id| json!({"uid": id})).collect::<Vec<_>>(),
        },
        "actor": {"user": {"uid": a.actor, "type": a.actor_type}},
        "api": {"operation": operation, "service": {"name": service}},
        "src_endpoint": {"ip": a.source_ip},
        "cloud": {"provider": "AWS"},
        "metadata": metadata(&uid),
        "unmapped": {
            "lineage": a.lineage,
            "incident": a.incident,
            "atlas": a.atlas,
            "count": a.count,
            "rule_file": a.rule_file,
            "rule_author": a.rule_author,
        },
    })
}

/// OCSF Incident Finding (class 2005) for one incident.
pub fn incident_ocsf(i: &Incident) -> Value {
    let (sev, sev_name) = severity_id(i.level);
    let tactics: Vec<String> = {
        let mut t: Vec<String> = i.alerts.iter().flat_map(|a| a.tactics.clone()).collect();
        t.sort();
        t.dedup();
        t
    };
    json!({
        "class_uid": 2005,
        "class_name": "Incident Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200501,
        "type_name": "Incident Finding: Create",
        "time": i.last_ms,
        "start_time": i.first_ms,
        "end_time": i.last_ms,
        "severity_id": sev,
        "severity": sev_name,
        "status_id": 1,
        "status": "New",
        "desc": format!("Activity of one identity lineage rooted at {}: {}", i.root,
            i.phases.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(" -> ")),
        "finding_info_list": i.alerts.iter().take(100).map(|a| json!({
            "uid": format!("{}:{}", a.rule_id, a.event_ids.first().map(String::as_str).unwrap_or("")),
            "title": a.title,
            "analytic": {"uid": a.rule_id, "name": a.title, "type_id": 1, "type": "Rule"},
        })).collect::<Vec<_>>(),
        "attacks": attacks(&i.attack, &tactics),
        "metadata": metadata(&i.id),
        "unmapped": {"root": i.root, "actors": i.actors, "atlas": i.atlas, "event_ids": i.event_ids,
            "sources": i.sources, "activity_total": i.activity_total,
            "phases": i.phases.iter().map(|(p, t)| json!({"phase": p, "first_time": t})).collect::<Vec<_>>()},
    })
}

fn hms(t: &str) -> &str {
    t.get(11..19).unwrap_or(t)
}

fn duration(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Short names for identity nodes in a terminal.
pub fn short(node: &str) -> String {
    let (kind, rest) = node.split_once(':').unwrap_or(("", node));
    let tail = rest.rsplit(['/', ':']).next().unwrap_or(rest);
    match kind {
        "key" => format!("key {rest}"),
        "user" => format!("user {tail}"),
        "session" => {
            let mut parts = rest.rsplit('/');
            let session = parts.next().unwrap_or("");
            let role = parts.next().unwrap_or("");
            format!("role {role} (session {session})")
        }
        "root" => format!("root of {rest}"),
        _ => node.to_string(),
    }
}

/// A node as a responder reads it: a key with its user when the incident knows it.
fn named(i: &Incident, node: &str) -> String {
    match i.key_users.get(node) {
        Some(user) => format!("{} ({})", short(node), short(user)),
        None => short(node),
    }
}

/// One line of a timeline. Values in it come from the log (names, resources, user
/// agents): a control character in one must not start a line of its own.
fn line(s: &mut String, text: String) {
    s.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
    s.push('\n');
}

/// The incident as a terminal timeline: the lineage said once, then alerts and the
/// attacker's other calls in time order.
pub fn timeline(i: &Incident) -> String {
    let mut text = String::new();
    let s = &mut text;
    line(
        s,
        format!(
            "{}  {}  {} -> {} ({})",
            i.id,
            i.level.as_str().to_uppercase(),
            i.first_time,
            hms(&i.last_time),
            duration(i.last_ms - i.first_ms)
        ),
    );
    line(
        s,
        format!(
            "  started by {}; {} identit{} in its lineage acted; {} alert{}, {} event{}",
            short(&i.root),
            i.actors.len(),
            if i.actors.len() == 1 { "y" } else { "ies" },
            i.alerts.len(),
            if i.alerts.len() == 1 { "" } else { "s" },
            i.event_ids.len(),
            if i.event_ids.len() == 1 { "" } else { "s" },
        ),
    );
    // Each chain once: the alerts' lineages, root first, leaving out any that another
    // extends.
    let mut chains: Vec<Vec<&str>> = Vec::new();
    for a in &i.alerts {
        let chain: Vec<&str> = a.lineage.iter().rev().map(String::as_str).collect();
        if chain.len() < 2 || chains.iter().any(|c| c.starts_with(&chain)) {
            continue;
        }
        chains.retain(|c| !chain.starts_with(c));
        chains.push(chain);
    }
    for c in chains.iter().take(5) {
        // A key right after its own user needs no second name.
        let named: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(k, n)| match k.checked_sub(1).map(|p| c[p]) {
                Some(prev) if i.key_users.get(*n).is_some_and(|u| u == prev) => short(n),
                _ => named(i, n),
            })
            .collect();
        line(s, format!("  lineage: {}", named.join(" -> ")));
    }
    if !i.sources.is_empty() {
        line(
            s,
            format!("  attacker's addresses: {}", i.sources.join(", ")),
        );
    }
    line(
        s,
        format!(
            "  phases: {}",
            i.phases
                .iter()
                .map(|(p, t)| format!("{p} {}", hms(t)))
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
    );
    if !i.attack.is_empty() || !i.atlas.is_empty() {
        let mut ids = i.attack.clone();
        ids.extend(i.atlas.iter().cloned());
        line(s, format!("  ATT&CK/ATLAS: {}", ids.join(", ")));
    }
    // One line per rule and actor: repeats are counted, not listed.
    let mut seen: Vec<(&str, &str, usize, &Alert)> = Vec::new();
    for a in &i.alerts {
        match seen
            .iter_mut()
            .find(|(r, act, _, _)| *r == a.rule_id && *act == a.actor)
        {
            Some(entry) => entry.2 += 1,
            None => seen.push((&a.rule_id, &a.actor, 1, a)),
        }
    }
    let mut activity: Vec<&crate::Activity> = i.activity.iter().collect();
    activity.sort_by_key(|a| a.time_ms);
    let mut calls = activity.as_slice();
    for (_, _, times, a) in seen {
        let before = calls.partition_point(|c| c.time_ms < a.first_ms);
        quiet_calls(s, i, &calls[..before]);
        calls = &calls[before..];
        let count = match (a.count, times) {
            (Some(c), _) => format!(" [{c} in window]"),
            (None, 1) => String::new(),
            (None, n) => format!(" (x{n})"),
        };
        line(
            s,
            format!(
                "  {}  {:<17} {:<8} {}{}",
                hms(&a.first_time),
                a.phase.as_deref().unwrap_or("other"),
                a.level.as_str(),
                a.title,
                count
            ),
        );
        line(
            s,
            format!("            by {}  {}", named(i, &a.actor), a.action),
        );
        for e in a.explanation.iter().take(3) {
            line(s, format!("            {e}"));
        }
        if a.explanation.is_empty() {
            if let Some(r) = &a.resource {
                line(s, format!("            on {r}"));
            }
        }
    }
    quiet_calls(s, i, calls);
    if i.activity_total > i.activity.len() as u64 {
        line(
            s,
            format!(
                "  ... and {} more calls from the attacker's addresses",
                i.activity_total - i.activity.len() as u64
            ),
        );
    }
    text
}

/// The attacker's calls that raised no alert, one line per run of calls by one actor.
fn quiet_calls(s: &mut String, i: &Incident, calls: &[&crate::Activity]) {
    for run in calls.chunk_by(|a, b| a.actor == b.actor) {
        let mut actions: Vec<(&str, usize)> = Vec::new();
        for c in run {
            match actions.iter_mut().find(|(a, _)| *a == c.action) {
                Some(e) => e.1 += 1,
                None => actions.push((&c.action, 1)),
            }
        }
        let listed: Vec<String> = actions
            .iter()
            .take(8)
            .map(|(a, n)| {
                if *n > 1 {
                    format!("{a} (x{n})")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let more = actions.len().saturating_sub(8);
        line(
            s,
            format!(
                "  {}  {:<17} {:<8} {} call{} without an alert",
                hms(&run[0].time),
                "activity",
                "-",
                run.len(),
                if run.len() == 1 { "" } else { "s" }
            ),
        );
        line(
            s,
            format!(
                "            by {} from {}  {}{}",
                named(i, &run[0].actor),
                run[0].source_ip,
                listed.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        );
    }
}

/// The last line of a scan.
pub fn summary(stats: &Stats, skipped: u64, incidents: usize) -> String {
    format!(
        "{} events, {} alerts, {} incident{}; {} unreadable record{} skipped; {} late event{}",
        stats.events,
        stats.alerts,
        incidents,
        if incidents == 1 { "" } else { "s" },
        skipped,
        if skipped == 1 { "" } else { "s" },
        stats.late_events,
        if stats.late_events == 1 { "" } else { "s" },
    )
}

#[cfg(test)]
mod timeline_tests {
    #[test]
    fn a_value_from_the_log_cannot_start_a_line() {
        let mut s = String::new();
        super::line(
            &mut s,
            format!("  by {}", "user x\n  10:00:00  critical FORGED"),
        );
        assert_eq!(s, "  by user x?  10:00:00  critical FORGED\n");
    }
}
