//! What hyper does not tell a handler about a request head: its size and whether it
//! carried both `Content-Length` and `Transfer-Encoding`. hyper accepts that pair (it
//! drops the length and closes the connection afterwards, as RFC 9112 allows), but a
//! request framed two ways is how request smuggling starts, so the proxy refuses it.
//!
//! [`Tracker`] reads a connection's bytes as they arrive, with the same parser hyper
//! uses (httparse), follows each request's body framing (length or chunked) to find
//! the next head, and queues one [`HeadFacts`] per head, in order: the handler of the
//! n-th request on a connection takes the n-th entry. When it cannot follow the
//! stream (a head it cannot parse, a chunk line too long) it stops queueing, and
//! every later request on that connection finds no entry and is refused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What one request head looked like on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadFacts {
    /// Request line plus header lines, with their line ends.
    pub head_bytes: usize,
    /// The request line alone.
    pub line_bytes: usize,
    pub headers: usize,
    /// Both `Content-Length` and `Transfer-Encoding`.
    pub conflicting_length: bool,
}

/// The queue a connection's tracker fills and its handlers drain.
pub type Facts = Arc<Mutex<VecDeque<HeadFacts>>>;

/// A chunk-size line or a trailer line longer than this loses the stream.
const MAX_LINE: usize = 8 << 10;

#[derive(Debug)]
enum State {
    Head,
    /// A body of known length: this many bytes still to skip.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Inside chunk data: this many bytes still to skip, then CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data (bytes of it seen).
    ChunkEnd,
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers,
    /// The stream could not be followed: nothing more is queued.
    Lost,
}

pub struct Tracker {
    state: State,
    buf: Vec<u8>,
    facts: Facts,
    /// A head longer than this cannot be complete for hyper either.
    max_head: usize,
    max_headers: usize,
}

impl Tracker {
    pub fn new(facts: Facts, max_head: usize, max_headers: usize) -> Tracker {
        Tracker {
            state: State::Head,
            buf: Vec::new(),
            facts,
            max_head,
            max_headers,
        }
    }

    /// Take in the next bytes of the connection.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Lost => return,
                State::Body(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if n == take {
                        State::Head
                    } else {
                        State::Body(n - take)
                    };
                }
                State::ChunkData(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if n == take {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take)
                    };
                }
                State::Head | State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    // Buffered line-oriented states: take up to the next LF.
                    let (part, done) = match memchr(b'\n', bytes) {
                        Some(i) => (&bytes[..=i], true),
                        None => (bytes, false),
                    };
                    bytes = &bytes[part.len()..];
                    self.buf.extend_from_slice(part);
                    if done {
                        self.line_done();
                    } else if self.buf.len() > self.line_cap() {
                        self.lose();
                    }
                }
            }
        }
    }

    fn line_cap(&self) -> usize {
        match self.state {
            State::Head => self.max_head,
            _ => MAX_LINE,
        }
    }

    fn lose(&mut self) {
        self.state = State::Lost;
        self.buf = Vec::new();
    }

    /// `buf` ends with LF.
    fn line_done(&mut self) {
        match self.state {
            State::Head => self.head_line(),
            State::ChunkSize => {
                let line = trim_eol(&self.buf);
                let size = line.split(|&b| b == b';').next().unwrap_or(b"");
                match parse_hex(trim_ows(size)) {
                    Some(0) => self.state = State::Trailers,
                    Some(n) => self.state = State::ChunkData(n),
                    None => return self.lose(),
                }
                self.buf.clear();
            }
            State::ChunkEnd => {
                if trim_eol(&self.buf).is_empty() {
                    self.state = State::ChunkSize;
                    self.buf.clear();
                } else {
                    self.lose();
                }
            }
            State::Trailers => {
                if trim_eol(&self.buf).is_empty() {
                    self.state = State::Head;
                }
                self.buf.clear();
            }
            _ => {}
        }
        if self.buf.len() > self.line_cap() {
            self.lose();
        }
    }

    /// A line of a head arrived: parse when the head is complete.
    fn head_line(&mut self) {
        // Empty lines before a request line are skipped (as httparse does).
        if self.buf.iter().all(|b| *b == b'\r' || *b == b'\n') {
            self.buf.clear();
            return;
        }
        if !(self.buf.ends_with(b"\n\n") || self.buf.ends_with(b"\n\r\n")) {
            return;
        }
        let mut slots = vec![httparse::EMPTY_HEADER; self.max_headers + 1];
        let mut req = httparse::Request::new(&mut slots);
        let head_bytes = match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => return self.lose(),
        };
        let line_bytes = memchr(b'\n', &self.buf).map_or(head_bytes, |i| i + 1);
        let (mut length, mut chunked, mut te) = (None::<u64>, false, false);
        let mut bad_length = false;
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                match std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                {
                    Some(n) if length.is_none_or(|l| l == n) => length = Some(n),
                    _ => bad_length = true,
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                te = true;
                // Only the last coding counts, as for hyper.
                chunked = h
                    .value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| trim_ows(last).eq_ignore_ascii_case(b"chunked"));
            }
        }
        let facts = HeadFacts {
            head_bytes,
            line_bytes,
            headers: req.headers.len(),
            conflicting_length: te && (length.is_some() || bad_length),
        };
        let lost_after = facts.conflicting_length || bad_length || (te && !chunked);
        self.facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(facts);
        self.buf.clear();
        // hyper closes a connection after a head framed two ways (or refuses it): no
        // later request on it is followed.
        self.state = if lost_after {
            State::Lost
        } else if te {
            State::ChunkSize
        } else {
            match length {
                Some(0) | None => State::Head,
                Some(n) => State::Body(n),
            }
        };
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let mut n = 0u64;
    for &b in s {
        n = n * 16 + (b as char).to_digit(16)? as u64;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(splits: &[&[u8]]) -> Vec<HeadFacts> {
        let facts: Facts = Default::default();
        let mut t = Tracker::new(facts.clone(), 64 << 10, 100);
        for s in splits {
            t.feed(s);
        }
        let v = facts.lock().unwrap().iter().cloned().collect();
        v
    }

    const TWO: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n\
GET /y HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn heads_are_found_across_bodies_of_both_framings() {
        let f = run(&[TWO]);
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f.iter().all(|h| !h.conflicting_length));
        assert_eq!(f[0].line_bytes, b"POST / HTTP/1.1\r\n".len());
        assert_eq!(f[0].head_bytes, 47);
        assert_eq!(f[1].headers, 2);
    }

    #[test]
    fn both_lengths_are_flagged_in_either_order() {
        for head in [
            &b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\ncontent-length: x\r\n\r\n",
        ] {
            let f = run(&[head]);
            assert_eq!(f.len(), 1);
            assert!(f[0].conflicting_length, "{}", String::from_utf8_lossy(head));
        }
        // Nothing after a conflicting head is followed (hyper closes the connection).
        let mut two =
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec();
        two.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(run(&[&two]).len(), 1);
    }

    #[test]
    fn an_unreadable_head_stops_the_queue() {
        assert!(run(&[b"BAD\x01 LINE\r\n\r\n"]).is_empty());
        // A chunk-size line that is not hex.
        let f = run(&[
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
        ]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_head_over_the_cap_is_not_queued() {
        let facts: Facts = Default::default();
        let mut t = Tracker::new(facts.clone(), 100, 100);
        t.feed(b"GET / HTTP/1.1\r\n");
        t.feed(&[b'a'; 200]);
        t.feed(b": b\r\n\r\n");
        assert!(facts.lock().unwrap().is_empty());
    }

    proptest! {
        /// Any split of the same bytes gives the same facts.
        #[test]
        fn splits_do_not_matter(cuts in prop::collection::vec(0..TWO.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut at = 0;
            for c in cuts {
                parts.push(&TWO[at..c]);
                at = c;
            }
            parts.push(&TWO[at..]);
            prop_assert_eq!(run(&parts), run(&[TWO]));
        }

        /// Arbitrary bytes never panic and never queue more heads than lines.
        #[test]
        fn arbitrary_bytes_are_harmless(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let n = bytes.iter().filter(|&&b| b == b'\n').count();
            prop_assert!(run(&[&bytes]).len() <= n);
        }
    }
}
