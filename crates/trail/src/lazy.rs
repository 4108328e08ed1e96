//! A record's JSON, parsed only as deep as someone looks.
//!
//! The top level is split once into (key, raw value) spans without building values;
//! a field's value is parsed the first time it is asked for and kept. Most rules and
//! most of parapet read a handful of top-level strings, so most of a record (request
//! parameters, response elements) is never turned into a `Value` at all.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

#[derive(Debug, Clone)]
enum Key {
    Span(u32, u32),
    Owned(Box<str>),
}

#[derive(Debug, Clone)]
struct Field {
    key: Key,
    value: (u32, u32),
}

/// Keys every reader asks for: found by a `match`, not a scan.
const KNOWN: [&str; 22] = [
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "eventID",
    "readOnly",
    "errorCode",
    "errorMessage",
    "recipientAccountId",
    "resources",
    "eventType",
    "Records",
    "Events",
    "CloudTrailEvent",
    "detail-type",
    "detail",
];

fn known(key: &str) -> Option<usize> {
    KNOWN.iter().position(|k| *k == key)
}

/// `known` by length first: cheaper than comparing every name.
fn known_slot(key: &str) -> Option<usize> {
    match key.len() {
        6..=18 => known(key),
        _ => None,
    }
}

const NONE: u8 = u8::MAX;

/// One JSON object, its top level indexed, its values parsed on demand.
#[derive(Debug, Clone)]
pub struct LazyRecord {
    text: Box<str>,
    fields: Vec<Field>,
    parsed: Vec<OnceCell<Value>>,
    /// Field index of each known key (`NONE` when absent; the last duplicate wins).
    known: [u8; KNOWN.len()],
}

struct KeyDe<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for KeyDe<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyDe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(KeyDe(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(KeyDe(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(KeyDe(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

struct Top<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Top<'de>, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(24));
                while let Some((k, val)) = m.next_entry::<KeyDe<'de>, &'de RawValue>()? {
                    v.push((k.0, val));
                }
                Ok(Top(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl LazyRecord {
    /// Index `text`, which must be one JSON object. Errors name line and column.
    pub fn parse(text: &str) -> Result<LazyRecord, serde_json::Error> {
        let top: Top = serde_json::from_str(text)?;
        let base = text.as_ptr() as usize;
        let off = |s: &str| (s.as_ptr() as usize - base) as u32;
        let fields: Vec<Field> = top
            .0
            .iter()
            .map(|(k, v)| Field {
                key: match k {
                    Cow::Borrowed(b) => Key::Span(off(b), off(b) + b.len() as u32),
                    Cow::Owned(o) => Key::Owned(o.clone().into_boxed_str()),
                },
                value: (off(v.get()), off(v.get()) + v.get().len() as u32),
            })
            .collect();
        let parsed = vec![OnceCell::new(); fields.len()];
        let mut idx = [NONE; KNOWN.len()];
        for (i, (k, _)) in top.0.iter().enumerate() {
            if let (Some(slot), Ok(i)) = (known(k), u8::try_from(i)) {
                idx[slot] = i;
            }
        }
        // Past 255 fields the table cannot point: fall back to scanning for all keys.
        let known_ok = fields.len() < usize::from(NONE);
        Ok(LazyRecord {
            text: text.into(),
            fields,
            parsed,
            known: if known_ok { idx } else { [NONE; KNOWN.len()] },
        })
    }

    fn key<'a>(&'a self, f: &'a Field) -> &'a str {
        match &f.key {
            Key::Span(a, b) => &self.text[*a as usize..*b as usize],
            Key::Owned(s) => s,
        }
    }

    /// The last field named `key` (as `serde_json` keeps the last of duplicates).
    fn index(&self, key: &str) -> Option<usize> {
        if self.fields.len() < usize::from(NONE) {
            if let Some(slot) = known_slot(key) {
                let i = self.known[slot];
                return (i != NONE).then_some(usize::from(i));
            }
        }
        self.fields.iter().rposition(|f| self.key(f) == key)
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
        Some(self.parsed[i].get_or_init(|| {
            serde_json::from_str(&self.text[f.value.0 as usize..f.value.1 as usize])
                .expect("validated when indexed")
        }))
    }

    /// A string field without building a `Value`: `Ok(None)` when absent or null.
    pub fn str(&self, key: &str) -> Result<Option<Cow<'_, str>>, &'static str> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        match raw.as_bytes().first() {
            Some(b'"') => match serde_json::from_str::<&str>(raw) {
                Ok(s) => Ok(Some(Cow::Borrowed(s))),
                Err(_) => serde_json::from_str::<String>(raw)
                    .map(|s| Some(Cow::Owned(s)))
                    .map_err(|_| "a string"),
            },
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
        serde_json::from_str(&self.text).expect("validated when indexed")
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(LazyRecord::parse("{\"a\": }").is_err());
    }
}
