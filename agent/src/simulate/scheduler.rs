//! The event loop: activities in a priority queue keyed by their next time,
//! so packets of all activities leave in capture-time order.

use super::{
    SimError,
    activity::{Activity, Ctx, Plan},
    output::Output,
    units::Nanos,
    world::World,
};

/// Activities by next time; ties go to the activity queued first, so runs
/// are reproducible (the same queue as a [`Plan`] of packets).
#[derive(Default)]
pub struct Scheduler {
    queue: Plan<Box<dyn Activity>>,
}

impl Scheduler {
    /// Queues `activity` at its next time (a finished one is dropped).
    pub fn add(&mut self, activity: Box<dyn Activity>) {
        if let Some(at) = activity.next_at() {
            self.queue.push(at, activity);
        }
    }

    /// Runs every activity until capture time `end` or until `out` is full.
    pub fn run(&mut self, end: Nanos, out: &mut Output<'_>, world: &World) -> Result<(), SimError> {
        let mut spawned = Vec::new();
        let mut scratch = Vec::with_capacity(2048);
        while let Some((at, mut activity)) = self.queue.pop() {
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
                        if self.queue.next_time().is_some_and(|first| first <= next) {
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
