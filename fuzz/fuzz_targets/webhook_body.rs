//! PagerDuty and Opsgenie webhook bodies as the decision service reads them once the
//! signature or secret is checked (`ops::pagerduty_event`, `ops::opsgenie_event`):
//! an event or a 400, never a panic, whatever the JSON holds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let urgencies = ["high".to_string()];
    let priorities = ["P1".to_string(), "P2".to_string()];
    let _ = parapet_server::pagerduty_event(data, &urgencies);
    let _ = parapet_server::opsgenie_event(data, &priorities);
});
