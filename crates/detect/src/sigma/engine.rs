//! The rule engine: detection rules found through the index (`index.rs`) and evaluated
//! over an event's JSON plus parapet's enrichment fields; correlation rules counted in
//! time windows per group.

use super::cond::Cond;
use super::error::EngineError;
use super::index::Index;
use super::matcher::{leaf_value, resolve, Found, Leaf, Matcher, Path, Record};
use super::rule::{Body, CorrelationType, CountOp, Rule, Selection};
use super::window::{window, CorrelationHit, Entry, Group};
use crate::Map;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// A correlation window in a checkpoint, named by its rule id.
#[derive(Serialize, Deserialize)]
pub struct SavedGroup {
    rule: String,
    key: String,
    group: Group,
}

/// An event as rules see it: the record, and parapet's fields under `parapet.`.
pub struct Doc<'a> {
    pub raw: &'a dyn Record,
    /// The `parapet.*` fields, when enrichment ran.
    pub extra: Option<&'a dyn Record>,
}

impl Doc<'_> {
    pub(super) fn get(&self, path: &Path) -> Found<'_> {
        match self.extra {
            Some(extra) if path.parts[0] == "parapet" => resolve(extra, path),
            _ => resolve(self.raw, path),
        }
    }

    fn text(&self, path: &Path) -> Option<String> {
        let mut s = String::new();
        self.push_text(path, &mut s).then_some(s)
    }

    /// Append a scalar field's text to `out`; false when it is missing or not scalar.
    fn push_text(&self, path: &Path, out: &mut String) -> bool {
        use std::fmt::Write;
        match self.get(path) {
            Found::One(Value::String(s)) => out.push_str(s),
            Found::One(v @ (Value::Number(_) | Value::Bool(_))) => {
                let _ = write!(out, "{v}");
            }
            _ => return false,
        }
        true
    }
}

struct Corr {
    rule: usize,
    kind: CorrelationType,
    /// Detection rule indexes, in the correlation's order.
    members: Vec<usize>,
    group_by: Vec<Path>,
    span: i64,
    op: CountOp,
    threshold: u64,
    field: Option<Path>,
    groups: Map<String, Group>,
}

/// Limits on what correlation state may hold.
#[derive(Debug, Clone, Copy)]
pub struct StateLimits {
    /// How late an event may arrive and still join a window.
    pub lateness_ms: i64,
    pub max_entries_per_group: usize,
    pub max_groups: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits {
            lateness_ms: 15 * 60_000,
            max_entries_per_group: 10_000,
            max_groups: 100_000,
        }
    }
}

pub struct Engine {
    rules: Vec<Rule>,
    index: Index,
    /// Detection rules whose own matches are not alerts (a correlation uses them).
    quiet: Vec<bool>,
    /// Detection rule -> (correlation, position) pairs that consume it.
    feeds: Vec<Vec<(usize, usize)>>,
    corrs: Vec<Corr>,
    limits: StateLimits,
    max_time: i64,
    since_sweep: u32,
    pub late_events: u64,
    /// Scratch for group keys.
    key: String,
}

impl Engine {
    pub fn new(rules: Vec<Rule>, limits: StateLimits) -> Result<Engine, EngineError> {
        let mut by_ref: HashMap<&str, usize> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            if matches!(r.body, Body::Detection(_)) {
                by_ref.insert(&r.meta.id, i);
                if let Some(n) = &r.meta.name {
                    by_ref.insert(n, i);
                }
            }
        }
        let mut quiet = vec![false; rules.len()];
        let mut feeds = vec![Vec::new(); rules.len()];
        let mut corrs = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let Body::Correlation(c) = &r.body else {
                continue;
            };
            let mut members = Vec::new();
            for (pos, name) in c.rules.iter().enumerate() {
                let &d = by_ref
                    .get(name.as_str())
                    .ok_or_else(|| EngineError::UnknownRule {
                        file: r.meta.file.clone(),
                        rule: r.meta.id.clone(),
                        name: name.clone(),
                    })?;
                if !c.generate {
                    quiet[d] = true;
                }
                feeds[d].push((corrs.len(), pos));
                members.push(d);
            }
            corrs.push(Corr {
                rule: i,
                kind: c.kind,
                members,
                group_by: c.group_by.clone(),
                span: c.timespan_ms,
                op: c.op,
                threshold: c.threshold,
                field: c.field.clone(),
                groups: Map::default(),
            });
        }
        let index = Index::build(&rules);
        Ok(Engine {
            rules,
            index,
            quiet,
            feeds,
            corrs,
            limits,
            max_time: i64::MIN,
            since_sweep: 0,
            late_events: 0,
            key: String::new(),
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Detection rules the index cannot place, evaluated on every event: each costs
    /// every event a little, so the pack keeps this list short.
    pub fn evaluated_on_every_event(&self) -> &[usize] {
        self.index.unindexed()
    }

    /// Whether a detection rule's own matches are alerts.
    pub fn emits(&self, rule: usize) -> bool {
        !self.quiet[rule]
    }

    /// Detection rules that match (stateless), in rule order.
    pub fn evaluate(&self, doc: &Doc, out: &mut Vec<usize>) {
        out.clear();
        self.index.candidates(doc, out);
        out.retain(|&i| self.matches(i, doc));
    }

    /// What `evaluate` gives, found by evaluating every detection rule: the oracle the
    /// index is tested against, and slow.
    pub fn evaluate_every_rule(&self, doc: &Doc, out: &mut Vec<usize>) {
        out.clear();
        out.extend((0..self.rules.len()).filter(|&i| self.matches(i, doc)));
    }

    fn matches(&self, rule: usize, doc: &Doc) -> bool {
        let Body::Detection(d) = &self.rules[rule].body else {
            return false;
        };
        eval_cond(&d.condition, &d.selections, doc)
    }

    /// Feed detection matches to the correlations; returns what fired.
    pub fn correlate(
        &mut self,
        doc: &Doc,
        time_ms: i64,
        id: &str,
        matched: &[usize],
    ) -> Vec<CorrelationHit> {
        let mut hits = Vec::new();
        if time_ms > self.max_time {
            self.max_time = time_ms;
        }
        let watermark = self.max_time - self.limits.lateness_ms;
        let mut late = false;
        for &d in matched {
            for &(ci, pos) in &self.feeds[d] {
                let c = &mut self.corrs[ci];
                if time_ms < watermark - c.span {
                    late = true;
                    continue;
                }
                // The group's values joined by a unit separator; named only on a hit.
                // Written into a reused buffer: a new key is copied only for a new group.
                let key = &mut self.key;
                key.clear();
                for (i, p) in c.group_by.iter().enumerate() {
                    if i > 0 {
                        key.push('\u{1f}');
                    }
                    doc.push_text(p, key);
                }
                let value = c.field.as_ref().map(|f| doc.text(f).unwrap_or_default());
                let spec = (c.kind, c.members.len(), c.op, c.threshold);
                if !c.groups.contains_key(key.as_str()) {
                    c.groups.insert(key.clone(), Group::default());
                }
                let g = c.groups.get_mut(key.as_str()).expect("inserted above");
                g.touched = time_ms.max(g.touched);
                while g.entries.front().is_some_and(|e| e.t < watermark - c.span) {
                    g.pop_front();
                }
                let at = g.entries.partition_point(|e| e.t <= time_ms);
                // In order (the usual case) the new event is the group's newest, and the
                // window ending at it is the one it can complete.
                let newest = at == g.entries.len();
                g.insert(
                    at,
                    Entry {
                        t: time_ms,
                        pos,
                        value,
                        id: id.to_string(),
                    },
                );
                if g.entries.len() > self.limits.max_entries_per_group {
                    g.pop_front();
                }
                if time_ms <= g.fired_until {
                    continue;
                }
                // Fewer distinct values in the whole group than the rule needs: no
                // window of it can fire.
                if c.kind == CorrelationType::ValueCount {
                    let needed = match c.op {
                        CountOp::Gt => c.threshold + 1,
                        _ => c.threshold,
                    };
                    if (g.distinct() as u64) < needed {
                        continue;
                    }
                }
                // A late event can complete a window that holds events on both sides of
                // it: such a window starts at one of the events up to a span before it
                // (two streams routed side by side deliver a burst out of order).
                // (Collected only then: `Vec::new` does not allocate.)
                let mut late_spans = Vec::new();
                if !newest {
                    let from = g.entries.partition_point(|e| e.t < time_ms - c.span);
                    let mut last = None;
                    for e in g.entries.range(from..) {
                        if e.t >= time_ms {
                            break;
                        }
                        if last != Some(e.t) {
                            last = Some(e.t);
                            late_spans.push((e.t, e.t + c.span));
                        }
                    }
                }
                let spans = [(time_ms - c.span, time_ms), (time_ms, time_ms + c.span)];
                for (lo, hi) in spans.into_iter().chain(late_spans) {
                    if let Some(hit) = window(spec, g, lo, hi) {
                        g.fired_until = hi.max(time_ms + c.span);
                        let group = c
                            .group_by
                            .iter()
                            .zip(key.split('\u{1f}'))
                            .map(|(p, v)| (p.name.clone(), v.to_string()))
                            .collect();
                        hits.push(CorrelationHit {
                            rule: c.rule,
                            group,
                            ..hit
                        });
                        break;
                    }
                }
            }
        }
        if late {
            self.late_events += 1;
        }
        self.since_sweep += 1;
        if self.since_sweep >= 4096 {
            self.sweep();
        }
        hits
    }

    /// Drop windows that can no longer fire and cap the number of groups.
    pub fn sweep(&mut self) {
        self.since_sweep = 0;
        let watermark = self.max_time.saturating_sub(self.limits.lateness_ms);
        for c in &mut self.corrs {
            let horizon = watermark - c.span;
            c.groups.retain(|_, g| {
                while g.entries.front().is_some_and(|e| e.t < horizon) {
                    g.pop_front();
                }
                !g.entries.is_empty() || g.fired_until > watermark
            });
            if c.groups.len() > self.limits.max_groups {
                let mut touched: Vec<i64> = c.groups.values().map(|g| g.touched).collect();
                touched.sort_unstable();
                let cut = touched[c.groups.len() - self.limits.max_groups];
                c.groups.retain(|_, g| g.touched >= cut);
            }
        }
    }

    /// The open windows, for a checkpoint.
    pub fn save(&self) -> Vec<SavedGroup> {
        let mut out = Vec::new();
        for c in &self.corrs {
            for (k, g) in &c.groups {
                out.push(SavedGroup {
                    rule: self.rules[c.rule].meta.id.clone(),
                    key: k.clone(),
                    group: Group {
                        entries: g
                            .entries
                            .iter()
                            .map(|e| Entry {
                                t: e.t,
                                pos: e.pos,
                                value: e.value.clone(),
                                id: e.id.clone(),
                            })
                            .collect(),
                        fired_until: g.fired_until,
                        touched: g.touched,
                        values: None,
                    },
                });
            }
        }
        out
    }

    /// Put saved windows back; windows of rules no longer loaded are dropped.
    pub fn restore(&mut self, saved: Vec<SavedGroup>, max_time: i64) {
        self.max_time = self.max_time.max(max_time);
        for s in saved {
            let rules = &self.rules;
            if let Some(c) = self
                .corrs
                .iter_mut()
                .find(|c| rules[c.rule].meta.id == s.rule)
            {
                let n = c.members.len();
                if s.group.entries.iter().all(|e| e.pos < n) {
                    c.groups.insert(s.key, s.group);
                }
            }
        }
    }

    /// How many correlation windows are open (for memory accounting).
    pub fn open_groups(&self) -> usize {
        self.corrs.iter().map(|c| c.groups.len()).sum()
    }
}

fn eval_cond(c: &Cond, sels: &[Selection], doc: &Doc) -> bool {
    match c {
        Cond::Sel(i) => eval_sel(&sels[*i], doc),
        Cond::Not(x) => !eval_cond(x, sels, doc),
        Cond::And(xs) => xs.iter().all(|x| eval_cond(x, sels, doc)),
        Cond::Or(xs) => xs.iter().any(|x| eval_cond(x, sels, doc)),
    }
}

fn eval_sel(s: &Selection, doc: &Doc) -> bool {
    let fieldref = |p: &Path| doc.text(p);
    match s {
        Selection::Maps(maps) => maps.iter().any(|items| {
            items.iter().all(|it| match &it.field {
                Some(p) => it.matcher.matches(&doc.get(p), &fieldref),
                None => keyword(&it.matcher, doc),
            })
        }),
        Selection::Keywords(leaves) => keyword(&Matcher::Any(leaves.clone()), doc),
    }
}

/// Keywords: any string anywhere in the record.
fn keyword(m: &Matcher, doc: &Doc) -> bool {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
        if depth == 0 {
            return;
        }
        match v {
            Value::String(_) => out.push(v),
            Value::Array(xs) => xs.iter().for_each(|x| strings(x, out, depth - 1)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out, depth - 1)),
            _ => {}
        }
    }
    let whole = doc.raw.whole();
    let mut all = Vec::new();
    strings(&whole, &mut all, 64);
    let leaves = match m {
        Matcher::Any(l) | Matcher::All(l) => l,
        Matcher::Exists(_) => return false,
    };
    let any = |l: &Leaf| all.iter().any(|v| leaf_value(l, v, &|_| None));
    match m {
        Matcher::All(_) => leaves.iter().all(any),
        _ => leaves.iter().any(any),
    }
}
