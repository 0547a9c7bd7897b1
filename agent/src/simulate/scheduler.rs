//! The event loop: activities in a priority queue keyed by their next time,
//! so packets of all activities leave in capture-time order.

use std::{cmp::Ordering, collections::BinaryHeap};

use super::{
    SimError,
    activity::{Activity, Ctx},
    output::Output,
    units::Nanos,
    world::World,
};

struct Scheduled {
    at: Nanos,
    /// Insertion order: ties go to the activity scheduled first, so runs
    /// are reproducible.
    seq: u64,
    activity: Box<dyn Activity>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed for `BinaryHeap`'s max-heap: earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
pub struct Scheduler {
    queue: BinaryHeap<Scheduled>,
    seq: u64,
}

impl Scheduler {
    /// Queues `activity` at its next time (a finished one is dropped).
    pub fn add(&mut self, activity: Box<dyn Activity>) {
        if let Some(at) = activity.next_at() {
            self.seq += 1;
            self.queue.push(Scheduled { at, seq: self.seq, activity });
        }
    }

    /// Runs every activity until capture time `end` or until `out` is full.
    pub fn run(&mut self, end: Nanos, out: &mut Output<'_>, world: &World) -> Result<(), SimError> {
        let mut spawned = Vec::new();
        let mut scratch = Vec::with_capacity(2048);
        while let Some(Scheduled { at, mut activity, .. }) = self.queue.pop() {
            if at >= end || out.is_full() {
                break;
            }
            // Let the activity run on while it stays ahead of every other
            // one (a bulk transfer, a flood): the same order the queue would
            // give, with far fewer queue operations.
            loop {
                activity.act(&mut Ctx::new(out, world, &mut scratch, &mut spawned))?;
                for child in spawned.drain(..) {
                    self.add(child);
                }
                match activity.next_at() {
                    Some(next) if next < end && !out.is_full() => {
                        if self.queue.peek().is_some_and(|first| first.at <= next) {
                            self.add(activity);
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
        Ok(())
    }
}
