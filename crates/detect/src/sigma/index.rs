//! The rule index: which detection rules an event can possibly match, found from a few
//! field lookups instead of evaluating every rule.
//!
//! A rule is placed under what its condition cannot match without, by preference:
//! exact values of a field (`eventName: CreateUser`, `errorCode: AccessDenied`,
//! `parapet.newSourceIp: true`), then prefixes (`parapet.eventName|startswith: List`),
//! then the field being there at all (`parapet.via|contains: ..` needs a `via`). Fields
//! most rules name (event name, effects, source) are tried first. A rule the index
//! cannot place is evaluated on every event.
//!
//! The index may offer a rule that then does not match (the matcher decides), never
//! the reverse: its keys follow the matcher's semantics (case ignored, numbers and
//! booleans as their text, arrays searched at any depth, a missing or null field
//! matching only `null`), and `Engine::evaluate_every_rule` is the oracle the tests
//! hold it to.

use super::cond::Cond;
use super::engine::Doc;
use super::matcher::{Found, Leaf, Matcher, Path, StrOp};
use super::rule::{Body, Rule, Selection};
use crate::Map;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// Fields tried first, in order: most CloudTrail rules name one of these.
const PREFERRED: [&str; 4] = [
    "eventName",
    "parapet.eventName",
    "parapet.effects",
    "eventSource",
];

/// What an event must have at a field for a rule to match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// This value's text, lowercased.
    Exact(String),
    /// A text starting with this, lowercased.
    Prefix(String),
    /// Any value but null.
    Present,
}

/// How loose a requirement may be: rules are placed at the strictest level that works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Exact,
    Prefix,
    Present,
}

struct FieldIndex {
    path: Path,
    /// Lowercased text -> rules; bytes, so a key made on the stack needs no UTF-8 check.
    exact: Map<Vec<u8>, Vec<usize>>,
    prefixes: Vec<(Vec<u8>, Vec<usize>)>,
    present: Vec<usize>,
    /// What `false` and `true` find, worked out once: flags are read on every event.
    on_bool: [Vec<usize>; 2],
}

pub(super) struct Index {
    fields: Vec<FieldIndex>,
    unindexed: Vec<usize>,
}

impl Index {
    pub fn build(rules: &[Rule]) -> Index {
        let mut named = BTreeSet::new();
        for r in rules {
            if let Body::Detection(d) = &r.body {
                for s in &d.selections {
                    if let Selection::Maps(maps) = s {
                        for it in maps.iter().flatten() {
                            if let Some(f) = &it.field {
                                named.insert(f.name.as_str());
                            }
                        }
                    }
                }
            }
        }
        let paths: Vec<Path> = PREFERRED
            .iter()
            .copied()
            .chain(named.into_iter().filter(|f| !PREFERRED.contains(f)))
            .map(Path::new)
            .collect();
        let mut fields: Vec<FieldIndex> = paths
            .iter()
            .map(|p| FieldIndex {
                path: p.clone(),
                exact: Map::default(),
                prefixes: Vec::new(),
                present: Vec::new(),
                on_bool: Default::default(),
            })
            .collect();
        let mut unindexed = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let Body::Detection(d) = &r.body else {
                continue;
            };
            let placed = [Level::Exact, Level::Prefix, Level::Present]
                .into_iter()
                .find_map(|level| index_keys(&d.condition, &d.selections, &paths, level));
            let Some(keys) = placed else {
                unindexed.push(i);
                continue;
            };
            for (field, keys) in keys {
                let f = &mut fields[field];
                for k in keys {
                    let at = match k {
                        Key::Exact(v) => f.exact.entry(v.into_bytes()).or_default(),
                        Key::Prefix(p) => {
                            match f.prefixes.iter().position(|(x, _)| *x == p.as_bytes()) {
                                Some(j) => &mut f.prefixes[j].1,
                                None => {
                                    f.prefixes.push((p.into_bytes(), Vec::new()));
                                    &mut f.prefixes.last_mut().expect("pushed").1
                                }
                            }
                        }
                        Key::Present => &mut f.present,
                    };
                    if at.last() != Some(&i) {
                        at.push(i);
                    }
                }
            }
        }
        fields.retain(|f| !(f.exact.is_empty() && f.prefixes.is_empty() && f.present.is_empty()));
        for f in &mut fields {
            for b in [false, true] {
                let mut found = Vec::new();
                f.text(if b { "true" } else { "false" }, &mut found);
                f.on_bool[b as usize] = found;
            }
        }
        Index { fields, unindexed }
    }

    pub fn unindexed(&self) -> &[usize] {
        &self.unindexed
    }

    /// Rules `doc` may match, sorted, each once.
    pub fn candidates(&self, doc: &Doc, out: &mut Vec<usize>) {
        for f in &self.fields {
            match doc.get(&f.path) {
                Found::Missing | Found::One(Value::Null) => continue,
                Found::One(v) => f.look(v, out),
                Found::Many(vs) => vs.into_iter().for_each(|v| f.look(v, out)),
            }
        }
        out.extend_from_slice(&self.unindexed);
        out.sort_unstable();
        out.dedup();
    }
}

impl FieldIndex {
    /// Candidates for one value found at the field (not null).
    fn look(&self, v: &Value, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.present);
        if self.exact.is_empty() && self.prefixes.is_empty() {
            return;
        }
        self.texts(v, out);
    }

    /// Every scalar's text, through arrays at any depth, as the matcher sees them.
    fn texts(&self, v: &Value, out: &mut Vec<usize>) {
        match v {
            Value::String(s) => self.text(s, out),
            Value::Bool(b) => out.extend_from_slice(&self.on_bool[*b as usize]),
            Value::Number(n) => self.text(&n.to_string(), out),
            Value::Array(items) => items.iter().for_each(|i| self.texts(i, out)),
            Value::Null | Value::Object(_) => {}
        }
    }

    fn text(&self, s: &str, out: &mut Vec<usize>) {
        let mut buf = [0u8; 64];
        let s = lowercase(s, &mut buf);
        if let Some(rules) = self.exact.get(s.as_ref()) {
            out.extend_from_slice(rules);
        }
        for (p, rules) in &self.prefixes {
            if s.starts_with(p) {
                out.extend_from_slice(rules);
            }
        }
    }
}

/// Where the index finds a rule at `level`: (field, keys) pairs such that an event
/// matches the condition only if it has one of the keys at one of the fields. One field
/// when one suffices (the first of `fields` that does); an `or` whose branches need
/// different fields (`parapet.effects: x or eventName: [...]`) is found under each.
fn index_keys(
    c: &Cond,
    sels: &[Selection],
    fields: &[Path],
    level: Level,
) -> Option<Vec<(usize, HashSet<Key>)>> {
    let one = fields
        .iter()
        .enumerate()
        .find_map(|(i, f)| required(c, sels, &f.name, level).map(|keys| (i, keys)));
    if let Some(key) = one {
        return Some(vec![key]);
    }
    match c {
        Cond::Or(xs) => {
            let each: Option<Vec<_>> = xs
                .iter()
                .map(|x| index_keys(x, sels, fields, level))
                .collect();
            each.map(|keys| keys.into_iter().flatten().collect())
        }
        Cond::And(xs) => xs.iter().find_map(|x| index_keys(x, sels, fields, level)),
        Cond::Sel(_) | Cond::Not(_) => None,
    }
}

/// Keys of `field` a condition cannot match without; `None` when it can match without
/// any (at `level`).
fn required(c: &Cond, sels: &[Selection], field: &str, level: Level) -> Option<HashSet<Key>> {
    match c {
        Cond::Sel(i) => sel_keys(&sels[*i], field, level),
        Cond::Not(_) => None,
        // Every branch must hold, so any one branch's keys are required. Not their
        // intersection: a field with several values (effects) can meet each branch
        // with a different one. The fewest keys, exact ones first, are the sharpest.
        Cond::And(xs) => xs
            .iter()
            .filter_map(|x| required(x, sels, field, level))
            .min_by_key(|keys| {
                let loose = keys.iter().any(|k| !matches!(k, Key::Exact(_)));
                (loose, keys.len())
            }),
        Cond::Or(xs) => xs.iter().map(|x| required(x, sels, field, level)).try_fold(
            HashSet::new(),
            |mut acc, keys| {
                acc.extend(keys?);
                Some(acc)
            },
        ),
    }
}

fn sel_keys(s: &Selection, field: &str, level: Level) -> Option<HashSet<Key>> {
    let Selection::Maps(maps) = s else {
        return None;
    };
    let mut out = HashSet::new();
    // Any map may match: each must require the field.
    for items in maps {
        // Every item of a map must hold: the first on the field that requires it does.
        let keys = items
            .iter()
            .filter(|it| it.field.as_ref().is_some_and(|f| f.name == field))
            .find_map(|it| matcher_keys(&it.matcher, level))?;
        out.extend(keys);
    }
    Some(out)
}

fn matcher_keys(m: &Matcher, level: Level) -> Option<Vec<Key>> {
    match m {
        Matcher::Exists(true) if level >= Level::Present => Some(vec![Key::Present]),
        Matcher::Exists(_) => None,
        // Any leaf may match: each must give keys.
        Matcher::Any(leaves) => leaves.iter().try_fold(Vec::new(), |mut acc, l| {
            acc.extend(leaf_keys(l, level)?);
            Some(acc)
        }),
        // Every leaf must match: one leaf's keys suffice.
        Matcher::All(leaves) => leaves.iter().find_map(|l| leaf_keys(l, level)),
    }
}

fn leaf_keys(l: &Leaf, level: Level) -> Option<Vec<Key>> {
    let exact = |xs: &[&str]| Some(xs.iter().map(|x| Key::Exact(x.to_string())).collect());
    match l {
        // A missing field matches null.
        Leaf::Null => None,
        Leaf::Str {
            op: StrOp::Exact,
            needle,
            ..
        } => Some(vec![Key::Exact(needle.to_lowercase())]),
        // The texts the matcher reads as booleans.
        Leaf::Bool(true) => exact(&["true", "1", "yes"]),
        Leaf::Bool(false) => exact(&["false", "0", "no"]),
        Leaf::Str {
            op: StrOp::StartsWith,
            needle,
            ..
        } if level >= Level::Prefix => Some(vec![Key::Prefix(needle.to_lowercase())]),
        // Every other leaf needs a value (numbers equal as numbers too: 1 and 1.0).
        _ if level >= Level::Present => Some(vec![Key::Present]),
        _ => None,
    }
}

/// `s` lowercased as the index keys are, on the stack when it is short ASCII (event
/// names are: a `String` per event and indexed field was 2% of the detector's work).
fn lowercase<'a>(s: &'a str, buf: &'a mut [u8; 64]) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    if !s.bytes().any(|b| b.is_ascii_uppercase()) && s.is_ascii() {
        return Cow::Borrowed(s.as_bytes());
    }
    if s.is_ascii() && s.len() <= buf.len() {
        let out = &mut buf[..s.len()];
        out.copy_from_slice(s.as_bytes());
        out.make_ascii_lowercase();
        return Cow::Borrowed(out);
    }
    Cow::Owned(s.to_lowercase().into_bytes())
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The index key is the value lowercased, whichever way it is made.
        #[test]
        fn index_keys_are_lowercase(s in "(?s).{0,80}|[A-Za-z]{0,70}") {
            let mut buf = [0u8; 64];
            let got = super::lowercase(&s, &mut buf).into_owned();
            proptest::prop_assert_eq!(got, s.to_lowercase().into_bytes());
        }
    }
}
