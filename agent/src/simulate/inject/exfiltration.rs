//! Bulk upload from a LAN host to one outside server over HTTPS: 200 MB
//! at full magnitude, in one connection.

use std::net::Ipv4Addr;

use super::{Window, outside};
use crate::simulate::{
    activity::Activity,
    addresses::EXFILTRATION_DROP,
    conversation::{self, Step},
    output::Origin,
    population::Host,
    rng::SimRng,
    services::web::{Exchange, Protocol, WebScript},
    tcp::Side,
    units::{MILLIS, Nanos, SECS},
};

const VOLUME: u64 = 200_000_000;
/// Time the full volume needs on this path (≈ 3.6 MB/s with slow start
/// rounds of at most 512 segments over a 105 ms round trip).
const FULL_VOLUME_TIME: Nanos = 70 * SECS;

/// Bytes uploaded in a window of `active` nanoseconds.
pub fn volume(active: Nanos) -> u64 {
    (u128::from(VOLUME) * u128::from(active.min(FULL_VOLUME_TIME)) / u128::from(FULL_VOLUME_TIME)) as u64
}

pub fn start(window: Window, host: &Host, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let drop = outside::server(EXFILTRATION_DROP, 52, 105, 8_000_000);
    let client = outside::VictimPorts::new(*host, &mut rng).next_end();
    let exchanges = vec![Exchange { request: volume(window.active()), upload: 0, response: 120, think: 0 }];
    let close = Step::Close { by: Side::Client, after: 200 * MILLIS };
    let script = WebScript::new(Protocol::Https, "files.dropbox-sync.example".into(), exchanges, close);
    let activity =
        conversation::start(client, drop.tcp_end(443), drop.rate, Box::new(script), origin, window.start, &mut rng);
    (EXFILTRATION_DROP, activity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_scales_with_a_short_window_only() {
        assert_eq!(volume(100 * SECS), VOLUME);
        assert_eq!(volume(35 * SECS), VOLUME / 2);
    }
}
