//! The inventory's readers (package metadata, lock files, requirements, OSV records,
//! image layer tars with whiteouts, exposure and API-use scanners) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    parapet_inventory::fuzzing::all_parsers(data);
});
