//! A LAN host visits a site in a country nobody else talks to (BT in the
//! MaxMind test databases): four HTTPS connections within half a minute.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{Window, outside, spawner::Spawner};
use crate::simulate::{
    activity::Activity,
    addresses::RARE_COUNTRY_SERVER,
    conversation::{self, Step},
    dist::LogNormal,
    output::Origin,
    population::Host,
    rng::SimRng,
    services::web::{Exchange, Protocol, WebScript},
    tcp::Side,
    units::{MILLIS, Nanos, SECS, secs_f64},
};

const CONNECTIONS: usize = 4;
const SPREAD: Nanos = 30 * SECS;
const RESPONSE: LogNormal = LogNormal::new(150_000.0, 1.0, 2_000.0, 5.0e6);

pub fn start(window: Window, host: &Host, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let server = outside::server(RARE_COUNTRY_SERVER, 47, 190, 1_500_000);
    let spread = SPREAD.min(window.active() / 2).max(1);
    let mut times: Vec<Nanos> = (1..CONNECTIONS).map(|_| window.start + rng.random_range(0..spread)).collect();
    times.push(window.start);
    times.sort_unstable();
    let mut ports = outside::VictimPorts::new(*host, &mut rng);
    let make = move |at: Nanos, rng: &mut SimRng| {
        let exchanges = (0..rng.random_range(1..=3))
            .map(|_| Exchange {
                request: rng.random_range(300..=900),
                upload: 0,
                response: RESPONSE.sample_u64(rng),
                think: secs_f64(rng.random_range(0.2..3.0)),
            })
            .collect();
        let close = Step::Close { by: Side::Client, after: 500 * MILLIS };
        let script = WebScript::new(Protocol::Https, "portal.thimphu.example".into(), exchanges, close);
        Ok(conversation::start(ports.next_end(), server.tcp_end(443), server.rate, Box::new(script), origin, at, rng))
    };
    (RARE_COUNTRY_SERVER, Box::new(Spawner::new(times, rng, Box::new(make))))
}
