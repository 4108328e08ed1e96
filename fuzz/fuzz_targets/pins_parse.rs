//! Any text as a pins file: Ok or a located error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parapet_plan::parse_pins(text, "fuzz.toml");
    }
});
