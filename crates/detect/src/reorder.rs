//! Put late-delivered events back in time order.
//!
//! CloudTrail writes files up to ~15 minutes after the calls they record, and files
//! arrive in any order. A batch scan holds events for `lateness` of event time and
//! releases them oldest first, so lineage ("the function changed, then its role acted")
//! and windows see the order the calls happened in. Memory is bounded by the events of
//! one lateness interval.
//!
//! Most input is already in order, so arrivals no older than the newest held one go to
//! a queue in arrival order, and only the others to a heap; the oldest of the two
//! fronts goes on first. Released in the same order as one heap would, without sifting
//! a quarter of a million held events (each comparison a cache miss) per arrival.

use parapet_trail::Event;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// The sort key is kept beside the box so that comparing two held events does not
/// reach into either.
struct Held {
    time_ms: i64,
    seq: u64,
    event: Box<Event>,
}

impl Held {
    fn key(&self) -> (i64, u64) {
        (self.time_ms, self.seq)
    }
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
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
        o.key().cmp(&self.key())
    }
}

pub struct Reorder {
    /// Arrivals in time order (each no older than the one before): sorted by key.
    run: VecDeque<Held>,
    /// Arrivals older than the run's newest.
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
            run: VecDeque::new(),
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
        let h = Held {
            time_ms: e.time_ms,
            seq: self.seq,
            event: e,
        };
        if self.run.back().is_none_or(|b| h.time_ms >= b.time_ms) {
            self.run.push_back(h);
        } else {
            self.heap.push(h);
        }
        let ready = self.max_time.saturating_sub(self.lateness_ms);
        while let Some(oldest) = self.oldest_time() {
            if oldest > ready && self.held() <= self.max_held {
                break;
            }
            out(self.pop().expect("not empty"));
        }
    }

    /// End of input: everything still held, oldest first.
    pub fn flush(&mut self, out: &mut dyn FnMut(Box<Event>)) {
        while let Some(e) = self.pop() {
            out(e);
        }
    }

    pub fn held(&self) -> usize {
        self.run.len() + self.heap.len()
    }

    /// Whether the oldest held event is the run's front (else the heap's top).
    fn oldest_in_run(&self) -> Option<bool> {
        match (self.run.front(), self.heap.peek()) {
            (Some(r), Some(h)) => Some(r.key() <= h.key()),
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        }
    }

    fn oldest_time(&self) -> Option<i64> {
        match self.oldest_in_run()? {
            true => self.run.front().map(|h| h.time_ms),
            false => self.heap.peek().map(|h| h.time_ms),
        }
    }

    fn pop(&mut self) -> Option<Box<Event>> {
        let held = match self.oldest_in_run()? {
            true => self.run.pop_front(),
            false => self.heap.pop(),
        };
        held.map(|h| h.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(id: usize, time_ms: i64) -> Box<Event> {
        let mut e = Event::from_json(&format!(
            r#"{{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventTime": "2024-08-01T13:52:02Z", "eventID": "{id}"}}"#
        ))
        .unwrap();
        e.time_ms = time_ms;
        Box::new(e)
    }

    /// The rule written plainly: hold everything; after each arrival release, oldest
    /// first (ties in arrival order), while the oldest is past the lateness or too many
    /// are held.
    fn model(times: &[i64], lateness: i64, max_held: usize) -> Vec<usize> {
        let (mut held, mut out, mut max_time) = (Vec::new(), Vec::new(), i64::MIN);
        let oldest = |held: &Vec<(i64, usize)>| (0..held.len()).min_by_key(|&i| held[i]);
        for (id, &t) in times.iter().enumerate() {
            max_time = max_time.max(t);
            held.push((t, id));
            while let Some(i) = oldest(&held) {
                if held[i].0 > max_time.saturating_sub(lateness) && held.len() <= max_held {
                    break;
                }
                out.push(held.remove(i).1);
            }
        }
        while let Some(i) = oldest(&held) {
            out.push(held.remove(i).1);
        }
        out
    }

    proptest! {
        /// Mostly ordered input with stragglers, ties and bursts: the queue and the
        /// heap together release exactly what the plain rule does, in the same order.
        #[test]
        fn releases_as_the_plain_rule_does(
            steps in proptest::collection::vec(-5i64..20, 0..200),
            lateness in 0i64..30,
            max_held in 1usize..40,
        ) {
            let mut t = 0;
            let times: Vec<i64> = steps.iter().map(|s| { t += s; t }).collect();
            let mut r = Reorder::new(lateness, max_held);
            let mut got = Vec::new();
            for (id, &time) in times.iter().enumerate() {
                r.push(event(id, time), &mut |e| got.push(e.id.parse::<usize>().unwrap()));
                prop_assert!(r.held() <= max_held);
            }
            r.flush(&mut |e| got.push(e.id.parse::<usize>().unwrap()));
            prop_assert_eq!(got, model(&times, lateness, max_held));
        }
    }
}
