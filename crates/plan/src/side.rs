//! A view of one side (before or after) of a change: the value together with
//! Terraform's parallel "unknown" and "sensitive" marker trees.

use serde_json::Value;

pub static NULL: Value = Value::Null;

#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    pub v: &'a Value,
    unknown: &'a Value,
    sensitive: &'a Value,
}

impl<'a> Side<'a> {
    pub fn new(v: &'a Value, unknown: &'a Value, sensitive: &'a Value) -> Side<'a> {
        Side {
            v,
            unknown,
            sensitive,
        }
    }

    pub fn null() -> Side<'static> {
        Side::new(&NULL, &NULL, &NULL)
    }

    pub fn get(&self, key: &str) -> Side<'a> {
        Side {
            v: self.v.get(key).unwrap_or(&NULL),
            unknown: marker_get(self.unknown, key),
            sensitive: marker_get(self.sensitive, key),
        }
    }

    pub fn at(&self, i: usize) -> Side<'a> {
        Side {
            v: self.v.get(i).unwrap_or(&NULL),
            unknown: marker_at(self.unknown, i),
            sensitive: marker_at(self.sensitive, i),
        }
    }

    /// The first element of a single-block list (`vpc_config[0]`) or the value itself.
    pub fn block(&self, key: &str) -> Side<'a> {
        let s = self.get(key);
        if s.v.is_array() {
            s.at(0)
        } else {
            s
        }
    }

    /// Wholly unknown until apply.
    pub fn is_unknown(&self) -> bool {
        self.unknown == &Value::Bool(true)
    }

    /// Unknown anywhere inside.
    pub fn has_unknown(&self) -> bool {
        any_true(self.unknown)
    }

    /// Attributes that are (partly) unknown until apply, present in `after` or not.
    pub fn unknown_keys(&self) -> Vec<&'a String> {
        self.unknown
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| any_true(v))
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Terraform's sensitive marks for this value: `true`, or a tree of them.
    pub fn sensitive_marks(&self) -> &'a Value {
        self.sensitive
    }

    pub fn is_sensitive(&self) -> bool {
        any_true(self.sensitive)
    }

    pub fn exists(&self) -> bool {
        !self.v.is_null() || self.is_unknown()
    }

    pub fn str(&self) -> Option<&'a str> {
        self.v.as_str()
    }

    pub fn str_or(&self, d: &'a str) -> &'a str {
        self.v.as_str().unwrap_or(d)
    }

    pub fn bool(&self) -> Option<bool> {
        match self.v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    pub fn i64(&self) -> Option<i64> {
        match self.v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self.v {
            Value::Array(a) => a.len(),
            _ => self.unknown.as_array().map_or(0, Vec::len),
        }
    }

    pub fn items(&self) -> impl Iterator<Item = Side<'a>> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Strings of a list attribute, with a flag for unknown elements.
    pub fn strings(&self) -> (Vec<&'a str>, bool) {
        let mut out = Vec::new();
        let mut unknown = self.is_unknown();
        for item in self.items() {
            match item.str() {
                Some(s) => out.push(s),
                None if item.is_unknown() => unknown = true,
                None => {}
            }
        }
        (out, unknown)
    }
}

fn marker_get<'a>(m: &'a Value, key: &str) -> &'a Value {
    match m {
        Value::Bool(true) => m,
        Value::Object(o) => o.get(key).unwrap_or(&NULL),
        _ => &NULL,
    }
}

fn marker_at(m: &Value, i: usize) -> &Value {
    match m {
        Value::Bool(true) => m,
        Value::Array(a) => a.get(i).unwrap_or(&NULL),
        _ => &NULL,
    }
}

pub fn any_true(m: &Value) -> bool {
    match m {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(any_true),
        Value::Object(o) => o.values().any(any_true),
        _ => false,
    }
}
