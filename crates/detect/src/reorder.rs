//! Put late-delivered events back in time order, holding each only as long as lateness
//! requires.
//!
//! CloudTrail writes files up to ~15 minutes after the calls they record, and files
//! arrive in any order. Events are held by event time: one is handed on once the
//! watermark (the newest event time seen, minus `lateness`) reaches it, oldest first,
//! so lineage ("the function changed, then its role acted") and windows see the order
//! the calls happened in. An ordered input therefore holds one lateness interval of
//! events, whatever its length.
//!
//! An event that arrives after a newer one has already gone on (it is more than
//! `lateness` late) is handed on at once, out of order, and counted in [`Reorder::late`]:
//! the detector still matches it against single-event rules, and its windows take it
//! while it is within their own lateness (as for any late event).
//!
//! More than `max_held` events within one lateness interval is the hard cap: the oldest
//! go on before the watermark reaches them (nothing is dropped, memory stays bounded),
//! and each is counted in [`Reorder::early`] so that the caller can fail closed (`trail
//! scan` calls such a scan incomplete) rather than pass an order it did not keep.
//!
//! Most input is already in order, so arrivals no older than the newest held one go to
//! a queue in arrival order, and only the others to a heap; the oldest of the two
//! fronts goes on first. Released in the same order as one heap would, without sifting
//! every held event (each comparison a cache miss) per arrival.

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
    /// The newest event time handed on so far.
    released: i64,
    seq: u64,
    max_held: usize,
    late: u64,
    early: u64,
}

impl Reorder {
    /// Hold events for `lateness_ms` of event time, and never more than `max_held` (at 0,
    /// one). `i64::MAX` holds everything until the cap or [`Reorder::flush`].
    pub fn new(lateness_ms: i64, max_held: usize) -> Self {
        Reorder {
            run: VecDeque::new(),
            heap: BinaryHeap::new(),
            lateness_ms: lateness_ms.max(0),
            max_time: i64::MIN,
            released: i64::MIN,
            seq: 0,
            max_held: max_held.max(1),
            late: 0,
            early: 0,
        }
    }

    /// Hold `e`; hand on every event that the watermark has passed (and the oldest while
    /// more than `max_held` are held).
    pub fn push(&mut self, e: Box<Event>, out: &mut dyn FnMut(Box<Event>)) {
        self.max_time = self.max_time.max(e.time_ms);
        if e.time_ms < self.released {
            // Held or not, it could not go on in order any more.
            self.late += 1;
            return out(e);
        }
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
        let watermark = self.max_time.saturating_sub(self.lateness_ms);
        while let Some(oldest) = self.oldest_time() {
            if oldest > watermark {
                if self.held() <= self.max_held {
                    break;
                }
                self.early += 1;
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

    /// Events that arrived after a newer one had gone on, handed on out of order.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Events handed on before the watermark reached them because `max_held` were held:
    /// order past that point is not guaranteed.
    pub fn early(&self) -> u64 {
        self.early
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
        }?;
        self.released = self.released.max(held.time_ms);
        Some(held.event)
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

    /// The rule written plainly: hold everything; an arrival older than the newest
    /// event handed on goes on at once (late); after each arrival release, oldest first
    /// (ties in arrival order), while the oldest is past the lateness (or, counted
    /// early, while too many are held). Returns the order, late and early counts.
    fn model(times: &[i64], lateness: i64, max_held: usize) -> (Vec<usize>, u64, u64) {
        let (mut held, mut out, mut max_time) = (Vec::new(), Vec::new(), i64::MIN);
        let (mut released, mut late, mut early) = (i64::MIN, 0, 0);
        let oldest = |held: &Vec<(i64, usize)>| (0..held.len()).min_by_key(|&i| held[i]);
        for (id, &t) in times.iter().enumerate() {
            max_time = max_time.max(t);
            if t < released {
                late += 1;
                out.push(id);
                continue;
            }
            held.push((t, id));
            while let Some(i) = oldest(&held) {
                if held[i].0 > max_time.saturating_sub(lateness) {
                    if held.len() <= max_held {
                        break;
                    }
                    early += 1;
                }
                released = released.max(held[i].0);
                out.push(held.remove(i).1);
            }
        }
        while let Some(i) = oldest(&held) {
            out.push(held.remove(i).1);
        }
        (out, late, early)
    }

    fn run(times: &[i64], lateness: i64, max_held: usize) -> (Vec<usize>, Reorder, usize) {
        let mut r = Reorder::new(lateness, max_held);
        let (mut got, mut most) = (Vec::new(), 0);
        for (id, &time) in times.iter().enumerate() {
            r.push(event(id, time), &mut |e| {
                got.push(e.id.parse::<usize>().unwrap())
            });
            most = most.max(r.held());
        }
        r.flush(&mut |e| got.push(e.id.parse::<usize>().unwrap()));
        (got, r, most)
    }

    #[test]
    fn an_ordered_input_holds_one_lateness_interval() {
        // One event a millisecond, a second of lateness: never more than a second's
        // events held, however long the input.
        let times: Vec<i64> = (0..20_000).collect();
        let (got, r, most) = run(&times, 1000, usize::MAX);
        assert_eq!(got, (0..20_000).collect::<Vec<_>>());
        assert!(most <= 1001, "held {most}");
        assert_eq!((r.late(), r.early()), (0, 0));
    }

    #[test]
    fn too_late_goes_on_at_once_and_is_counted() {
        // 100 is far later than the lateness but nothing newer has gone on yet: it
        // goes on in order. 50 comes after 100 went on: at once, counted.
        let (got, r, _) = run(&[0, 5000, 100, 5500, 4800], 1000, usize::MAX);
        assert_eq!(got, vec![0, 2, 4, 1, 3]);
        assert_eq!((r.late(), r.early()), (0, 0));
        let (got, r, _) = run(&[0, 5000, 100, 50], 1000, usize::MAX);
        assert_eq!(got, vec![0, 2, 3, 1]);
        assert_eq!((r.late(), r.early()), (1, 0));
    }

    #[test]
    fn the_cap_releases_early_and_counts() {
        let (got, r, most) = run(&[10, 20, 30, 40, 15], 1000, 2);
        assert_eq!(most, 2);
        assert_eq!(got, vec![0, 1, 4, 2, 3]);
        assert_eq!((r.late(), r.early()), (1, 2));
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
            let (got, r, most) = run(&times, lateness, max_held);
            prop_assert!(most <= max_held);
            prop_assert_eq!((got, r.late(), r.early()), model(&times, lateness, max_held));
        }

        /// Disorder within the lateness: the output is a full (stable) sort by time,
        /// nothing is late, and no more is held than one lateness interval of input.
        #[test]
        fn within_lateness_is_a_full_sort(
            raw in proptest::collection::vec((0i64..50, 0i64..100), 0..300),
            lateness in 0i64..100,
        ) {
            // Each time moves the clock by a step and lands up to `lateness` behind it.
            let (mut clock, mut times) = (0i64, Vec::new());
            for (step, back) in raw {
                clock += step;
                times.push(clock - back.min(lateness));
            }
            let (got, r, _) = run(&times, lateness, usize::MAX);
            let mut sorted: Vec<usize> = (0..times.len()).collect();
            sorted.sort_by_key(|&i| times[i]);
            prop_assert_eq!(got, sorted);
            prop_assert_eq!((r.late(), r.early()), (0, 0));
        }
    }
}
