//! SYN flood on the public web server's port 80 from random spoofed
//! sources (random ports, TTLs and windows); the server answers each SYN
//! with a SYN-ACK (SYN cookies) that nobody acknowledges.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{
    Window,
    probe::{self, Answer, ProbeEnd, ProbeSegment},
};
use crate::simulate::{
    SimError,
    activity::{Activity, Ctx, Plan, Planned, Planner},
    addresses::{GATEWAY_MAC, PUBLIC_WEB_SERVER, PUBLIC_WEB_SERVER_MAC, spoofed_source},
    dist::exponential,
    frame::Endpoint,
    output::Origin,
    rng::SimRng,
    units::{MICROS, MILLIS, Nanos, SECS},
};

const SYNS: u32 = 30_000;
const FLOOD_TIME: Nanos = 15 * SECS;

struct SynFlood {
    victim: ProbeEnd,
    left: u32,
    next: Nanos,
    mean_gap: Nanos,
    rng: SimRng,
    origin: Origin,
}

impl Planner for SynFlood {
    type Item = ProbeSegment;

    fn next_start(&self) -> Option<Nanos> {
        (self.left > 0).then_some(self.next)
    }

    fn plan_next(&mut self, plan: &mut Plan<ProbeSegment>) {
        let source = ProbeEnd {
            endpoint: Endpoint {
                ip: spoofed_source(&mut self.rng),
                mac: GATEWAY_MAC,
                ttl: self.rng.random_range(30..120),
            },
            port: self.rng.random_range(1024..=65_535),
            rtt: 40 * MILLIS,
        };
        probe::plan(plan, self.next, source, self.victim, Answer::Open, false, &mut self.rng);
        self.left -= 1;
        self.next += exponential(&mut self.rng, self.mean_gap).max(1);
    }

    fn emit(&mut self, time: Nanos, segment: ProbeSegment, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        probe::emit(&segment, time, self.origin, ctx)
    }
}

pub fn syn_flood(window: Window, origin: Origin, rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let victim = ProbeEnd {
        endpoint: Endpoint { ip: PUBLIC_WEB_SERVER, mac: PUBLIC_WEB_SERVER_MAC, ttl: 64 },
        port: 80,
        rtt: 100 * MICROS,
    };
    let mean_gap = FLOOD_TIME.min(window.active()) / Nanos::from(SYNS);
    let flood = SynFlood { victim, left: SYNS, next: window.start, mean_gap, rng, origin };
    (PUBLIC_WEB_SERVER, Box::new(Planned::new(flood)))
}
