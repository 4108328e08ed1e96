//! A detector saved after any event and restored goes on to raise exactly what one that
//! never stopped raises: a worker of `trail watch --partitions` that takes over a
//! partition picks up from the last save, wherever in an attack it fell.

use parapet_detect::{Config, Detector};
use parapet_trail::{Item, Limits};
use std::collections::BTreeSet;
use std::path::Path;

fn key(a: &parapet_detect::Alert) -> String {
    format!(
        "{} {:?} {} {}",
        a.rule_id, a.event_ids, a.first_ms, a.last_ms
    )
}

#[test]
fn a_restored_detector_raises_what_one_that_never_stopped_raises() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/trail/takeover");
    let mut events = Vec::new();
    parapet_trail::read_path(&dir, Limits::default(), &mut |i| {
        if let Item::Event(e) = i {
            events.push(*e);
        }
    });
    events.sort_by_key(|e| e.time_ms);
    let mut straight = Detector::new(Config::builtin()).unwrap();
    let want: BTreeSet<String> = events
        .iter()
        .flat_map(|e| straight.process(e))
        .map(|a| key(&a))
        .collect();
    let tmp = std::env::temp_dir().join(format!("parapet-restore-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cp = tmp.join("cp.json");
    for cut in (0..events.len()).step_by(3) {
        let mut first = Detector::new(Config::builtin()).unwrap();
        let mut got: BTreeSet<String> = events[..cut]
            .iter()
            .flat_map(|e| first.process(e))
            .map(|a| key(&a))
            .collect();
        first.save(&cp).unwrap();
        let mut second = Detector::new(Config::builtin()).unwrap();
        second.restore(&cp).unwrap();
        got.extend(
            events[cut..]
                .iter()
                .flat_map(|e| second.process(e))
                .map(|a| key(&a)),
        );
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "restored after event {cut}: missing {missing:?}, extra {extra:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
