//! The whole model scanner on arbitrary bytes under model-like names: identification,
//! every decompressor (with a small cap, so bombs are cheap), prefixed zips, archives
//! in archives. A report or nothing, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_modelscan::{scan_blob, Options};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        max_member: 4 << 20,
        time_budget: std::time::Duration::from_secs(5),
        ..Options::default()
    };
    for name in ["model.pkl", "model.bin.gz", "notes.txt"] {
        if let Some(r) = scan_blob(&data, name, name, &opts) {
            // unknown is never clean
            assert!(r.unknown.is_empty() || r.verdict != parapet_modelscan::Verdict::Clean);
        }
    }
});
