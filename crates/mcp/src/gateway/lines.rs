//! Newline-delimited JSON with a size limit, for both sides of the gateway. A line over
//! the limit is not kept, but it is not forgotten either: while its bytes stream past, a
//! small scanner reads the top-level `id` and whether it has a `method`, so the request
//! (or the answer) it carried can still be answered with an error instead of leaving
//! someone waiting until a timeout.

use rmcp::model::RequestId;

/// What one line is.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A whole line within the limit (without its newline).
    Whole(Vec<u8>),
    /// A line over the limit: its length and its envelope as far as it could be read.
    Oversized { len: usize, envelope: Envelope },
}

/// The top-level members of an oversized message that say what it was.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Envelope {
    pub id: Option<RequestId>,
    /// A `method` member: a request (with an id) or a notification, not an answer.
    pub has_method: bool,
}

/// Longest id value read (ids are short; a longer one is not trusted).
const MAX_ID: usize = 256;

/// Reads the top-level `id` and `method` keys of a JSON object streamed byte by byte,
/// in any split, in constant memory.
#[derive(Debug, Default)]
struct EnvelopeScanner {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// The key being read (first bytes only) and whether it is being read.
    key: Vec<u8>,
    reading_key: bool,
    /// The last key read at depth 1, waiting for its value.
    pending: Option<Vec<u8>>,
    /// The raw bytes of the `id` value while it is read.
    id_value: Option<Vec<u8>>,
    envelope: Envelope,
    seen_id: bool,
}

impl EnvelopeScanner {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(v) = self.id_value.as_mut() {
            v.push(b);
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.reading_key {
                    self.reading_key = false;
                    self.pending = Some(std::mem::take(&mut self.key));
                }
                return;
            }
            if self.reading_key && self.key.len() < 8 {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.expect_key = false;
                    self.reading_key = true;
                    self.key.clear();
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = b == b'{';
                }
            }
            b':' if self.depth == 1 => {
                if let Some(key) = self.pending.take() {
                    match key.as_slice() {
                        b"id" if !self.seen_id => {
                            self.seen_id = true;
                            self.id_value = Some(Vec::new());
                        }
                        b"method" => self.envelope.has_method = true,
                        _ => {}
                    }
                }
            }
            b',' | b'}' | b']' => {
                if self.depth == 1 {
                    self.end_id();
                    self.expect_key = b == b',';
                }
                if b != b',' {
                    self.depth = self.depth.saturating_sub(1);
                }
            }
            _ => {}
        }
        if self.id_value.as_ref().is_some_and(|v| v.len() > MAX_ID) {
            self.id_value = None;
        }
    }

    /// The `id` value ended (at a `,` or `}` of depth 1): read it as JSON-RPC does.
    fn end_id(&mut self) {
        if let Some(mut raw) = self.id_value.take() {
            raw.pop(); // the delimiter
            self.envelope.id = serde_json::from_slice::<RequestId>(&raw).ok();
        }
    }

    fn finish(&mut self) -> Envelope {
        let envelope = std::mem::take(&mut self.envelope);
        *self = EnvelopeScanner::default();
        envelope
    }
}

/// Splits a byte stream into lines of at most `max` bytes. Pure: the I/O side feeds it
/// whatever it has read (and the fuzz target any split).
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
    /// Inside an oversized line: its length so far; its bytes only go to the scanner.
    oversized: Option<usize>,
    scanner: EnvelopeScanner,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            max,
            oversized: None,
            scanner: EnvelopeScanner::default(),
        }
    }

    /// Take bytes from `chunk`: how many were used, and the line they completed. Call
    /// again with the rest while it returns a line.
    pub fn push(&mut self, chunk: &[u8]) -> (usize, Option<Line>) {
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.map_or(chunk.len(), |i| i + 1);
        let body = &chunk[..newline.unwrap_or(chunk.len())];
        if self.oversized.is_none() && self.buf.len() + body.len() > self.max {
            // Over the limit: what was kept goes to the scanner, and so will the rest.
            self.scanner.feed(&self.buf);
            self.oversized = Some(self.buf.len());
            self.buf = Vec::new();
        }
        if let Some(len) = self.oversized.as_mut() {
            *len += body.len();
            self.scanner.feed(body);
            if newline.is_none() {
                return (take, None);
            }
            let len = *len;
            self.oversized = None;
            let envelope = self.scanner.finish();
            return (take, Some(Line::Oversized { len, envelope }));
        }
        self.buf.extend_from_slice(body);
        if newline.is_none() {
            return (take, None);
        }
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        (take, Some(Line::Whole(line)))
    }
}

/// Reads lines from a byte stream; cancel-safe (the one await is `fill_buf`, a partial
/// line stays in the splitter). `from` names the other side in the log.
pub struct LineReader<R> {
    read: tokio::io::BufReader<R>,
    split: LineSplitter,
    from: &'static str,
}

impl<R: tokio::io::AsyncRead + Unpin> LineReader<R> {
    pub fn new(read: R, max: usize, from: &'static str) -> Self {
        LineReader {
            read: tokio::io::BufReader::new(read),
            split: LineSplitter::new(max),
            from,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_capacity(capacity: usize, read: R, max: usize) -> Self {
        LineReader {
            read: tokio::io::BufReader::with_capacity(capacity, read),
            split: LineSplitter::new(max),
            from: "test",
        }
    }

    /// The next line, or None at end of input or on a read error.
    pub async fn next(&mut self) -> Option<Line> {
        use tokio::io::AsyncBufReadExt;
        loop {
            let chunk = match self.read.fill_buf().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, from = self.from, "reading failed");
                    return None;
                }
            };
            if chunk.is_empty() {
                return None;
            }
            let (used, line) = self.split.push(chunk);
            self.read.consume(used);
            if line.is_some() {
                return line;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(s: &str) -> Envelope {
        let mut sc = EnvelopeScanner::default();
        sc.feed(s.as_bytes());
        sc.finish()
    }

    #[test]
    fn the_id_is_read_wherever_it_is() {
        let e = envelope(r#"{"jsonrpc":"2.0","id":7,"result":{"id":9,"x":[1,{"id":3}]}}"#);
        assert_eq!(e.id, Some(RequestId::Number(7)));
        assert!(!e.has_method);
        let e = envelope(r#"{"result":{"id":"no","s":"}\"id\":1"},"jsonrpc":"2.0","id":"a-1"}"#);
        assert_eq!(e.id, Some(RequestId::String("a-1".into())));
        let e = envelope(r#"{ "method" : "tools/call", "params":{}, "id" : 12 }"#);
        assert_eq!(e.id, Some(RequestId::Number(12)));
        assert!(e.has_method);
        let e =
            envelope(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"id":1}}"#);
        assert_eq!(e.id, None);
        assert!(e.has_method);
        assert_eq!(envelope(r#"[{"id":1}]"#).id, None);
        assert_eq!(envelope(r#"{"id":{"x":1},"y":2}"#).id, None);
    }

    #[test]
    fn an_oversized_line_is_reported_at_its_end_with_its_id() {
        let mut s = LineSplitter::new(40);
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"result\":{{\"pad\":\"{}\"}},\"id\":5}}\n{{\"id\":6}}\n",
            "x".repeat(100)
        );
        let mut rest = line.as_bytes();
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (used, l) = s.push(&rest[..rest.len().min(7)]);
            rest = &rest[used..];
            out.extend(l);
        }
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[0], Line::Oversized { len, envelope } if *len > 100 && envelope.id == Some(RequestId::Number(5)))
        );
        assert_eq!(out[1], Line::Whole(b"{\"id\":6}".to_vec()));
    }
}
