//! A short UDP exchange (a DNS lookup, an NTP poll): a few datagrams
//! between two fixed ports, all known when it starts.

use std::collections::VecDeque;

use rand::RngExt as _;

use super::{
    SimError,
    activity::{Activity, Ctx},
    frame::{Endpoint, FrameHeader, Transport},
    output::Origin,
    rng::SimRng,
    tcp::Side,
    units::Nanos,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPeer {
    pub endpoint: Endpoint,
    pub port: u16,
}

pub struct Datagrams {
    peers: [UdpPeer; 2],
    ip_id: [u16; 2],
    /// In time order.
    queue: VecDeque<(Nanos, Side, Vec<u8>)>,
    origin: Origin,
}

impl Datagrams {
    /// `datagrams` must be in time order.
    pub fn new(
        client: UdpPeer,
        server: UdpPeer,
        datagrams: impl IntoIterator<Item = (Nanos, Side, Vec<u8>)>,
        origin: Origin,
        rng: &mut SimRng,
    ) -> Self {
        Self {
            peers: [client, server],
            ip_id: [rng.random(), rng.random()],
            queue: datagrams.into_iter().collect(),
            origin,
        }
    }
}

impl Activity for Datagrams {
    fn next_at(&self) -> Option<Nanos> {
        self.queue.front().map(|(time, ..)| *time)
    }

    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let Some((time, from, payload)) = self.queue.pop_front() else { return Ok(()) };
        let (src, dst) = match from {
            Side::Client => (self.peers[0], self.peers[1]),
            Side::Server => (self.peers[1], self.peers[0]),
        };
        let id = &mut self.ip_id[from as usize];
        *id = id.wrapping_add(1);
        let header = FrameHeader {
            src: src.endpoint,
            dst: dst.endpoint,
            ip_id: *id,
            transport: Transport::Udp { src_port: src.port, dst_port: dst.port },
        };
        ctx.out.emit(self.origin, time, &header, &payload)
    }
}
