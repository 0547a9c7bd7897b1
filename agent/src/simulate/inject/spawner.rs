//! Starts one activity at each of a list of times: beacons, tunnel
//! queries, connections to the rare country.

use std::collections::VecDeque;

use crate::simulate::{
    SimError,
    activity::{Activity, Ctx},
    rng::SimRng,
    units::Nanos,
};

type Make = Box<dyn FnMut(Nanos, &mut SimRng) -> Result<Box<dyn Activity>, SimError>>;

pub struct Spawner {
    /// In time order.
    times: VecDeque<Nanos>,
    make: Make,
    rng: SimRng,
}

impl Spawner {
    pub fn new(times: impl IntoIterator<Item = Nanos>, rng: SimRng, make: Make) -> Self {
        Self { times: times.into_iter().collect(), make, rng }
    }
}

impl Activity for Spawner {
    fn next_at(&self) -> Option<Nanos> {
        self.times.front().copied()
    }

    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        if let Some(at) = self.times.pop_front() {
            ctx.spawn((self.make)(at, &mut self.rng)?);
        }
        Ok(())
    }
}
