//! The lenient zip and tar readers and member extraction on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_modelscan::container::{tar, zip};

fuzz_target!(|data: &[u8]| {
    let a = zip::read(&data, 1000);
    for e in &a.entries {
        let _ = zip::extract(&data, e, 1 << 20);
    }
    let _ = tar::read(&data, 1000);
});
