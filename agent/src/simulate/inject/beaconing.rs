//! Command-and-control beaconing: a LAN host checks in with its C2 server
//! every 60 s ± 10 % (uniform jitter) for the whole capture, one short
//! HTTP connection per beacon with a 200–400-byte request and a small reply.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{outside, spawner::Spawner};
use crate::simulate::{
    activity::Activity,
    addresses::C2_SERVER,
    conversation::{self, Step},
    dist::jitter,
    output::Origin,
    population::Host,
    rng::SimRng,
    services::web::{Exchange, Protocol, WebScript},
    tcp::Side,
    units::{MILLIS, Nanos, SECS},
};

pub const PERIOD: Nanos = 60 * SECS;
pub const JITTER: f64 = 0.1;

/// Beacons from `first` until `end`.
pub fn start(first: Nanos, end: Nanos, host: &Host, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let c2 = outside::server(C2_SERVER, 50, 30, 2_000_000);
    let mut times = Vec::new();
    let mut at = first;
    while at < end {
        times.push(at);
        at += jitter(&mut rng, PERIOD, JITTER);
    }
    let mut ports = outside::VictimPorts::new(*host, &mut rng);
    let make = move |at: Nanos, rng: &mut SimRng| {
        let exchange =
            Exchange { request: rng.random_range(200..=400), upload: 0, response: rng.random_range(0..=64), think: 0 };
        let close = Step::Close { by: Side::Client, after: 20 * MILLIS };
        let script = WebScript::new(Protocol::Http, "update.cdn-check.example".into(), vec![exchange], close);
        Ok(conversation::start(ports.next_end(), c2.tcp_end(80), c2.rate, Box::new(script), origin, at, rng))
    };
    (C2_SERVER, Box::new(Spawner::new(times, rng, Box::new(make))))
}
