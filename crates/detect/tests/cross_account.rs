//! A lineage that crosses accounts: a leaked key of account A turns off A's trail and
//! assumes a role in account B, whose session makes a back-door administrator there.
//! CloudTrail records the AssumeRole in B with an `AWSAccount` caller (its principal id
//! and key, no ARN), so a detector that sees only B's records knows the caller by its
//! principal id, and one that sees only A's knows it by ARN. Both must name the incident
//! alike: `trail watch --partitions` detects each account on its own worker.

use parapet_detect::{Config, Detector};
use parapet_trail::{Event, Item, Limits};
use std::path::Path;

/// The records of one account (by `recipientAccountId`), in time order.
fn account(id: &str) -> Vec<Event> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cloudtrail/cross-account");
    let mut out = Vec::new();
    parapet_trail::read_path(&dir, Limits::default(), &mut |i| match i {
        Item::Event(e) if e.account.as_deref() == Some(id) => out.push(*e),
        Item::Event(_) => {}
        Item::Skipped { at, reason } => panic!("{at}: {reason}"),
    });
    out.sort_by_key(|e| e.time_ms);
    out
}

/// Account A's records: the leaked key stops A's trail and asks for B's role.
fn account_a() -> Vec<Event> {
    account("111111111111")
}

/// Account B's records: the same AssumeRole as B records it (an `AWSAccount` caller),
/// then the session makes a user, makes it administrator and gives it a key.
fn account_b() -> Vec<Event> {
    account("222222222222")
}

fn incident_ids(events: &[Event]) -> Vec<String> {
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut ids = Vec::new();
    for e in events {
        for a in d.process(e) {
            ids.push(a.incident.expect("every alert joins an incident"));
        }
    }
    ids
}

#[test]
fn a_lineage_across_accounts_has_one_incident_id_whoever_detects_each_account() {
    let in_a = incident_ids(&account_a());
    let in_b = incident_ids(&account_b());
    assert!(!in_a.is_empty(), "stopping the trail raised nothing in A");
    assert!(
        !in_b.is_empty(),
        "the back-door administrator raised nothing in B"
    );
    let mut all: Vec<&String> = in_a.iter().chain(&in_b).collect();
    all.dedup();
    assert_eq!(all.len(), 1, "A: {in_a:?}, B: {in_b:?}");

    // One detector seeing both accounts agrees.
    let mut both = account_a();
    both.extend(account_b());
    both.sort_by_key(|e| e.time_ms);
    let together = incident_ids(&both);
    assert!(
        together.iter().all(|i| i == all[0]),
        "{together:?} vs {}",
        all[0]
    );
}

#[test]
fn the_incident_id_survives_a_checkpoint() {
    let dir = std::env::temp_dir().join(format!("parapet-xacct-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cp.json");
    let mut d = Detector::new(Config::builtin()).unwrap();
    let a = account_a();
    d.process(&a[0]);
    d.save(&path).unwrap();
    let mut restored = Detector::new(Config::builtin()).unwrap();
    restored.restore(&path).unwrap();
    let later: Vec<String> = account_b()
        .iter()
        .flat_map(|e| restored.process(e))
        .filter_map(|a| a.incident)
        .collect();
    let in_a = incident_ids(&account_a());
    assert!(!later.is_empty());
    assert!(later.iter().all(|i| *i == in_a[0]), "{later:?} vs {in_a:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
