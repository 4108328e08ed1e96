//! CloudTrail readers (gzip, Records, arrays, JSON lines, EventBridge, LookupEvents) and
//! the detector behind them on arbitrary bytes: records are read or skipped, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (events, _) = parapet_trail::read_all("fuzz", data);
    // Most inputs yield no record; building the detector (compiling the pack) for them
    // cost ~100 ms each and held the target to ~10 runs/s.
    if events.is_empty() {
        return;
    }
    let mut d = parapet_detect::Detector::new(parapet_detect::Config::builtin()).unwrap();
    for e in &events {
        d.process(e);
    }
});
