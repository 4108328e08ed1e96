//! The proxy's connection tracker (crates/proxy/src/frame.rs, compiled here as is) on any
//! bytes, fed in pieces of any size: never a panic, never more heads than lines, and the
//! same heads whatever the split (byte 0 picks the piece size).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/proxy/src/frame.rs"]
#[allow(dead_code)]
mod frame;

fn heads(bytes: &[u8], step: usize) -> Vec<frame::HeadFacts> {
    let facts: frame::Facts = Default::default();
    let mut t = frame::Tracker::new(facts.clone(), 16 << 10, 64);
    for piece in bytes.chunks(step.max(1)) {
        t.feed(piece);
    }
    let out = facts.lock().unwrap().iter().cloned().collect();
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, bytes)) = data.split_first() else {
        return;
    };
    let whole = heads(bytes, bytes.len().max(1));
    let split = heads(bytes, usize::from(step));
    assert_eq!(whole, split, "the split changed what was seen");
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    assert!(whole.len() <= lines);
    for h in &whole {
        assert!(h.line_bytes <= h.head_bytes);
    }
});
