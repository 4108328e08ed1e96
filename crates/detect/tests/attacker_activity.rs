//! Issue 22 (7): an incident holds what the attacker did. Once a high alert shows where
//! the attacker works from, every later call of the lineage's identities from there
//! joins the incident (alert or not); the same identities' calls from their usual
//! addresses stay out; two lineages attacked from one such address are one incident.

mod calls;

use calls::*;
use parapet_detect::{Config, Detector, Incident};
use parapet_trail::{Event, Item, Limits};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;

fn run(events: &[Event]) -> Detector {
    let mut d = Detector::new(Config::builtin()).unwrap();
    for e in events {
        d.process(e);
    }
    d
}

/// Every event id an incident holds: its evidence, its alerts' and its activity's.
fn held(i: &Incident) -> HashSet<String> {
    let mut ids: HashSet<String> = i.event_ids.iter().cloned().collect();
    ids.extend(i.alerts.iter().flat_map(|a| a.event_ids.iter().cloned()));
    ids.extend(i.activity.iter().map(|a| a.event_id.clone()));
    ids
}

#[test]
fn the_takeover_incident_holds_the_attackers_calls_and_not_the_users_own() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/trail/takeover");
    let mut evs = Vec::new();
    parapet_trail::read_path(&dir, Limits::default(), &mut |i| {
        if let Item::Event(e) = i {
            evs.push(*e);
        }
    });
    evs.sort_by_key(|e| e.time_ms);
    let d = run(&evs);
    let attack = d
        .incidents()
        .into_iter()
        .find(|i| i.root.ends_with("user/svc-reporting"))
        .unwrap();
    let ids = held(attack);
    // The attacker's calls: the leaked key's and every identity it made, from the
    // attacker's address, and the hijacked function's role from Lambda's.
    let attacker: Vec<&Event> = evs
        .iter()
        .filter(|e| matches!(e.source_ip.as_deref(), Some("185.220.101.47" | "3.91.12.7")))
        .collect();
    let missing: Vec<String> = attacker
        .iter()
        .filter(|e| !ids.contains(&e.id))
        .map(|e| format!("{} {}", e.time_rfc3339(), e.name))
        .collect();
    assert!(missing.is_empty(), "not in the incident: {missing:?}");
    assert_eq!(attack.sources, ["185.220.101.47", "3.91.12.7"]);
    // The service account's own reports, from its usual address, are not the attack.
    let own: Vec<&Event> = evs
        .iter()
        .filter(|e| {
            e.source_ip.as_deref() == Some("203.0.113.10")
                && e.time_rfc3339().as_str() > "2026-11-02T10:07:00Z"
        })
        .collect();
    assert!(own.len() > 20);
    assert!(
        own.iter()
            .all(|e| !attack.activity.iter().any(|a| a.event_id == e.id)),
        "the user's own calls joined the incident"
    );
    // Quiet calls are named in the timeline, with the key's user.
    let t = parapet_detect::output::timeline(attack);
    assert!(t.contains("calls without an alert"), "{t}");
    assert!(
        t.contains("key AKIAHBY5RW3LIE5CHDMW (user backup-svc)"),
        "{t}"
    );
    assert_eq!(t.matches("  lineage: ").count(), 1, "{t}");
}

fn person(name: &str, n: u32) -> Value {
    json!({"type": "IAMUser", "principalId": format!("AIDA{n:0>17}"),
           "arn": format!("arn:aws:iam::111122223333:user/{name}"), "accountId": "111122223333",
           "accessKeyId": format!("AKIA{n:0>16}"), "userName": name})
}

/// A person's usual week (from `home`), then their key from `from`: an administrator
/// grant (a high alert) and a quiet listing, then the person again from home.
fn stolen(who: &Value, at: i64, home: &str, from: &str) -> Vec<Value> {
    let ip = |a: &str| json!({"sourceIPAddress": a, "userAgent": "aws-cli/2.15.0"});
    let mut out: Vec<Value> = (0..8)
        .map(|i| {
            event(
                at + i,
                who,
                "s3.amazonaws.com",
                "ListBuckets",
                json!({}),
                ip(home),
            )
        })
        .collect();
    let admin = json!({"userName": "svc-shadow", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    out.push(event(
        at + 100,
        who,
        "iam.amazonaws.com",
        "AttachUserPolicy",
        admin,
        ip(from),
    ));
    out.push(event(
        at + 101,
        who,
        "ec2.amazonaws.com",
        "DescribeRegions",
        json!({}),
        ip(from),
    ));
    out.push(event(
        at + 102,
        who,
        "s3.amazonaws.com",
        "ListBuckets",
        json!({}),
        ip(home),
    ));
    out
}

#[test]
fn lineages_attacked_from_one_address_are_one_incident() {
    let (al, bo, ca) = (person("al", 1), person("bobby", 2), person("carol-x", 3));
    let mut records = stolen(&al, 0, "203.0.113.20", "45.33.1.1");
    records.extend(stolen(&bo, 1_000, "198.51.100.30", "45.33.1.1"));
    // The look-alike: another stolen key, from somewhere else.
    records.extend(stolen(&ca, 2_000, "192.0.2.40", "45.33.2.2"));
    let evs: Vec<Event> = records
        .into_iter()
        .map(|v| Event::from_value(v).unwrap())
        .collect();
    let d = run(&evs);
    let incidents = d.incidents();
    assert_eq!(
        incidents.len(),
        2,
        "{:#?}",
        incidents
            .iter()
            .map(|i| (&i.id, &i.root, &i.sources))
            .collect::<Vec<_>>()
    );
    let one = incidents
        .iter()
        .find(|i| i.sources == ["45.33.1.1"])
        .unwrap();
    let roots: HashSet<&str> = one
        .alerts
        .iter()
        .map(|a| a.lineage.last().unwrap().as_str())
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    let other = incidents
        .iter()
        .find(|i| i.sources == ["45.33.2.2"])
        .unwrap();
    assert!(other.root.ends_with("user/carol-x"));
    // Each quiet call from the attacker's address joined; the people's own did not.
    for (inc, quiet) in [
        (one, vec!["t-000101", "t-001101"]),
        (other, vec!["t-002101"]),
    ] {
        let activity: Vec<&str> = inc.activity.iter().map(|a| a.event_id.as_str()).collect();
        assert_eq!(activity.len(), quiet.len(), "{activity:?}");
        for q in quiet {
            assert!(activity.contains(&q), "{q} not in {activity:?}");
        }
    }
}
