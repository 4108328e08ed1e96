//! Any bytes into the plan analyser: must return Ok or Err, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parapet_plan::analyze(data, &parapet_plan::Options::default());
});
