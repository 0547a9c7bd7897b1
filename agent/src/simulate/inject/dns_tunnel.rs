//! DNS tunnelling from a compromised LAN device through the LAN resolver:
//! thousands of TXT queries whose names carry base32 data (queries of
//! 100–250 bytes) for one domain, answered with TXT data, each from a new
//! source port.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{Window, spawner::Spawner};
use crate::simulate::{
    activity::Activity,
    addresses::{RESOLVER, TUNNEL_CLIENT, TUNNEL_CLIENT_MAC},
    datagram::UdpPeer,
    dist::{LogNormal, exponential},
    frame::Endpoint,
    output::Origin,
    rng::SimRng,
    services::dns,
    units::{Nanos, SECS, secs_f64},
    world::World,
};

const QUERIES: u64 = 3_000;
const FULL_COUNT_TIME: Nanos = 60 * SECS;
const DOMAIN: &str = "t.syncd.example";
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
/// The tunnel's server is authoritative for the domain and far away.
const ANSWER_DELAY: LogNormal = LogNormal::new(0.045, 0.4, 0.015, 0.5);

/// Queries sent in a window of `active` nanoseconds.
pub fn query_count(active: Nanos) -> u64 {
    (QUERIES * active.min(FULL_COUNT_TIME) / FULL_COUNT_TIME).max(1)
}

fn base32(rng: &mut SimRng, len: usize) -> String {
    (0..len).map(|_| char::from(BASE32[rng.random_range(0..BASE32.len())])).collect()
}

/// A name under [`DOMAIN`] whose query message is `size` bytes (12-byte
/// header, the name, 4 bytes of type and class): data labels of up to 63
/// characters in front of the domain.
pub fn tunnel_name(size: usize, rng: &mut SimRng) -> String {
    // On the wire a name is its labels, each behind a length byte, then a 0.
    let domain_wire = DOMAIN.len() + 2;
    let mut remaining = size.saturating_sub(16 + domain_wire).max(2);
    let mut labels = Vec::new();
    while remaining > 64 {
        // Never leave a single byte, which could not hold a label.
        let take = if remaining - 64 == 1 { 62 } else { 63 };
        labels.push(base32(rng, take));
        remaining -= take + 1;
    }
    labels.push(base32(rng, remaining - 1));
    labels.push(DOMAIN.to_owned());
    labels.join(".")
}

pub fn start(
    window: Window,
    world: &World,
    origin: Origin,
    mut rng: SimRng,
) -> (Ipv4Addr, Ipv4Addr, Box<dyn Activity>) {
    let count = query_count(window.active());
    let mean_gap = window.active().min(FULL_COUNT_TIME) / count;
    let mut times = Vec::with_capacity(count as usize);
    let mut at = window.start;
    for _ in 0..count {
        times.push(at);
        at += exponential(&mut rng, mean_gap).max(1);
    }
    let device = Endpoint { ip: TUNNEL_CLIENT, mac: TUNNEL_CLIENT_MAC, ttl: 64 };
    let resolver = world.resolver;
    let make = move |at: Nanos, rng: &mut SimRng| {
        let name = tunnel_name(rng.random_range(100..=250), rng);
        let texts: Vec<String> = (0..rng.random_range(1..=2))
            .map(|_| {
                let len = rng.random_range(40..=110);
                base32(rng, len)
            })
            .collect();
        let lookup = dns::txt_lookup(dns::query_id(rng), &name, &texts)?;
        let client = UdpPeer { endpoint: device, port: rng.random_range(1024..=65_535) };
        let delay = secs_f64(ANSWER_DELAY.sample(rng));
        let (datagrams, _) = dns::exchange(client, &resolver, at, delay, lookup, origin, rng);
        Ok(Box::new(datagrams) as Box<dyn Activity>)
    };
    (TUNNEL_CLIENT, RESOLVER, Box::new(Spawner::new(times, rng, Box::new(make))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn query_messages_have_the_asked_size() -> Result<(), crate::simulate::SimError> {
        let mut rng = stream(1, Stream::Population);
        for size in 100..=250 {
            let name = tunnel_name(size, &mut rng);
            assert!(name.split('.').all(|label| (1..=63).contains(&label.len())), "{name}");
            let (query, _) = dns::txt_lookup(1, &name, &["x".into()])?;
            assert_eq!(query.len(), size);
        }
        assert_eq!(query_count(120 * SECS), 3_000);
        assert_eq!(query_count(30 * SECS), 1_500);
        Ok(())
    }
}
