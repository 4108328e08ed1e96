//! Correlations fire whatever the arrival order within the lateness, without a reorder
//! buffer (as `trail watch` detects: in arrival order). A late event can complete a
//! window that holds events on both sides of it; two routers delivering neighbouring
//! batches side by side produce exactly that. Found by the three-worker watch test,
//! where the five-call Bedrock probe went unreported when two batches swapped.

use parapet_detect::{Config, Detector};
use parapet_trail::{Event, Item, Limits};
use std::collections::BTreeSet;
use std::path::Path;

fn takeover() -> Vec<Event> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/trail/takeover");
    let mut events = Vec::new();
    parapet_trail::read_path(&dir, Limits::default(), &mut |i| {
        if let Item::Event(e) = i {
            events.push(*e);
        }
    });
    events.sort_by_key(|e| e.time_ms);
    events
}

fn correlations<'a>(order: impl IntoIterator<Item = &'a Event>) -> BTreeSet<String> {
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut rules = BTreeSet::new();
    for e in order {
        for a in d.process(e) {
            if a.kind == "correlation" {
                rules.insert(a.rule_id);
            }
        }
    }
    rules
}

/// The takeover's correlations grouped by what each event names by itself (the actor,
/// the resource). Those grouped by lineage root depend on the order identities were
/// made in, which only a reorder buffer restores (`trail scan` has one).
const ORDER_FREE: [&str; 5] = [
    "parapet-bedrock-probe",
    "parapet-secrets-harvest",
    "parapet-recon-burst",
    "parapet-denied-storm",
    "parapet-automation-delete-recreate",
];

fn order_free<'a>(order: impl IntoIterator<Item = &'a Event>) -> BTreeSet<String> {
    let mut c = correlations(order);
    c.retain(|r| ORDER_FREE.contains(&r.as_str()));
    c
}

#[test]
fn swapping_neighbouring_batches_loses_no_correlation() {
    let events = takeover();
    let want = order_free(&events);
    assert_eq!(want.len(), ORDER_FREE.len(), "{want:?}");
    for size in [3, 7, 16] {
        let batches: Vec<&[Event]> = events.chunks(size).collect();
        for i in 0..batches.len() - 1 {
            let mut order = batches.clone();
            order.swap(i, i + 1);
            let got = order_free(order.into_iter().flatten());
            assert_eq!(got, want, "batches of {size}, {i} and {} swapped", i + 1);
        }
    }
}

#[test]
fn a_burst_delivered_newest_first_still_fires() {
    // Twelve events from the start of the model probing, reversed: each arrives older
    // than the one before, all well within the lateness (15 minutes).
    let events = takeover();
    let want = order_free(&events);
    let cut = events
        .iter()
        .position(|e| e.name == "PutUseCaseForModelAccess")
        .unwrap();
    let end = (cut + 12).min(events.len());
    let mut order: Vec<&Event> = events[..cut].iter().collect();
    order.extend(events[cut..end].iter().rev());
    order.extend(&events[end..]);
    assert_eq!(order_free(order), want);
}
