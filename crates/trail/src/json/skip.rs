//! Reading text that [`index_object`](super::index_object) has already validated:
//! entries of nested objects, one field, and JSON strings decoded, all without
//! checking the grammar again.

use super::{zero_bytes, ONES};

/// The entries of an object whose text has been validated (a field of a record
/// [`index_object`] accepted): `(raw key, raw value)`, keys still quoted.
pub fn entries(obj: &str) -> Entries<'_> {
    let i = obj.find('{').map_or(obj.len(), |i| i + 1);
    Entries { s: obj, i }
}

pub struct Entries<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut i = skip_ws_and(b, self.i, b',');
        if b.get(i) != Some(&b'"') {
            self.i = b.len();
            return None;
        }
        let k0 = i;
        i = skip_string(b, i);
        let k1 = i;
        i = skip_ws_and(b, i, b':');
        let v0 = i;
        i = skip_value(b, i);
        self.i = i;
        // Every span starts and ends at ASCII punctuation, so these slices are sound.
        Some((&self.s[k0..k1], &self.s[v0..i]))
    }
}

/// The raw value of `name` in a validated object's text; the last of duplicate keys,
/// as `serde_json` keeps.
pub fn field<'a>(obj: &'a str, name: &str) -> Option<&'a str> {
    entries(obj)
        .filter(|(k, _)| key_is(k, name))
        .last()
        .map(|(_, v)| v)
}

/// A raw, quoted key equal to `name`.
fn key_is(raw: &str, name: &str) -> bool {
    let inner = &raw[1..raw.len() - 1];
    if inner == name {
        return true;
    }
    inner.contains('\\') && decode_str(raw).is_some_and(|k| k == name)
}

fn skip_ws_and(b: &[u8], mut i: usize, sep: u8) -> usize {
    while let Some(&c) = b.get(i) {
        if c == sep || c.is_ascii_whitespace() {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// At `"` of valid text: just past the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    loop {
        while i + 8 <= b.len() {
            let x = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
            let hits = zero_bytes(x ^ (ONES * u64::from(b'"')))
                | zero_bytes(x ^ (ONES * u64::from(b'\\')));
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match b.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return b.len(),
        }
    }
}

/// At the start of a valid value: just past its end.
fn skip_value(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        _ => {
            while let Some(&c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                    break;
                }
                i += 1;
            }
            i
        }
    }
}

/// A raw JSON string's text, decoded; `None` when `raw` is not a string.
pub fn decode_str(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw)
        .ok()
        .map(std::borrow::Cow::Owned)
}
