//! The pickle emulator on arbitrary bytes: no panic, bounded work.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_modelscan::{globals::Globals, pickle};

fuzz_target!(|data: &[u8]| {
    let limits = pickle::Limits { max_ops: 1_000_000, ..pickle::Limits::default() };
    let s = pickle::scan_slice(data, &Globals::default(), &limits, None, 0);
    let _ = s.findings();
});
