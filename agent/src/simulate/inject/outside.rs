//! Outside servers that only injections talk to, and the LAN host's side
//! of their connections.

use std::net::Ipv4Addr;

use crate::simulate::{
    addresses::GATEWAY_MAC,
    frame::Endpoint,
    population::{EphemeralPorts, Host},
    rng::SimRng,
    tcp::TcpEnd,
    units::{MILLIS, Nanos},
    world::Server,
};

/// A server `rtt_ms` away with `rate` bytes per second of throughput.
pub fn server(ip: Ipv4Addr, ttl: u8, rtt_ms: Nanos, rate: u64) -> Server {
    Server { endpoint: Endpoint { ip, mac: GATEWAY_MAC, ttl }, rtt: rtt_ms * MILLIS, rate }
}

/// The victim host's connections, from ports of their own: the benign
/// sessions of the same host keep theirs, so they are the same with and
/// without the injection.
pub struct VictimPorts {
    host: Host,
    ports: EphemeralPorts,
}

impl VictimPorts {
    pub fn new(host: Host, rng: &mut SimRng) -> Self {
        Self { host, ports: EphemeralPorts::new(host.os, rng) }
    }

    pub fn next_end(&mut self) -> TcpEnd {
        self.host.tcp_end(self.ports.next_port())
    }
}
