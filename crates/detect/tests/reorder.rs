//! Held by event time, released by the watermark: for any arrival order whose disorder
//! is within the lateness, the detector sees what a full sort gives it, and raises the
//! same alerts and incidents.

use parapet_detect::reorder::Reorder;
use parapet_detect::{Config, Detector};
use parapet_trail::{Event, Item, Limits};
use proptest::prelude::*;
use std::path::Path;

const LATENESS: i64 = 15 * 60_000;

/// The bundled takeover (three incidents, the attack's files written late) and every
/// Stratus Red Team detonation moved into the same morning: real records, many alerts.
fn events() -> Vec<Event> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    parapet_trail::read_path(
        &root.join("demo/trail/takeover"),
        Limits::default(),
        &mut |i| {
            if let Item::Event(e) = i {
                out.push(*e);
            }
        },
    );
    let start = out.iter().map(|e| e.time_ms).min().unwrap();
    let mut stratus = Vec::new();
    parapet_trail::read_path(
        &root.join("testdata/cloudtrail/stratus"),
        Limits::default(),
        &mut |i| {
            if let Item::Event(e) = i {
                stratus.push(*e);
            }
        },
    );
    for (k, mut e) in stratus.into_iter().enumerate() {
        e.time_ms = start + k as i64 * 17_000;
        out.push(e);
    }
    out
}

/// What the detector raised, alert by alert, and the incidents it ended with.
fn detect(order: impl IntoIterator<Item = Event>) -> (Vec<String>, Vec<String>) {
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut alerts = Vec::new();
    for e in order {
        for a in d.process(&e) {
            alerts.push(format!(
                "{} {} {:?} {:?}",
                a.rule_id, a.last_ms, a.event_ids, a.incident
            ));
        }
    }
    let incidents = d
        .incidents()
        .iter()
        .map(|i| format!("{} {:?} {:?} {}", i.id, i.level, i.phases, i.alerts.len()))
        .collect();
    (alerts, incidents)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Each event arrives up to the lateness after it happened (files written late,
    /// listed out of order), so none is ever more than the lateness older than the
    /// newest arrived. Through the reorder buffer, the detector gets the arrivals fully
    /// sorted by time (ties in arrival order): same alerts, same incidents.
    #[test]
    fn within_lateness_alerts_are_those_of_a_full_sort(
        seed in proptest::collection::vec(0..=LATENESS, 1..64),
    ) {
        let all = events();
        let delay = |i: usize| seed[i % seed.len()].wrapping_mul(i as i64 + 1) % (LATENESS + 1);
        let mut arrival: Vec<(i64, usize)> = all
            .iter()
            .enumerate()
            .map(|(i, e)| (e.time_ms + delay(i), i))
            .collect();
        arrival.sort();
        let arrived: Vec<Event> = arrival.iter().map(|&(_, i)| all[i].clone()).collect();

        let mut sorted = arrived.clone();
        sorted.sort_by_key(|e| e.time_ms);

        let mut released = Vec::new();
        let mut r = Reorder::new(LATENESS, usize::MAX);
        for e in arrived {
            r.push(Box::new(e), &mut |e| released.push(*e));
        }
        r.flush(&mut |e| released.push(*e));
        prop_assert_eq!((r.late(), r.early()), (0, 0));
        let ids = |v: &[Event]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        prop_assert_eq!(ids(&released), ids(&sorted));

        let (got, want) = (detect(released), detect(sorted));
        prop_assert!(!want.0.is_empty() && want.1.len() >= 3, "{want:?}");
        prop_assert_eq!(got, want);
    }
}
