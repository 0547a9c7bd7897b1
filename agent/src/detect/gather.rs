//! One event per incident: findings about one entity gathered over a
//! window, then reported once with everything they involved. The first
//! finding opens the window; when it closes, the gathered state is handed
//! back to the detector to become one finding (see
//! [`RuleDetector::deferred`](super::detector::RuleDetector::deferred)).

use std::{collections::VecDeque, hash::Hash, time::Duration};

use rustc_hash::FxHashMap;

use crate::duration::saturating_ns;

#[derive(Debug)]
pub struct Gatherer<K, T> {
    window_ns: u64,
    max_open: usize,
    open: FxHashMap<K, T>,
    /// Keys in the order their windows opened, which is the order they close.
    closing: VecDeque<(u64, K)>,
    /// Closed early because `max_open` was reached; handed out at the next [`Gatherer::due`].
    closed_early: Vec<(K, T)>,
}

impl<K: Hash + Eq + Copy, T> Gatherer<K, T> {
    pub fn new(window: Duration, max_open: usize) -> Self {
        Self {
            window_ns: saturating_ns(window),
            max_open: max_open.max(1),
            open: FxHashMap::default(),
            closing: VecDeque::new(),
            closed_early: Vec::new(),
        }
    }

    /// The open incident of `key`, opened at `now_ns` with `init` if there is none.
    pub fn entry(&mut self, key: K, now_ns: u64, init: impl FnOnce() -> T) -> &mut T {
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.max_open
                && let Some((_, oldest)) = self.closing.pop_front()
                && let Some(state) = self.open.remove(&oldest)
            {
                self.closed_early.push((oldest, state));
            }
            self.closing.push_back((now_ns, key));
        }
        self.open.entry(key).or_insert_with(init)
    }

    /// The open incident of `key`, if there is one.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut T> {
        self.open.get_mut(key)
    }

    /// Hands every incident whose window is over at `now_ns` to `close`.
    pub fn due(&mut self, now_ns: u64, mut close: impl FnMut(K, T)) {
        for (key, state) in self.closed_early.drain(..) {
            close(key, state);
        }
        while let Some(&(opened_ns, key)) = self.closing.front() {
            if opened_ns.saturating_add(self.window_ns) > now_ns {
                break;
            }
            self.closing.pop_front();
            if let Some(state) = self.open.remove(&key) {
                close(key, state);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn incidents_close_a_window_after_they_open() {
        let mut gather: Gatherer<u8, Vec<u64>> = Gatherer::new(Duration::from_secs(60), 16);
        gather.entry(1, 0, Vec::new).push(0);
        gather.entry(2, 30 * SEC, Vec::new).push(30);
        gather.entry(1, 50 * SEC, Vec::new).push(50);
        let mut closed = Vec::new();
        gather.due(59 * SEC, |k, v| closed.push((k, v)));
        assert!(closed.is_empty());
        gather.due(60 * SEC, |k, v| closed.push((k, v)));
        assert_eq!(closed, vec![(1, vec![0, 50])]);
        // A finding after the close opens a new incident.
        gather.entry(1, 61 * SEC, Vec::new).push(61);
        gather.due(u64::MAX, |k, v| closed.push((k, v)));
        assert_eq!(closed, vec![(1, vec![0, 50]), (2, vec![30]), (1, vec![61])]);
        assert_eq!(gather.len(), 0);
    }

    #[test]
    fn a_full_gatherer_closes_its_oldest_incident_early() {
        let mut gather: Gatherer<u8, u32> = Gatherer::new(Duration::from_secs(60), 2);
        *gather.entry(1, 0, || 0) += 1;
        *gather.entry(2, SEC, || 0) += 1;
        *gather.entry(3, 2 * SEC, || 0) += 1;
        assert_eq!(gather.len(), 2);
        let mut closed = Vec::new();
        gather.due(3 * SEC, |k, v| closed.push((k, v)));
        assert_eq!(closed, vec![(1, 1)]);
    }
}
