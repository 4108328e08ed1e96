//! The MCP gateway's stdio framing (crates/mcp/src/gateway/frame.rs) on any bytes, fed
//! in pieces of any size: never a panic, never more frames than lines plus oversized
//! cut-offs, and the same frames whatever the split (byte 0 picks the piece size).
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_mcp::gateway::frame::{Frame, Splitter};

/// A comparable summary of each frame.
fn frames(bytes: &[u8], step: usize, max: usize) -> Vec<String> {
    let mut s = Splitter::new(max);
    let mut out = Vec::new();
    for mut piece in bytes.chunks(step.max(1)) {
        while !piece.is_empty() {
            let (used, frame) = s.push(piece);
            assert!(used > 0 && used <= piece.len(), "no progress");
            piece = &piece[used..];
            match frame {
                Some(Frame::Message(m)) => out.push(format!("m:{}", serde_json::to_string(&*m).unwrap())),
                Some(Frame::Reject(e, id)) => out.push(format!("r:{}:{id:?}", e.code.0)),
                Some(Frame::Skip) => out.push("s".into()),
                None => {}
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, bytes)) = data.split_first() else {
        return;
    };
    let max = 256;
    let whole = frames(bytes, bytes.len().max(1), max);
    let split = frames(bytes, usize::from(step), max);
    assert_eq!(whole, split, "the split changed what was read");
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    assert!(whole.len() <= lines + bytes.len() / max + 1);
});
