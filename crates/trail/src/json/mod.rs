//! A JSON validator that indexes an object's top level as it goes, and a skipper for
//! text already validated.
//!
//! Building a `serde_json` value (or even a `RawValue` span) for every record costs most
//! of what reading CloudTrail costs. This checks the whole grammar (strings, escapes and
//! surrogates, numbers, literals, nesting) in one pass that never allocates, and hands
//! back where each top-level key and value lies. It accepts exactly what
//! `serde_json::from_str::<Value>` accepts, with stricter nesting (a property test
//! holds the two side by side), so a value found here always parses later.

use std::fmt;

mod skip;
pub use skip::{decode_str, entries, field, Entries};

/// Deepest nesting accepted: below `serde_json`'s 128, so every field re-parses.
const MAX_DEPTH: usize = 120;

/// Why a document is not JSON (or not an object), and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub what: &'static str,
    /// Byte offset of the problem in the text.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl JsonError {
    /// The document is JSON but its top level is not an object.
    pub fn is_not_object(&self) -> bool {
        self.what == NOT_OBJECT
    }

    /// The text ended inside a value: a truncated document.
    pub fn is_eof(&self) -> bool {
        self.what.starts_with("EOF")
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

impl std::error::Error for JsonError {}

const NOT_OBJECT: &str = "expected a JSON object";

/// One top-level entry: the key's text without quotes (`escaped` when it holds a
/// backslash and must be decoded) and the value's raw text, as byte ranges.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub key: (u32, u32),
    pub escaped: bool,
    pub value: (u32, u32),
}

/// Validate `text` as one JSON object (whitespace around it allowed) and call `each`
/// for its top-level entries in order. Texts over 4 GiB are refused.
pub fn index_object(text: &str, mut each: impl FnMut(Entry)) -> Result<(), JsonError> {
    let b = text.as_bytes();
    let mut s = Scanner { b, i: 0 };
    if b.len() >= u32::MAX as usize {
        return Err(s.err("document too large"));
    }
    s.ws();
    match s.peek() {
        Some(b'{') => {}
        None => return Err(s.err("EOF while parsing a value")),
        Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
            return Err(s.err(NOT_OBJECT))
        }
        Some(_) => return Err(s.err("expected value")),
    }
    s.object(1, &mut each)?;
    s.ws();
    if s.i < b.len() {
        return Err(s.err("trailing characters"));
    }
    Ok(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `x` equal to zero, flagged in their high bit (the lowest flag is exact).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &'static str) -> JsonError {
        let before = &self.b[..self.i.min(self.b.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        JsonError {
            what,
            offset: self.i,
            line,
            column: self.i - line_start + 1,
        }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// At `"`: move past the closing quote; true when the string holds an escape.
    #[inline]
    fn string(&mut self) -> Result<bool, JsonError> {
        self.i += 1;
        let mut escaped = false;
        loop {
            // Eight bytes at a time to the next quote, backslash or control character.
            while self.i + 8 <= self.b.len() {
                let x = u64::from_le_bytes(self.b[self.i..self.i + 8].try_into().unwrap());
                let hits = zero_bytes(x ^ (ONES * u64::from(b'"')))
                    | zero_bytes(x ^ (ONES * u64::from(b'\\')))
                    | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS);
                if hits != 0 {
                    self.i += (hits.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0..0x20) => {
                    return Err(self
                        .err("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                Some(_) => self.i += 1,
                None => return Err(self.err("EOF while parsing a string")),
            }
        }
    }

    /// At `\`: one escape, surrogate pairs whole.
    fn escape(&mut self) -> Result<(), JsonError> {
        self.i += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.i += 1;
                Ok(())
            }
            Some(b'u') => {
                self.i += 1;
                let n = self.hex4()?;
                match n {
                    0xD800..=0xDBFF => {
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(self.err(if self.i + 2 > self.b.len() {
                                "EOF while parsing a string"
                            } else {
                                "lone leading surrogate in hex escape"
                            }));
                        }
                        self.i += 2;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(self.err("lone leading surrogate in hex escape")),
                        }
                    }
                    0xDC00..=0xDFFF => Err(self.err("lone leading surrogate in hex escape")),
                    _ => Ok(()),
                }
            }
            None => Err(self.err("EOF while parsing a string")),
            Some(_) => Err(self.err("invalid escape")),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => return Err(self.err("EOF while parsing a string")),
                Some(_) => return Err(self.err("invalid escape")),
            };
            n = n * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(n)
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(depth + 1, &mut |_| {}),
            Some(b'[') => self.array(depth + 1),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            None => Err(self.err("EOF while parsing a value")),
            Some(_) => Err(self.err("expected value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        for &c in word {
            match self.peek() {
                Some(x) if x == c => self.i += 1,
                None => return Err(self.err("EOF while parsing a value")),
                Some(_) => return Err(self.err("expected ident")),
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// At least one digit (after `.` or an exponent).
    fn some_digits(&mut self) -> Result<(), JsonError> {
        if self.digits() > 0 {
            return Ok(());
        }
        Err(self.err(match self.peek() {
            None => "EOF while parsing a value",
            Some(_) => "invalid number",
        }))
    }

    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int = match self.peek() {
            Some(b'0') => {
                self.i += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            None => return Err(self.err("EOF while parsing a value")),
            Some(_) => return Err(self.err("invalid number")),
        };
        let mut plain = int <= 18;
        if self.peek() == Some(b'.') {
            self.i += 1;
            plain = false;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            plain = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        // `serde_json` refuses what overflows an f64.
        if !plain {
            let text = std::str::from_utf8(&self.b[start..self.i]).expect("ASCII digits");
            if text.parse::<f64>().is_ok_and(f64::is_infinite) {
                self.i = start;
                return Err(self.err("number out of range"));
            }
        }
        Ok(())
    }

    /// Past an opening `{` or `[` and its whitespace; true when `close` follows at once
    /// (empty, and consumed).
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        self.i += 1;
        self.ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.i += 1;
        }
        Ok(empty)
    }

    /// At `{`: the whole object, each entry handed to `each` (the top level's index).
    fn object(&mut self, depth: usize, each: &mut dyn FnMut(Entry)) -> Result<(), JsonError> {
        if self.open(depth, b'}')? {
            return Ok(());
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.err("EOF while parsing an object")),
                Some(_) => return Err(self.err("key must be a string")),
            }
            let k0 = self.i + 1;
            let escaped = self.string()?;
            let k1 = self.i - 1;
            self.ws();
            match self.peek() {
                Some(b':') => self.i += 1,
                None => return Err(self.err("EOF while parsing an object")),
                Some(_) => return Err(self.err("expected `:`")),
            }
            self.ws();
            let v0 = self.i;
            self.value(depth)?;
            each(Entry {
                key: (k0 as u32, k1 as u32),
                escaped,
                value: (v0 as u32, self.i as u32),
            });
            if self.after_member(b'}', "EOF while parsing an object", "expected `,` or `}`")? {
                return Ok(());
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        if self.open(depth, b']')? {
            return Ok(());
        }
        loop {
            self.value(depth)?;
            if self.after_member(b']', "EOF while parsing a list", "expected `,` or `]`")? {
                return Ok(());
            }
        }
    }

    /// After a member: `,` and more to come (false), or the closing byte (true).
    fn after_member(
        &mut self,
        close: u8,
        eof: &'static str,
        expected: &'static str,
    ) -> Result<bool, JsonError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            None => Err(self.err(eof)),
            Some(_) => Err(self.err(expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn agrees(text: &str) {
        let ours = index_object(text, |_| {});
        let theirs = serde_json::from_str::<Value>(text);
        match (&ours, &theirs) {
            (Ok(()), Ok(v)) => assert!(v.is_object(), "{text:?}"),
            (Err(e), Ok(v)) => assert!(
                e.is_not_object() && !v.is_object(),
                "we refused {text:?} ({e}) that serde_json reads"
            ),
            (Ok(()), Err(e)) => panic!("we accepted {text:?}, serde_json says {e}"),
            (Err(_), Err(_)) => {}
        }
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for text in [
            r#"{}"#,
            r#" { "a" : 1 } "#,
            r#"{"a": [1, -2.5e3, 0, -0, 1E+2, true, false, null, "x", {}, []]}"#,
            r#"{"s": "\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00 ü"}"#,
            r#"{"s": "\uD800"}"#,
            r#"{"s": "\uDC00"}"#,
            r#"{"s": "\uD800\u0041"}"#,
            r#"{"s": "\uD800\n"}"#,
            r#"{"s": "\x"}"#,
            r#"{"s": "\u12"}"#,
            "{\"s\": \"a\tb\"}",
            "{\"s\": \"a\u{7f}b\"}",
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": -}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": -1e400}"#,
            r#"{"a": 1e-400}"#,
            r#"{"a": 123456789012345678901234567890}"#,
            r#"{"a": tru}"#,
            r#"{"a": nul}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{1: 1}"#,
            r#"{"a": [1,]}"#,
            r#"{"a": [1 2]}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}{"b": 2}"#,
            "{\"a\": 1}\n{\"b\": 2}",
            r#"[1]"#,
            r#""s""#,
            "",
            "{",
            r#"{"a"#,
            r#"{"a": "#,
            r#"{"a": "x"#,
            "{\"a\": \"x\\",
        ] {
            agrees(text);
        }
        let deep = |n: usize| format!("{{\"a\": {}1{}}}", "[".repeat(n), "]".repeat(n));
        for n in [100, 119, 120, 126, 127, 128, 200] {
            let ok = index_object(&deep(n), |_| {}).is_ok();
            assert_eq!(ok, n < MAX_DEPTH, "depth {n}");
            if ok {
                assert!(serde_json::from_str::<Value>(&deep(n)).is_ok());
            }
        }
    }

    #[test]
    fn entries_and_errors() {
        let text = r#"{"a": "x", "b\u0041": {"c": [1, "]"]}, "n": null}"#;
        let mut got = Vec::new();
        index_object(text, |e| {
            got.push((
                &text[e.key.0 as usize..e.key.1 as usize],
                e.escaped,
                &text[e.value.0 as usize..e.value.1 as usize],
            ))
        })
        .unwrap();
        assert_eq!(
            got,
            [
                ("a", false, "\"x\""),
                ("b\\u0041", true, r#"{"c": [1, "]"]}"#),
                ("n", false, "null")
            ]
        );
        let inner: Vec<_> = entries(r#"{ "c" : [1, "]"] , "d":{"e":"}"},"f":-1 }"#).collect();
        assert_eq!(
            inner,
            [
                ("\"c\"", r#"[1, "]"]"#),
                ("\"d\"", r#"{"e":"}"}"#),
                ("\"f\"", "-1")
            ]
        );
        let e = index_object("{\"a\": 1,\n \"b\": x}", |_| {}).unwrap_err();
        assert_eq!((e.line, e.column, e.what), (2, 7, "expected value"));
        assert!(index_object("[1]", |_| {}).unwrap_err().is_not_object());
        assert_eq!(decode_str(r#""a\tb""#).as_deref(), Some("a\tb"));
        assert_eq!(decode_str("1"), None);
    }

    /// JSON-ish text from a small alphabet, so that near misses are common.
    fn jsonish() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\"k\"", "\"v\"", "\\", "\\u", "D83D",
            "DE00", "00e9", "\\n", "1", "-", "0", ".", "e", "+", "9", "true", "null", "fals",
            "\u{1}", "é", "\"a\":", "1e400",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| format!("{{{}", v.concat()))
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json(text in jsonish()) {
            agrees(&text);
        }

        #[test]
        fn agrees_on_real_values(v in arb_json()) {
            let text = serde_json::json!({"x": v, "y": 1}).to_string();
            let ok = index_object(&text, |_| {}).is_ok();
            prop_assert!(ok);
            let pretty = serde_json::to_string_pretty(&serde_json::json!({"x": v})).unwrap();
            let mut seen = Vec::new();
            index_object(&pretty, |e| seen.push(e)).unwrap();
            let raw = &pretty[seen[0].value.0 as usize..seen[0].value.1 as usize];
            // Compared through serde_json's own reading: its float printing does not
            // round-trip every f64.
            let expect: Value = serde_json::from_str(&v.to_string()).unwrap();
            prop_assert_eq!(serde_json::from_str::<Value>(raw).unwrap(), expect);
        }
    }

    proptest! {
        /// `entries` and `field` find every
        /// entry of a real object, escaped keys and brackets inside strings included.
        #[test]
        fn entries_and_field_agree_with_serde_json(
            m in prop::collection::btree_map("[a-z\\\\\"é{}\\[\\]]{0,6}", arb_json(), 0..6),
            pretty in any::<bool>(),
        ) {
            let obj = Value::Object(m.into_iter().collect());
            let text = if pretty {
                serde_json::to_string_pretty(&obj).unwrap()
            } else {
                obj.to_string()
            };
            let got: Vec<(String, Value)> = entries(&text)
                .map(|(k, raw)| (decode_str(k).unwrap().into_owned(), serde_json::from_str(raw).unwrap()))
                .collect();
            let want: Vec<(String, Value)> = obj
                .as_object()
                .unwrap()
                .iter()
                // Through serde_json's own reading: its float printing does not
                // round-trip every f64.
                .map(|(k, v)| (k.clone(), serde_json::from_str(&v.to_string()).unwrap()))
                .collect();
            prop_assert_eq!(&got, &want);
            for (k, v) in &want {
                let raw = field(&text, k);
                prop_assert!(raw.is_some(), "field {:?} not found", k);
                prop_assert_eq!(&serde_json::from_str::<Value>(raw.unwrap()).unwrap(), v);
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
