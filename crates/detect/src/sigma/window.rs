//! Correlation windows: the events one group has seen, kept in time order, and the
//! count a correlation rule asks of a window (events, distinct values, rules seen in
//! order or in any order).

use super::rule::{CorrelationType, CountOp};
use crate::Map;
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};

/// A correlation that fired: the window's events for one group.
#[derive(Debug, Clone)]
pub struct CorrelationHit {
    /// Index of the correlation rule in [`Engine::rules`].
    pub rule: usize,
    pub group: Vec<(String, String)>,
    pub first_ms: i64,
    pub last_ms: i64,
    pub count: u64,
    pub event_ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) t: i64,
    pub(super) pos: usize,
    pub(super) value: Option<String>,
    pub(super) id: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Group {
    pub(super) entries: VecDeque<Entry>,
    /// No new alert for this group until an event after this time.
    pub(super) fired_until: i64,
    pub(super) touched: i64,
    /// How many entries hold each non-empty value: a bound that lets value counts skip
    /// the window scan. Rebuilt on first use after a restore.
    #[serde(skip)]
    pub(super) values: Option<Map<String, u32>>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            entries: VecDeque::new(),
            fired_until: i64::MIN,
            touched: i64::MIN,
            values: None,
        }
    }
}

impl Group {
    pub(super) fn insert(&mut self, at: usize, e: Entry) {
        if let (Some(m), Some(v)) = (&mut self.values, &e.value) {
            if let Some(n) = m.get_mut(v.as_str()) {
                *n += 1;
            } else if !v.is_empty() {
                m.insert(v.clone(), 1);
            }
        }
        self.entries.insert(at, e);
    }

    pub(super) fn pop_front(&mut self) {
        let Some(e) = self.entries.pop_front() else {
            return;
        };
        if let (Some(m), Some(v)) = (&mut self.values, &e.value) {
            if let Some(n) = m.get_mut(v) {
                *n -= 1;
                if *n == 0 {
                    m.remove(v);
                }
            }
        }
    }

    /// Distinct non-empty values over all entries (any window holds at most these).
    pub(super) fn distinct(&mut self) -> usize {
        if self.values.is_none() {
            let mut m: Map<String, u32> = Map::default();
            for v in self.entries.iter().filter_map(|e| e.value.as_deref()) {
                if !v.is_empty() {
                    *m.entry(v.to_string()).or_default() += 1;
                }
            }
            self.values = Some(m);
        }
        self.values.as_ref().map_or(0, Map::len)
    }
}

pub(super) type Spec = (CorrelationType, usize, CountOp, u64);

pub(super) fn window(spec: Spec, g: &Group, lo: i64, hi: i64) -> Option<CorrelationHit> {
    let (kind, members, op, threshold) = spec;
    let start = g.entries.partition_point(|e| e.t < lo);
    let end = g.entries.partition_point(|e| e.t <= hi);
    if start >= end {
        return None;
    }
    // Cheap bound first: distinct values and rules seen never exceed the events.
    let events = (end - start) as u64;
    let needed = match op {
        CountOp::Gt => threshold + 1,
        _ => threshold,
    };
    if events < needed {
        return None;
    }
    let w = || g.entries.range(start..end);
    let count = match kind {
        CorrelationType::EventCount => events,
        CorrelationType::ValueCount => {
            // Few distinct values in practice: a small vector beats hashing.
            let mut seen: Vec<&str> = Vec::new();
            for v in w().filter_map(|e| e.value.as_deref()) {
                if !v.is_empty() && !seen.contains(&v) {
                    seen.push(v);
                    if seen.len() as u64 > threshold {
                        break;
                    }
                }
            }
            seen.len() as u64
        }
        CorrelationType::Temporal => w().map(|e| e.pos).collect::<HashSet<_>>().len() as u64,
        CorrelationType::TemporalOrdered => {
            // The longest prefix of the rule order seen in order.
            let mut next = 0;
            for e in w() {
                if e.pos == next {
                    next += 1;
                    if next == members {
                        break;
                    }
                }
            }
            next as u64
        }
    };
    let fire = match op {
        CountOp::Gt => count > threshold,
        CountOp::Gte => count >= threshold,
        CountOp::Eq => count == threshold,
    };
    fire.then(|| CorrelationHit {
        rule: 0,
        group: Vec::new(),
        first_ms: g.entries[start].t,
        last_ms: g.entries[end - 1].t,
        count,
        event_ids: g
            .entries
            .range(start.max(end.saturating_sub(50))..end)
            .map(|e| e.id.clone())
            .collect(),
    })
}
