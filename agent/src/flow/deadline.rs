//! When flows next need attention, so a poll visits only the flows whose
//! timeouts may have fired instead of every live flow.

use std::collections::BTreeMap;

/// Width of a bucket: 2^30 ns, about a second, the order of a poll interval.
/// A poll takes whole buckets that ended before it and looks into one
/// bucket at most, so an entry is looked at about once per poll of its
/// bucket's second, and every other operation is `O(1)` amortized.
const BUCKET_SHIFT: u32 = 30;

/// One queued timer.
pub type Deadline<K> = (u128, u64, K);

/// `(due, id, key)` entries in per-second buckets (a timing wheel whose
/// buckets are kept in order), maintained lazily: an owner keeps for each
/// item the `due` it last queued, pushes again when an item becomes due
/// *earlier*, and ignores entries that no longer match when they come out
/// (see [`DeadlineQueue::take_due`]). Entries are never searched for or
/// removed early.
///
/// A binary heap did the same in `O(log n)` per entry; with hundreds of
/// thousands of flows ending in one poll its pops, each walking a 5 MB heap
/// top to bottom, cost more than building the flows' records.
#[derive(Debug)]
pub struct DeadlineQueue<K> {
    buckets: BTreeMap<u64, Vec<Deadline<K>>>,
    /// Emptied buckets' vectors, reused so that a steady flow of timers
    /// allocates nothing.
    spare: Vec<Vec<Deadline<K>>>,
}

impl<K> Default for DeadlineQueue<K> {
    fn default() -> Self {
        Self { buckets: BTreeMap::new(), spare: Vec::new() }
    }
}

fn bucket_of(due: u128) -> u64 {
    // Dues are at most two `u64` nanosecond values added (bucket numbers
    // below 2^35), but `take_due` accepts any `u128` `now` (the tests drain
    // everything at `u128::MAX`): saturate rather than wrap to a low bucket.
    u64::try_from(due >> BUCKET_SHIFT).unwrap_or(u64::MAX)
}

impl<K: Copy> DeadlineQueue<K> {
    pub fn push(&mut self, due: u128, id: u64, key: K) {
        let spare = &mut self.spare;
        self.buckets.entry(bucket_of(due)).or_insert_with(|| spare.pop().unwrap_or_default()).push((due, id, key));
    }

    /// Hands every entry due at or before `now` to `due`, in no particular
    /// order, and forgets them.
    pub fn take_due(&mut self, now: u128, mut due: impl FnMut(Deadline<K>)) {
        let now_bucket = bucket_of(now);
        while let Some(mut bucket) = self.buckets.first_entry() {
            if *bucket.key() > now_bucket {
                break;
            }
            if *bucket.key() < now_bucket {
                // The whole bucket ended before `now`.
                let mut entries = bucket.remove();
                entries.drain(..).for_each(&mut due);
                self.spare.push(entries);
                continue;
            }
            // `now`'s own bucket: take what is due, keep the rest.
            let entries = bucket.get_mut();
            entries.retain(|&entry| {
                let is_due = entry.0 <= now;
                if is_due {
                    due(entry);
                }
                !is_due
            });
            if entries.is_empty() {
                self.spare.push(bucket.remove());
            }
            break;
        }
    }

    pub fn clear(&mut self) {
        while let Some((_, mut entries)) = self.buckets.pop_first() {
            entries.clear();
            self.spare.push(entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: u128 = 1 << BUCKET_SHIFT;

    fn due(queue: &mut DeadlineQueue<char>, now: u128) -> Vec<Deadline<char>> {
        let mut out = Vec::new();
        queue.take_due(now, |entry| out.push(entry));
        out.sort_unstable();
        out
    }

    #[test]
    fn entries_come_out_only_when_due() {
        let mut queue = DeadlineQueue::default();
        queue.push(30, 1, 'c');
        queue.push(10, 2, 'a');
        queue.push(3 * SECOND, 4, 'd');
        queue.push(20, 3, 'b');
        assert_eq!(due(&mut queue, 5), []);
        assert_eq!(due(&mut queue, 25), [(10, 2, 'a'), (20, 3, 'b')]);
        assert_eq!(due(&mut queue, 25), []);
        // Whole buckets before `now`'s, and the due part of its own.
        assert_eq!(due(&mut queue, 3 * SECOND), [(30, 1, 'c'), (3 * SECOND, 4, 'd')]);
        queue.push(5, 5, 'e');
        queue.clear();
        assert_eq!(due(&mut queue, u128::MAX), []);
    }

    proptest! {
        /// The same entries, at the same polls, as checking every entry.
        #[test]
        fn takes_exactly_the_due_entries(
            pushes in proptest::collection::vec((0u128..8 * SECOND, 0u64..4), 0..80),
            polls in proptest::collection::vec(0u128..10 * SECOND, 1..12),
        ) {
            let mut queue = DeadlineQueue::default();
            let mut pending: Vec<Deadline<usize>> = Vec::new();
            let mut polls = polls;
            polls.sort_unstable();
            // Pushes spread between the polls (the last polls may get none),
            // then a poll that takes everything still queued.
            let per_poll = pushes.len() / polls.len() + 1;
            let chunks = pushes.chunks(per_poll).chain(std::iter::repeat(&[][..]));
            for (chunk, now) in chunks.zip(polls.iter().chain([&u128::MAX])) {
                for (n, &(due, id)) in chunk.iter().enumerate() {
                    queue.push(due, id, n);
                    pending.push((due, id, n));
                }
                let mut taken = Vec::new();
                queue.take_due(*now, |entry| taken.push(entry));
                taken.sort_unstable();
                let mut expected: Vec<_> = pending.iter().copied().filter(|e| e.0 <= *now).collect();
                expected.sort_unstable();
                pending.retain(|e| e.0 > *now);
                prop_assert_eq!(taken, expected);
            }
            prop_assert!(pending.is_empty());
        }
    }
}
