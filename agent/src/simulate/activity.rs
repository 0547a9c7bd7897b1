//! Anything that produces packets over simulated time — a TCP conversation,
//! a DNS lookup, a host starting sessions, a flood — is an [`Activity`]
//! that the scheduler asks to act at its next time. Most activities are a
//! [`Planner`] wrapped in [`Planned`]: they plan a short phase of packets
//! (a handshake, one congestion window, one probe and its reply) into a
//! small time-ordered [`Plan`] and plan the next phase only once every
//! packet before its start has gone out, so packets leave in time order
//! while each activity holds at most one phase in memory.

use std::{cmp::Ordering, collections::BinaryHeap};

use super::{SimError, output::Output, units::Nanos, world::World};

pub trait Activity {
    /// When this activity acts next; `None` once it has finished.
    fn next_at(&self) -> Option<Nanos>;
    /// Acts at [`Self::next_at`]: writes a packet and/or starts activities.
    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError>;
}

/// What an activity may touch while it acts.
pub struct Ctx<'a, 'w> {
    pub out: &'a mut Output<'w>,
    pub world: &'a World,
    /// Where a payload that is not one piece of the filler is assembled.
    pub scratch: &'a mut Vec<u8>,
    spawned: &'a mut Vec<Box<dyn Activity>>,
}

impl<'a, 'w> Ctx<'a, 'w> {
    pub fn new(
        out: &'a mut Output<'w>,
        world: &'a World,
        scratch: &'a mut Vec<u8>,
        spawned: &'a mut Vec<Box<dyn Activity>>,
    ) -> Self {
        Self { out, world, scratch, spawned }
    }

    /// Starts `activity`; its first act must not be earlier than now.
    pub fn spawn(&mut self, activity: Box<dyn Activity>) {
        self.spawned.push(activity);
    }
}

/// Planned packets in time order; ties keep planning order.
#[derive(Debug)]
pub struct Plan<T> {
    heap: BinaryHeap<Entry<T>>,
    order: u64,
}

impl<T> Default for Plan<T> {
    fn default() -> Self {
        Self { heap: BinaryHeap::new(), order: 0 }
    }
}

impl<T> Plan<T> {
    pub fn push(&mut self, time: Nanos, item: T) {
        self.order += 1;
        self.heap.push(Entry { time, order: self.order, item });
    }

    pub fn pop(&mut self) -> Option<(Nanos, T)> {
        self.heap.pop().map(|entry| (entry.time, entry.item))
    }

    pub fn next_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|entry| entry.time)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[derive(Debug)]
struct Entry<T> {
    time: Nanos,
    order: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.order) == (other.time, other.order)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest entry must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.order).cmp(&(self.time, self.order))
    }
}

/// An activity that plans its packets phase by phase.
pub trait Planner {
    /// A planned packet.
    type Item;
    /// Start of the next unplanned phase; `None` when everything is planned.
    fn next_start(&self) -> Option<Nanos>;
    /// Plans the next phase: every item at or after [`Self::next_start`],
    /// and moves `next_start` on.
    fn plan_next(&mut self, plan: &mut Plan<Self::Item>);
    /// Writes one planned packet.
    fn emit(&mut self, time: Nanos, item: Self::Item, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError>;
}

/// Runs a [`Planner`] as an [`Activity`].
#[derive(Debug)]
pub struct Planned<P: Planner> {
    planner: P,
    plan: Plan<P::Item>,
}

impl<P: Planner> Planned<P> {
    pub fn new(planner: P) -> Self {
        let mut planned = Self { planner, plan: Plan::default() };
        planned.refill();
        planned
    }

    /// Plans phases until the next one starts after the earliest planned
    /// packet: then that packet can go out, as nothing planned later can
    /// come before it.
    fn refill(&mut self) {
        while let Some(start) = self.planner.next_start() {
            if self.plan.next_time().is_some_and(|first| first <= start) {
                break;
            }
            self.planner.plan_next(&mut self.plan);
        }
    }
}

impl<P: Planner> Activity for Planned<P> {
    fn next_at(&self) -> Option<Nanos> {
        self.plan.next_time()
    }

    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        if let Some((time, item)) = self.plan.pop() {
            self.planner.emit(time, item, ctx)?;
        }
        self.refill();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phases of two packets each: one at the phase start, one 25 later;
    /// phases start every 10, so phases interleave.
    struct Overlapping {
        next: Nanos,
        planned_phases: u32,
    }

    impl Planner for Overlapping {
        type Item = Nanos;

        fn next_start(&self) -> Option<Nanos> {
            (self.planned_phases < 4).then_some(self.next)
        }

        fn plan_next(&mut self, plan: &mut Plan<Nanos>) {
            plan.push(self.next, self.next);
            plan.push(self.next + 25, self.next + 25);
            self.next += 10;
            self.planned_phases += 1;
        }

        fn emit(&mut self, _: Nanos, _: Nanos, _: &mut Ctx<'_, '_>) -> Result<(), SimError> {
            Ok(())
        }
    }

    #[test]
    fn planned_packets_come_out_in_time_order_with_bounded_lookahead() {
        let mut planned = Planned::new(Overlapping { next: 0, planned_phases: 0 });
        let mut times = Vec::new();
        let mut max_plan = 0;
        while let Some((time, _)) = planned.plan.pop() {
            times.push(time);
            planned.refill();
            max_plan = max_plan.max(planned.plan.len());
        }
        assert_eq!(times, [0, 10, 20, 25, 30, 35, 45, 55]);
        assert!(max_plan <= 4, "{max_plan}");
    }
}
