//! The emulator's input (any `ReadAt`: a file, an archive member, a nested payload),
//! plus the text decodings protocol 0 uses.

use crate::blob::{Cursor, ReadAt};
use std::io;

/// Any random-access blob (a file on disk, an archive member, a nested payload) through
/// the shared buffered cursor; skipping is free, so tensor bytes after the pickles are
/// never read.
pub struct BlobSource<'a>(Cursor<'a>);

impl<'a> BlobSource<'a> {
    pub fn new(src: &'a dyn ReadAt, at: u64) -> Self {
        BlobSource(Cursor::new(src, at))
    }
}

/// `None` means the input ended first.
impl BlobSource<'_> {
    pub fn pos(&self) -> u64 {
        self.0.pos
    }
    pub fn remaining(&self) -> u64 {
        self.0.remaining()
    }
    pub fn byte(&mut self) -> io::Result<Option<u8>> {
        let b = self.0.window(1)?.first().copied();
        self.0.pos += u64::from(b.is_some());
        Ok(b)
    }
    /// Exactly `n` bytes, or `None` if the input ends first.
    pub fn take(&mut self, n: usize) -> io::Result<Option<Vec<u8>>> {
        if n as u64 > self.remaining() {
            self.0.pos += self.remaining();
            return Ok(None);
        }
        self.0
            .take(n)
            .map(|b| Some(b.to_vec()))
            .map_err(io::Error::other)
    }
    /// Skip `n` bytes without reading them; false if the input ends first.
    pub fn skip(&mut self, n: u64) -> io::Result<bool> {
        let ok = n <= self.remaining();
        self.0.pos += n.min(self.remaining());
        Ok(ok)
    }
    /// Bytes up to and including `\n` (at most `max`); `None` at end of input or when no
    /// newline comes within `max` bytes (the caller reports which).
    pub fn line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        while self.remaining() > 0 {
            let room = max - out.len();
            let w = self.0.window(1)?;
            let w = &w[..w.len().min(room)];
            if let Some(i) = w.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&w[..=i]);
                self.0.pos += i as u64 + 1;
                return Ok(Some(out));
            }
            let n = w.len();
            out.extend_from_slice(w);
            self.0.pos += n as u64;
            if out.len() >= max || n == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

/// Python's `codecs.escape_decode` (the STRING opcode's quoting), lossy on bad escapes.
pub fn escape_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' || i >= s.len() {
            out.push(c);
            continue;
        }
        let e = s[i];
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\n' => {}
            b'x' if i + 2 <= s.len() => match hex2(&s[i..i + 2]) {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.extend_from_slice(b"\\x"),
            },
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

fn hex2(h: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(h).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// Python's `raw-unicode-escape` decoding (the UNICODE opcode).
pub fn raw_unicode_escape(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() && matches!(s[i + 1], b'u' | b'U') {
            let n = if s[i + 1] == b'u' { 4 } else { 8 };
            if let Some(c) = s
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + n;
                continue;
            }
        }
        out.push(char::from(s[i]));
        i += 1;
    }
    out
}

/// Python's `int(text, 0)` for the INT/LONG/PUT/GET opcodes, within i64.
pub fn parse_int(text: &str) -> Option<Result<i64, ()>> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, body) = match digits.get(..2).map(|p| p.to_ascii_lowercase()) {
        Some(p) if p == "0x" => (16, &digits[2..]),
        Some(p) if p == "0o" => (8, &digits[2..]),
        Some(p) if p == "0b" => (2, &digits[2..]),
        _ => (10, digits),
    };
    let body = body.replace('_', "");
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i64::from_str_radix(&body, radix) {
        Ok(v) => Ok(if neg { -v } else { v }),
        Err(_) => Err(()), // a valid integer beyond i64
    })
}
