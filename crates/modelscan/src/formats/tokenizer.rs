//! Tokenizer files that share model extensions (`tokenizer.model`).

use super::protobuf;
use crate::blob::ReadAt;

/// Tokenizer files that share model extensions (`tokenizer.model`): a SentencePiece
/// protobuf (every top-level field one of its five) or tiktoken's BPE ranks (lines of
/// base64 and a rank). Neither can run code.
pub fn identify(blob: &dyn ReadAt, head: &[u8]) -> Option<&'static str> {
    if head.first() == Some(&0x0a) && blob.len() <= 64 << 20 {
        let data = blob.bytes_at(0, blob.len() as usize).ok()?;
        let fields = protobuf::fields(&data).ok()?;
        let ok =
            fields.iter().any(|(n, _)| *n == 1) && fields.iter().all(|(n, _)| (1..=5).contains(n));
        return ok.then_some("sentencepiece");
    }
    let text = std::str::from_utf8(head).ok().or_else(|| {
        // a cut in the middle of the last line
        let cut = head.iter().rposition(|&b| b == b'\n')?;
        std::str::from_utf8(&head[..cut]).ok()
    })?;
    let mut lines = text.lines().filter(|l| !l.is_empty()).peekable();
    lines.peek()?;
    let rank = |l: &str| {
        l.split_once(' ').is_some_and(|(tok, n)| {
            !tok.is_empty()
                && tok
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        })
    };
    let whole: Vec<&str> = lines.collect();
    let check = if whole.len() > 1 && head.len() == 4096 {
        &whole[..whole.len() - 1]
    } else {
        &whole[..]
    };
    (!check.is_empty() && check.iter().all(|l| rank(l))).then_some("tiktoken")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentencepiece_and_tiktoken() {
        // ModelProto { pieces: [{piece: "a", score: 0.0}] }
        let sp = b"\x0a\x08\x0a\x01a\x15\x00\x00\x00\x00".to_vec();
        assert_eq!(identify(&sp, &sp), Some("sentencepiece"));
        let tk = b"IQ== 0\nIg== 1\nIw== 2\n".to_vec();
        assert_eq!(identify(&tk, &tk), Some("tiktoken"));
        for other in [
            &b"class Foo:\n    pass\n"[..],
            b"\x0a\x07junk",
            b"",
            b"\x00\x01",
        ] {
            assert_eq!(identify(&other, other), None, "{other:?}");
        }
    }
}
