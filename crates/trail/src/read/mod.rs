//! Readers for every shape CloudTrail is found in.
//!
//! S3 delivery (`{"Records": [...]}`, usually gzip), JSON arrays (exports, Stratus Red
//! Team), JSON lines, EventBridge envelopes ("AWS API Call via CloudTrail"), and
//! LookupEvents output (`{"Events": [{"CloudTrailEvent": "<json string>"}]}`),
//! Elasticsearch documents (`_source`, search responses' `hits.hits`), from
//! files, directories (recursive, sorted, symlinks not followed) and stdin.
//!
//! Nothing here fails: a record or a whole file that cannot be read becomes a
//! [`Item::Skipped`] naming where and why, and reading goes on.

use crate::event::Event;
use crate::json;
use crate::lazy::LazyRecord;
use serde_json::value::RawValue;
use std::path::Path;

mod stream;
pub use stream::read_file;

/// What a reader hands on, in input order.
#[derive(Debug)]
pub enum Item {
    Event(Box<Event>),
    Skipped { at: String, reason: String },
}

/// Containers a record may sit in (arrays, `Records`, envelopes, LookupEvents entries,
/// one inside another); deeper is skipped before it is parsed again. Every level parses
/// its text once more, so this also keeps hostile nesting linear.
pub const MAX_WRAP: u8 = 8;

/// Caps that keep a hostile input from taking the machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// One JSON line or one whole JSON document read at once.
    pub max_document: usize,
    /// One record (a JSON line); CloudTrail's own records stay far below this.
    pub max_record: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document: 2 << 30,
            max_record: 4 << 20,
        }
    }
}

/// Read every file under `path` (a file, a directory, or `-` for stdin).
pub fn read_path(path: &Path, limits: Limits, out: &mut dyn FnMut(Item)) {
    let mut files = Vec::new();
    list(path, &mut files, out);
    for (f, _) in files {
        read_file(&f, limits, out);
    }
}

/// The files under `path` with their sizes, sorted; directories are walked (hidden
/// entries and symlinks skipped), what cannot be listed is reported.
pub fn list(path: &Path, files: &mut Vec<(std::path::PathBuf, u64)>, out: &mut dyn FnMut(Item)) {
    if path.as_os_str() == "-" {
        files.push((path.to_path_buf(), 0));
        return;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return out(skip(
                &path.display().to_string(),
                format!("cannot read: {e}"),
            ))
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<_> = match std::fs::read_dir(path) {
            Ok(r) => r.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => {
                return out(skip(
                    &path.display().to_string(),
                    format!("cannot list: {e}"),
                ))
            }
        };
        entries.sort();
        for p in entries {
            let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_link || name.starts_with('.') {
                continue;
            }
            // In directories, only what can hold CloudTrail (named files are always read).
            let wanted = p.is_dir()
                || !name.contains('.')
                || [".json", ".jsonl", ".ndjson", ".gz"]
                    .iter()
                    .any(|x| name.ends_with(x));
            if wanted {
                list(&p, files, out);
            }
        }
        return;
    }
    if !meta.is_file() {
        return out(skip(
            &path.display().to_string(),
            "not a regular file".into(),
        ));
    }
    files.push((path.to_path_buf(), meta.len()));
}

/// Where a record is: a source name and, for JSON lines, the line (formatted only when
/// something is skipped: most records never need it).
#[derive(Clone, Copy)]
struct Place<'a> {
    name: &'a str,
    line: Option<usize>,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.name),
            None => f.write_str(self.name),
        }
    }
}

fn skip(at: &str, reason: String) -> Item {
    Item::Skipped {
        at: at.to_string(),
        reason,
    }
}

/// Read one input's bytes: gzip or plain, any of the shapes.
pub fn read_bytes(name: &str, bytes: &[u8], limits: Limits, out: &mut dyn FnMut(Item)) {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return stream::read_gzip(name, bytes, limits, out);
    }
    read_text(name, bytes, limits, out)
}

fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// After optional whitespace, a first line that is a whole record, and more after it.
fn starts_json_lines(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|s| bytes[s] == b'{' && first_line_is_a_record(&bytes[s..]))
}

/// Why UTF-16 text cannot be decoded; offsets are bytes from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Utf16Error {
    #[error("UTF-16 with an odd length ({0} bytes)")]
    OddLength(usize),
    #[error("UTF-16 with a lone surrogate at byte {0}")]
    LoneSurrogate(usize),
}

/// UTF-16 text (what Windows PowerShell's `Out-File` writes): by its byte-order mark,
/// or a JSON document's first `{`/`[` with a zero byte beside it. `Err` names the byte
/// where a lone surrogate or an odd length breaks it.
fn utf16(bytes: &[u8]) -> Option<Result<String, Utf16Error>> {
    let (le, body) = match bytes {
        [0xff, 0xfe, rest @ ..] => (true, rest),
        [0xfe, 0xff, rest @ ..] => (false, rest),
        [b'{' | b'[', 0, ..] => (true, bytes),
        [0, b'{' | b'[', ..] => (false, bytes),
        _ => return None,
    };
    if body.len() % 2 == 1 {
        return Some(Err(Utf16Error::OddLength(bytes.len())));
    }
    let units = body.chunks_exact(2).map(|c| match le {
        true => u16::from_le_bytes([c[0], c[1]]),
        false => u16::from_be_bytes([c[0], c[1]]),
    });
    let mut text = String::with_capacity(body.len() / 2);
    for (i, c) in char::decode_utf16(units).enumerate() {
        match c {
            Ok(c) => text.push(c),
            Err(_) => {
                let at = i * 2 + bytes.len() - body.len();
                return Some(Err(Utf16Error::LoneSurrogate(at)));
            }
        }
    }
    Some(Ok(text))
}

fn read_text(name: &str, bytes: &[u8], limits: Limits, out: &mut dyn FnMut(Item)) {
    match utf16(bytes) {
        Some(Ok(text)) => return read_text(name, text.as_bytes(), limits, out),
        Some(Err(why)) => return out(skip(name, why.to_string())),
        None => {}
    }
    let bytes = without_bom(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return out(skip(name, "empty".into()));
    };
    match bytes[start] {
        b'[' | b'{' => {}
        other => {
            return out(skip(
                name,
                format!("not CloudTrail JSON: starts with byte 0x{other:02x} at offset {start}"),
            ))
        }
    }
    if starts_json_lines(bytes) {
        // JSON lines: no need to check the whole input as one document first.
        return read_lines(name, bytes, limits, out);
    }
    let whole = std::str::from_utf8(&bytes[start..]);
    if bytes[start] == b'{' {
        // One object (S3's {"Records": [...]}, a LookupEvents page, one record) or JSON
        // lines: a second document after the first means lines.
        let one = whole.as_ref().ok().map(|t| LazyRecord::parse(t));
        match one {
            Some(Ok(rec)) => return unwrap_record(Place { name, line: None }, None, rec, 0, out),
            // A second document after the first (an error past line 1 that is not the
            // end of the text) means JSON lines; anything else is this file's problem.
            Some(Err(e)) if e.is_not_object() || e.is_eof() || e.line == 1 => {
                return out(skip(
                    name,
                    format!(
                        "not CloudTrail JSON (line {}, column {}): {}",
                        e.line, e.column, e.what
                    ),
                ))
            }
            _ => return read_lines(name, bytes, limits, out),
        }
    }
    let text = match whole {
        Ok(t) => t,
        Err(e) => {
            return out(skip(
                name,
                format!("not UTF-8 at byte {}", start + e.valid_up_to()),
            ))
        }
    };
    unwrap_raw(Place { name, line: None }, None, text, 0, out);
}

/// The first line is a whole JSON object and something follows it.
fn first_line_is_a_record(bytes: &[u8]) -> bool {
    let Some(end) = memchr::memchr(b'\n', bytes) else {
        return false;
    };
    let more = bytes[end..].iter().any(|b| !b.is_ascii_whitespace());
    more && std::str::from_utf8(&bytes[..end]).is_ok_and(|l| LazyRecord::parse(l).is_ok())
}

fn read_lines(name: &str, bytes: &[u8], limits: Limits, out: &mut dyn FnMut(Item)) {
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        i += 1;
        read_line(name, i, line, line.len(), limits, out);
    }
}

/// One JSON line (without its `\n`), `len` bytes long in the input (more than `line`
/// holds when the reader stopped keeping an over-long line).
fn read_line(
    name: &str,
    i: usize,
    line: &[u8],
    len: usize,
    limits: Limits,
    out: &mut dyn FnMut(Item),
) {
    let (line, len) = match line.strip_suffix(b"\r") {
        Some(l) if len == line.len() => (l, len - 1),
        _ => (line, len),
    };
    if len <= line.len() && line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let at = Place {
        name,
        line: Some(i),
    };
    if len > limits.max_record {
        return out(skip(
            &at.to_string(),
            format!(
                "record of {len} bytes is over the {} byte limit",
                limits.max_record
            ),
        ));
    }
    match std::str::from_utf8(line) {
        Ok(text) => unwrap_raw(at, None, text, 0, out),
        Err(e) => out(skip(
            &at.to_string(),
            format!("not UTF-8 at column {}", e.valid_up_to() + 1),
        )),
    }
}

/// One JSON document's text: an array of records, an envelope, or a record, inside
/// `wrap` containers already.
fn unwrap_raw(at: Place, index: Option<usize>, text: &str, wrap: u8, out: &mut dyn FnMut(Item)) {
    let here = || match index {
        Some(i) => format!("{at} record {i}"),
        None => at.to_string(),
    };
    if wrap > MAX_WRAP {
        return out(skip(
            &here(),
            format!("record nested in more than {MAX_WRAP} containers"),
        ));
    }
    let t = text.trim_start();
    match t.as_bytes().first() {
        Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(t) {
            Ok(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    unwrap_raw(at, Some(i), item.get(), wrap + 1, out);
                }
            }
            Err(e) => out(skip(&here(), format!("column {}: {e}", e.column()))),
        },
        Some(b'{') => match LazyRecord::parse(t) {
            Ok(rec) => unwrap_record(at, index, rec, wrap, out),
            Err(e) => out(skip(&here(), format!("column {}: {}", e.column, e.what))),
        },
        _ => out(skip(
            &here(),
            format!("expected a record object, found {}", short(t)),
        )),
    }
}

/// Peel the containers a record comes in and hand on each record.
fn unwrap_record(
    at: Place,
    index: Option<usize>,
    rec: LazyRecord,
    wrap: u8,
    out: &mut dyn FnMut(Item),
) {
    let here = || match index {
        Some(i) => format!("{at} record {i}"),
        None => at.to_string(),
    };
    if let Some(records) = rec.raw("Records") {
        return match records.as_bytes().first() {
            Some(b'[') => unwrap_raw(at, None, records, wrap + 1, out),
            _ => out(skip(&here(), "`Records` is not an array".into())),
        };
    }
    // LookupEvents: the record is a JSON string inside each entry.
    if let Some(events) = rec.raw("Events") {
        let Ok(events) = serde_json::from_str::<Vec<&RawValue>>(events) else {
            return out(skip(&here(), "`Events` is not an array".into()));
        };
        for (i, e) in events.into_iter().enumerate() {
            let entry = LazyRecord::parse(e.get());
            match entry.as_ref().map(|r| r.str("CloudTrailEvent")) {
                Ok(Ok(Some(s))) => unwrap_raw(at, Some(i), &s, wrap + 1, out),
                _ => out(skip(
                    &format!("{at} record {i}"),
                    "no `CloudTrailEvent` string".into(),
                )),
            }
        }
        return;
    }
    if rec.raw("CloudTrailEvent").is_some() {
        return match rec.str("CloudTrailEvent") {
            Ok(Some(s)) => unwrap_raw(at, index, &s, wrap + 1, out),
            _ => out(skip(&here(), "`CloudTrailEvent` is not a string".into())),
        };
    }
    // Elasticsearch: a search response's `hits.hits`, each document's `_source`.
    if let Some(hits) = rec.raw("hits").filter(|h| h.starts_with('{')) {
        return match json::field(hits, "hits").filter(|h| h.starts_with('[')) {
            Some(h) => unwrap_raw(at, None, h, wrap + 1, out),
            None => out(skip(&here(), "`hits` without a `hits` array".into())),
        };
    }
    if let Some(source) = rec.raw("_source") {
        return match source.starts_with('{') {
            true => unwrap_raw(at, index, source, wrap + 1, out),
            false => out(skip(&here(), "`_source` is not an object".into())),
        };
    }
    // EventBridge: {"detail-type": "AWS API Call via CloudTrail", "detail": {...}}
    if rec.raw("detail-type").is_some() {
        return match rec.raw("detail") {
            Some(d) if d.starts_with('{') => unwrap_raw(at, index, d, wrap + 1, out),
            _ => out(skip(
                &here(),
                "EventBridge envelope without a `detail` object".into(),
            )),
        };
    }
    match Event::from_record(rec) {
        Ok(e) => out(Item::Event(Box::new(e))),
        Err(reason) => out(skip(&here(), reason.to_string())),
    }
}

fn short(s: &str) -> String {
    if s.len() > 40 {
        let mut end = 40;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// Read everything in memory (tests, small inputs).
pub fn read_all(name: &str, bytes: &[u8]) -> (Vec<Event>, Vec<(String, String)>) {
    let (mut events, mut skipped) = (Vec::new(), Vec::new());
    read_bytes(name, bytes, Limits::default(), &mut |i| match i {
        Item::Event(e) => events.push(*e),
        Item::Skipped { at, reason } => skipped.push((at, reason)),
    });
    (events, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ONE: &str = r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventTime": "2024-08-01T13:52:02Z", "eventID": "e1"}"#;

    fn gz(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_shape() {
        let inputs = [
            format!("{{\"Records\": [{ONE}, {ONE}]}}"),
            format!("[{ONE}, {ONE}]"),
            format!("{ONE}\n{ONE}\n"),
            format!(
                "{{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": {ONE}}}\n{{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": {ONE}}}"
            ),
            format!(
                "{{\"Events\": [{{\"CloudTrailEvent\": {}}}, {{\"CloudTrailEvent\": {}}}]}}",
                serde_json::to_string(ONE).unwrap(),
                serde_json::to_string(ONE).unwrap()
            ),
        ];
        for text in &inputs {
            for bytes in [text.as_bytes().to_vec(), gz(text.as_bytes())] {
                let (events, skipped) = read_all("t", &bytes);
                assert_eq!((events.len(), skipped.len()), (2, 0), "{text}");
                assert_eq!(events[0].name, "CreateUser");
            }
        }
    }

    #[test]
    fn bad_input_is_skipped_with_a_place_and_a_reason() {
        let text = format!("{ONE}\n{{broken\n[1]\n{ONE}\n");
        let (events, skipped) = read_all("f.json", text.as_bytes());
        assert_eq!(events.len(), 2);
        assert_eq!(skipped[0].0, "f.json:2");
        assert!(skipped[1].0.starts_with("f.json:3"), "{skipped:?}");
        // Truncated gzip: the whole lines before the cut are read.
        let mut body = String::new();
        for _ in 0..200 {
            body.push_str(ONE);
            body.push('\n');
        }
        let z = gz(body.as_bytes());
        let (events, skipped) = read_all("cut.gz", &z[..z.len() - 20]);
        assert!(events.len() > 100, "{}", events.len());
        assert!(
            skipped.iter().any(|(_, r)| r.contains("gzip")),
            "{skipped:?}"
        );
        for garbage in [&b"\x00\x01binary"[..], b"", b"   ", b"\"string\"", b"[1"] {
            let (events, skipped) = read_all("g", garbage);
            assert!(events.is_empty());
            assert_eq!(skipped.len(), 1, "{garbage:?}");
        }
        // A pretty-printed file cut short is one broken document, not lines.
        let (events, skipped) = read_all(
            "cut.json",
            format!("{{\n \"Records\": [\n  {ONE},\n").as_bytes(),
        );
        assert_eq!((events.len(), skipped.len()), (0, 1), "{skipped:?}");
        assert!(skipped[0].1.contains("EOF"), "{skipped:?}");
        let (_, skipped) = read_all("r", b"{\"Records\": 3}");
        assert!(skipped[0].1.contains("Records"));
        let huge = format!("{ONE}\n{{\"x\": \"{}\"}}\n", "a".repeat(5 << 20));
        let (events, skipped) = read_all("h", huge.as_bytes());
        assert_eq!(events.len(), 1);
        assert!(skipped[0].1.contains("limit"), "{skipped:?}");
    }
}
