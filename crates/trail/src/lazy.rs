//! A record's JSON, parsed only as deep as someone looks.
//!
//! The top level is split once into (key, raw value) spans without building values;
//! a field's value is parsed the first time it is asked for and kept. Most rules and
//! most of parapet read a handful of top-level strings, so most of a record (request
//! parameters, response elements) is never turned into a `Value` at all.

use crate::json::{self, JsonError};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;

/// A top-level entry: 16 bytes, because a batch scan holds hundreds of thousands of
/// records (with parsed values and decoded keys inline it was 64).
#[derive(Debug, Clone, Copy)]
struct Field {
    /// The key's span in the text, or for a key with escapes `(OWNED, i)`: decoded in
    /// `owned_keys[i]`.
    key: (u32, u32),
    value: (u32, u32),
}

const OWNED: u32 = u32::MAX;

/// How many keys [`known`] gives a slot.
const KNOWN: usize = 22;

/// The slot of a key every reader asks for (a table lookup instead of a scan of the
/// record's keys).
fn known(key: &str) -> Option<usize> {
    // A `match` on strings compiles to a length switch, then one comparison.
    Some(match key {
        "eventVersion" => 0,
        "userIdentity" => 1,
        "eventTime" => 2,
        "eventSource" => 3,
        "eventName" => 4,
        "awsRegion" => 5,
        "sourceIPAddress" => 6,
        "userAgent" => 7,
        "requestParameters" => 8,
        "responseElements" => 9,
        "eventID" => 10,
        "readOnly" => 11,
        "errorCode" => 12,
        "errorMessage" => 13,
        "recipientAccountId" => 14,
        "resources" => 15,
        "eventType" => 16,
        "Records" => 17,
        "Events" => 18,
        "CloudTrailEvent" => 19,
        "detail-type" => 20,
        "detail" => 21,
        _ => return None,
    })
}

const NONE: u8 = u8::MAX;

/// Nested paths a rule pack asks for on every event, located by the identity pass
/// (`Identity::read`) so that their lookup does not scan `userIdentity` again.
pub(crate) const HINTED: [&str; 2] = [
    "userIdentity.type",
    "userIdentity.sessionContext.sessionIssuer.type",
];

/// What the identity pass saw at a [`HINTED`] path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint<'a> {
    /// The raw value there.
    Found(&'a str),
    /// Nothing there (a lookup by path would say the same).
    Missing,
    /// Not known: the lookup scans as usual.
    Unknown,
}

/// A [`Hint`] as a span of the record's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HintSpan {
    Found(u32, u32),
    Missing,
    Unknown,
}

/// One JSON object, its top level indexed, its values parsed on demand.
#[derive(Debug, Clone)]
pub struct LazyRecord {
    text: Box<str>,
    fields: Vec<Field>,
    owned_keys: Vec<Box<str>>,
    /// Each field's parsed value, allocated at the first `get`.
    parsed: OnceCell<Box<[OnceCell<Value>]>>,
    /// Field index of each known key (`NONE` when absent; the last duplicate wins).
    known: [u8; KNOWN],
    /// Whether any top-level key holds a `.` (rules' dotted paths are then tried whole).
    dotted: bool,
    /// Where the identity pass saw the [`HINTED`] paths.
    hints: [HintSpan; 2],
    /// Values found under a top-level field by path (`userIdentity.arn`), parsed alone
    /// instead of parsing the whole field; allocated at the first such lookup.
    nested: OnceCell<Box<NestedSlots>>,
}

/// (dotted path, its value), filled in order.
type NestedSlots = [OnceCell<(Box<str>, Value)>; NESTED_SLOTS];

const NESTED_SLOTS: usize = 16;

/// What a lookup by path found.
#[derive(Debug)]
pub enum Nested<'a> {
    Found(&'a Value),
    Missing,
    /// The path runs through an array (or a field parsed already): navigate the `Value`.
    Unresolved,
}

impl LazyRecord {
    /// Index `text`, which must be one JSON object. Errors name line and column.
    pub fn parse(text: &str) -> Result<LazyRecord, JsonError> {
        let mut fields = Vec::with_capacity(24);
        let mut owned_keys: Vec<Box<str>> = Vec::new();
        let mut idx = [NONE; KNOWN];
        let mut dotted = false;
        json::index_object(text, |e| {
            let key = if e.escaped {
                let raw = &text[e.key.0 as usize - 1..e.key.1 as usize + 1];
                owned_keys.push(json::decode_str(raw).unwrap_or_default().into());
                (OWNED, owned_keys.len() as u32 - 1)
            } else {
                e.key
            };
            let name = match key {
                (OWNED, i) => &owned_keys[i as usize],
                (a, b) => &text[a as usize..b as usize],
            };
            if let (Some(slot), Ok(i)) = (known(name), u8::try_from(fields.len())) {
                idx[slot] = i;
            } else {
                dotted |= name.contains('.');
            }
            fields.push(Field {
                key,
                value: e.value,
            });
        })?;
        // Past 255 fields the table cannot point: fall back to scanning for all keys.
        let known_ok = fields.len() < usize::from(NONE);
        Ok(LazyRecord {
            text: text.into(),
            fields,
            owned_keys,
            parsed: OnceCell::new(),
            known: if known_ok { idx } else { [NONE; KNOWN] },
            dotted,
            hints: [HintSpan::Unknown; 2],
            nested: OnceCell::new(),
        })
    }

    fn key<'a>(&'a self, f: &'a Field) -> &'a str {
        match f.key {
            (OWNED, i) => &self.owned_keys[i as usize],
            (a, b) => &self.text[a as usize..b as usize],
        }
    }

    /// The last field named `key` (as `serde_json` keeps the last of duplicates).
    fn index(&self, key: &str) -> Option<usize> {
        if self.fields.len() < usize::from(NONE) {
            if let Some(slot) = known(key) {
                let i = self.known[slot];
                return (i != NONE).then_some(usize::from(i));
            }
        }
        if !self.dotted && key.contains('.') {
            return None;
        }
        self.fields.iter().rposition(|f| self.key(f) == key)
    }

    /// The value at `parts` (`dotted` is them joined with dots) under a top-level
    /// field, without parsing the rest of that field. Objects only: a path through an
    /// array, or into a field parsed already, is left to the caller.
    pub fn nested<S: AsRef<str>>(&self, dotted: &str, parts: &[S]) -> Nested<'_> {
        let Some((first, rest)) = parts.split_first() else {
            return Nested::Unresolved;
        };
        let Some(i) = self.index(first.as_ref()) else {
            return Nested::Missing;
        };
        let f = &self.fields[i];
        if self.parsed_value(i).is_some() {
            return Nested::Unresolved;
        }
        let cached = self.nested.get().and_then(|slots| {
            slots
                .iter()
                .map_while(OnceCell::get)
                .find(|(name, _)| **name == *dotted)
        });
        if let Some((_, v)) = cached {
            return Nested::Found(v);
        }
        let hinted = HINTED.iter().position(|h| *h == dotted);
        let mut raw = &self.text[f.value.0 as usize..f.value.1 as usize];
        let mut rest = rest;
        match hinted.map(|h| self.hints[h]) {
            Some(HintSpan::Found(a, b)) => {
                raw = &self.text[a as usize..b as usize];
                rest = &[];
            }
            Some(HintSpan::Missing) => return Nested::Missing,
            Some(HintSpan::Unknown) | None => {}
        }
        for p in rest {
            match raw.as_bytes().first() {
                Some(b'{') => match json::field(raw, p.as_ref()) {
                    Some(v) => raw = v,
                    None => return Nested::Missing,
                },
                Some(b'[') => return Nested::Unresolved,
                _ => return Nested::Missing,
            }
        }
        let slots = self
            .nested
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceCell::new())));
        match slots.iter().find(|s| s.get().is_none()) {
            Some(slot) => Nested::Found(
                &slot
                    .get_or_init(|| {
                        (
                            dotted.into(),
                            serde_json::from_str(raw).unwrap_or(Value::Null),
                        )
                    })
                    .1,
            ),
            // Out of slots: parse the whole field after all.
            None => Nested::Unresolved,
        }
    }

    /// `h` as a span of this record's text (a hint found elsewhere is not used).
    pub(crate) fn hint_span(&self, h: Hint<'_>) -> HintSpan {
        match h {
            Hint::Found(v) => {
                let start = (v.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
                if start
                    .checked_add(v.len())
                    .is_some_and(|end| end <= self.text.len())
                {
                    HintSpan::Found(start as u32, (start + v.len()) as u32)
                } else {
                    HintSpan::Unknown
                }
            }
            Hint::Missing => HintSpan::Missing,
            Hint::Unknown => HintSpan::Unknown,
        }
    }

    pub(crate) fn set_hints(&mut self, hints: [HintSpan; 2]) {
        self.hints = hints;
    }

    /// Field `i`'s value when `get` has parsed it.
    fn parsed_value(&self, i: usize) -> Option<&Value> {
        self.parsed.get().and_then(|p| p[i].get())
    }

    /// A field's raw JSON text.
    pub fn raw(&self, key: &str) -> Option<&str> {
        let f = &self.fields[self.index(key)?];
        Some(&self.text[f.value.0 as usize..f.value.1 as usize])
    }

    /// A field's value, parsed on first use.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.index(key)?;
        let f = &self.fields[i];
        let parsed = self
            .parsed
            .get_or_init(|| self.fields.iter().map(|_| OnceCell::new()).collect());
        Some(parsed[i].get_or_init(|| {
            let raw = &self.text[f.value.0 as usize..f.value.1 as usize];
            // Most fields rules read are plain strings (event names, sources): taken
            // as they are, without a deserializer. Validated when indexed, so a string
            // with no escape is its text between the quotes.
            if let Some(s) = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .filter(|s| !s.contains('\\'))
            {
                return Value::String(s.to_owned());
            }
            // Validated when indexed, so this parses; `Null` is only a guard.
            serde_json::from_str(raw).unwrap_or(Value::Null)
        }))
    }

    /// A string field without building a `Value`: `Ok(None)` when absent or null.
    pub fn str(&self, key: &str) -> Result<Option<Cow<'_, str>>, &'static str> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        match raw.as_bytes().first() {
            Some(b'"') => json::decode_str(raw).map(Some).ok_or("a string"),
            Some(b'n') => Ok(None),
            Some(b't' | b'f') => Err("a boolean"),
            Some(b'{') => Err("an object"),
            Some(b'[') => Err("an array"),
            _ => Err("a number"),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| self.key(f))
    }

    /// The whole record as a `Value` (keyword rules, tests).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stays_small() {
        // A batch scan holds up to --max-held records: their index is most of their size.
        assert_eq!(std::mem::size_of::<Field>(), 16);
    }

    #[test]
    fn fields_parse_on_demand() {
        let r =
            LazyRecord::parse(r#"{"a": "x", "b\u0041": {"c": [1, 2]}, "n": null, "a": "last"}"#)
                .unwrap();
        assert_eq!(r.str("a").unwrap().as_deref(), Some("last"));
        assert_eq!(r.get("bA").unwrap()["c"][1], 2);
        assert_eq!(r.str("n").unwrap(), None);
        assert_eq!(r.str("bA").unwrap_err(), "an object");
        assert_eq!(r.str("missing").unwrap(), None);
        assert_eq!(r.keys().count(), 4);
        let escaped = LazyRecord::parse(r#"{"s": "tab\there"}"#).unwrap();
        assert_eq!(escaped.str("s").unwrap().as_deref(), Some("tab\there"));
        let dup = LazyRecord::parse(r#"{"eventName": "a", "x": 1, "eventName": "b"}"#).unwrap();
        assert_eq!(dup.str("eventName").unwrap().as_deref(), Some("b"));
        assert!(LazyRecord::parse("[1]").is_err());
        let r = LazyRecord::parse(
            r#"{"u": {"t": "x", "c": {"i": {"t": "Role"}, "i": {"t": "last"}}, "l": [{"t": 1}], "k\u0041": 2}}"#,
        )
        .unwrap();
        let at = |p: &str| {
            let parts: Vec<&str> = p.split('.').collect();
            match r.nested(p, &parts) {
                Nested::Found(v) => Some(v.clone()),
                Nested::Missing => None,
                Nested::Unresolved => Some(Value::from("unresolved")),
            }
        };
        assert_eq!(at("u.c.i.t"), Some(Value::from("last")));
        assert_eq!(at("u.c.i.t"), Some(Value::from("last")), "cached");
        assert_eq!(at("u.t"), Some(Value::from("x")));
        assert_eq!(at("u.kA"), Some(Value::from(2)));
        assert_eq!(at("u.missing"), None);
        assert_eq!(at("u.t.deeper"), None);
        assert_eq!(at("nothing.t"), None);
        assert_eq!(at("u.l.t"), Some(Value::from("unresolved")));
        r.get("u");
        assert_eq!(
            at("u.t"),
            Some(Value::from("unresolved")),
            "parsed: use the value"
        );
        assert!(LazyRecord::parse("{\"a\": }").is_err());
    }

    use proptest::prelude::*;

    proptest::proptest! {
        /// A field parsed on demand (the plain-string fast path included) is what
        /// `serde_json` makes of the whole record.
        #[test]
        fn fields_equal_a_whole_parse(
            fields in proptest::collection::btree_map(
                "[a-zA-Z.]{1,6}",
                proptest::prop_oneof![
                    "(?s).{0,12}".prop_map(Value::from),
                    "[a-z\\\\\"/\u{0}-\u{1f}\u{e9}\u{1F600}]{0,8}".prop_map(Value::from),
                    proptest::num::i64::ANY.prop_map(Value::from),
                    proptest::bool::ANY.prop_map(Value::from),
                    proptest::collection::vec("[a-z\"]{0,3}", 0..3).prop_map(Value::from),
                ],
                0..6,
            )
        ) {
            let whole = Value::Object(fields.into_iter().collect());
            let text = serde_json::to_string(&whole).unwrap();
            let r = LazyRecord::parse(&text).unwrap();
            for (k, v) in whole.as_object().unwrap() {
                prop_assert_eq!(r.get(k), Some(v), "{}", text);
            }
        }
    }
}
