//! Walking a value: names, name/value pairs, JSON held in strings, shapes.

use crate::{Masker, MASK};
use serde_json::Value;
use std::borrow::Cow;

/// JSON in a string in a string ... deeper than this is masked whole (fail closed).
const MAX_NESTED_JSON: u8 = 4;

struct Walk<'m> {
    m: &'m Masker,
    /// An AWS access key id was seen somewhere in the value.
    key_id_seen: bool,
    /// Second pass: mask 40-character secret access keys next to that key id.
    near_key_id: bool,
}

pub(crate) fn mask_value(m: &Masker, v: &mut Value) -> bool {
    let mut w = Walk {
        m,
        key_id_seen: false,
        near_key_id: false,
    };
    let mut changed = w.value(v, 0);
    if w.key_id_seen {
        w.near_key_id = true;
        changed |= w.value(v, 0);
    }
    changed
}

pub(crate) fn mask_text<'a>(m: &Masker, s: &'a str) -> Cow<'a, str> {
    let mut w = Walk {
        m,
        key_id_seen: false,
        near_key_id: m.shapes.has_access_key_id(s),
    };
    match w.string(s, 0) {
        Some(x) => Cow::Owned(x),
        None => Cow::Borrowed(s),
    }
}

fn set_mask(v: &mut Value) -> bool {
    match v {
        Value::String(s) if s == MASK => false,
        _ => {
            *v = Value::String(MASK.into());
            true
        }
    }
}

impl Walk<'_> {
    fn value(&mut self, v: &mut Value, nest: u8) -> bool {
        match v {
            Value::String(s) => match self.string(s, nest) {
                Some(x) => {
                    *s = x;
                    true
                }
                None => false,
            },
            Value::Array(a) => {
                let mut changed = false;
                for x in a {
                    changed |= self.value(x, nest);
                }
                changed
            }
            Value::Object(o) => {
                let names = &self.m.names;
                // A name/value pair with a secret name: mask its value.
                let mut pair_value: Option<String> = None;
                if o.len() <= 8 {
                    let secret_name = o.iter().any(|(k, x)| {
                        (names.is_pair_name(k) && x.as_str().is_some_and(|n| names.is_secret(n)))
                            || names.is_secret_type(k, x)
                    });
                    if secret_name {
                        pair_value = o.keys().find(|k| names.is_pair_value(k)).cloned();
                    }
                }
                let mut changed = false;
                for (k, x) in o.iter_mut() {
                    if pair_value.as_deref() == Some(k.as_str()) || names.is_secret(k) {
                        changed |= self.secret(x, nest);
                    } else {
                        changed |= self.value(x, nest);
                    }
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// A value held under a secret name: strings and numbers masked, containers masked
    /// inside except under names that refer to the secret (`MasterUserSecret.SecretArn`).
    /// Flags (booleans) and nulls say nothing secret and stay.
    fn secret(&mut self, v: &mut Value, nest: u8) -> bool {
        match v {
            Value::Null | Value::Bool(_) => false,
            Value::String(_) | Value::Number(_) => set_mask(v),
            Value::Array(a) => {
                let mut changed = false;
                for x in a {
                    changed |= self.secret(x, nest);
                }
                changed
            }
            Value::Object(o) => {
                let mut changed = false;
                for (k, x) in o.iter_mut() {
                    if self.m.names.is_reference(k) {
                        changed |= self.value(x, nest);
                    } else {
                        changed |= self.secret(x, nest);
                    }
                }
                changed
            }
        }
    }

    /// The masked text, or `None` when nothing in it is secret.
    fn string(&mut self, s: &str, nest: u8) -> Option<String> {
        if !self.near_key_id && self.m.shapes.has_access_key_id(s) {
            self.key_id_seen = true;
        }
        let t = s.trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            if let Ok(mut doc) = serde_json::from_str::<Value>(s) {
                if nest >= MAX_NESTED_JSON {
                    return Some(MASK.into());
                }
                return self
                    .value(&mut doc, nest + 1)
                    .then(|| serde_json::to_string(&doc).expect("a JSON value serialises"));
            }
        }
        self.m.shapes.mask(&self.m.names, s, self.near_key_id)
    }
}

/// Terraform's `before_sensitive` / `after_sensitive` marks: every value marked `true`
/// (at any depth) is replaced by the mask. True when anything was.
pub fn apply_marks(v: &mut Value, marks: &Value) -> bool {
    match (marks, v) {
        (Value::Bool(true), v) => !v.is_null() && set_mask(v),
        (Value::Array(ms), Value::Array(a)) => {
            let mut changed = false;
            for (x, m) in a.iter_mut().zip(ms) {
                changed |= apply_marks(x, m);
            }
            changed
        }
        (Value::Object(ms), Value::Object(o)) => {
            let mut changed = false;
            for (k, m) in ms {
                if let Some(x) = o.get_mut(k) {
                    changed |= apply_marks(x, m);
                }
            }
            changed
        }
        _ => false,
    }
}
