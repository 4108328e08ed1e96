//! Put late-delivered events back in time order.
//!
//! CloudTrail writes files up to ~15 minutes after the calls they record, and files
//! arrive in any order. A batch scan holds events for `lateness` of event time and
//! releases them oldest first, so lineage ("the function changed, then its role acted")
//! and windows see the order the calls happened in. Memory is bounded by the events of
//! one lateness interval.

use parapet_trail::Event;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Boxed: heap sifts move a pointer, not a whole event.
struct Held(Box<Event>, u64);

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    // Reversed: BinaryHeap is a max-heap and we want the oldest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.0.time_ms, o.1).cmp(&(self.0.time_ms, self.1))
    }
}

pub struct Reorder {
    heap: BinaryHeap<Held>,
    lateness_ms: i64,
    max_time: i64,
    seq: u64,
    max_held: usize,
}

impl Reorder {
    /// Hold events for `lateness_ms` of event time, and never more than `max_held`
    /// (past that, the oldest go on: memory stays bounded, order becomes best effort).
    pub fn new(lateness_ms: i64, max_held: usize) -> Self {
        Reorder {
            heap: BinaryHeap::new(),
            lateness_ms,
            max_time: i64::MIN,
            seq: 0,
            max_held,
        }
    }

    /// Hold `e`; hand on every event that can no longer be preceded by a later arrival.
    pub fn push(&mut self, e: Box<Event>, out: &mut dyn FnMut(Box<Event>)) {
        self.max_time = self.max_time.max(e.time_ms);
        self.seq += 1;
        self.heap.push(Held(e, self.seq));
        let ready = self.max_time.saturating_sub(self.lateness_ms);
        while let Some(top) = self.heap.peek() {
            if top.0.time_ms > ready && self.heap.len() <= self.max_held {
                break;
            }
            out(self.heap.pop().expect("peeked").0);
        }
    }

    /// End of input: everything still held, oldest first.
    pub fn flush(&mut self, out: &mut dyn FnMut(Box<Event>)) {
        while let Some(h) = self.heap.pop() {
            out(h.0);
        }
    }

    pub fn held(&self) -> usize {
        self.heap.len()
    }
}
