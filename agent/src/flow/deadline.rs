//! When flows next need attention, earliest first, so a poll visits only
//! the flows whose timeouts may have fired instead of every live flow.

use std::{cmp::Reverse, collections::BinaryHeap};

/// A min-queue of `(due, id, key)` entries, maintained lazily: an owner
/// keeps for each item the `due` it last queued, pushes again when an item
/// becomes due *earlier*, and ignores entries that no longer match when
/// they come out (see [`DeadlineQueue::pop_due`]). Entries are never
/// searched for or removed early, so every operation is `O(log n)`.
#[derive(Debug)]
pub struct DeadlineQueue<K: Ord> {
    heap: BinaryHeap<Reverse<(u128, u64, K)>>,
}

impl<K: Ord> Default for DeadlineQueue<K> {
    fn default() -> Self {
        Self { heap: BinaryHeap::new() }
    }
}

impl<K: Ord> DeadlineQueue<K> {
    pub fn push(&mut self, due: u128, id: u64, key: K) {
        self.heap.push(Reverse((due, id, key)));
    }

    /// The earliest entry due at or before `now`, if any.
    pub fn pop_due(&mut self, now: u128) -> Option<(u128, u64, K)> {
        if self.heap.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            self.heap.pop().map(|Reverse(entry)| entry)
        } else {
            None
        }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_out_in_due_order_and_only_when_due() {
        let mut queue = DeadlineQueue::default();
        queue.push(30, 1, 'c');
        queue.push(10, 2, 'a');
        queue.push(20, 3, 'b');
        assert_eq!(queue.pop_due(5), None);
        assert_eq!(queue.pop_due(25), Some((10, 2, 'a')));
        assert_eq!(queue.pop_due(25), Some((20, 3, 'b')));
        assert_eq!(queue.pop_due(25), None);
        queue.clear();
        assert_eq!(queue.pop_due(u128::MAX), None);
    }
}
