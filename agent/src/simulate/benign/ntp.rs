//! An NTP client: a 48-byte request and reply every poll interval, which
//! starts at 64 s and doubles after a few polls up to 1024 s, as ntpd does
//! once the clock is stable.

use rand::RngExt as _;

use crate::simulate::{
    SimError,
    activity::{Activity, Ctx},
    datagram::{Datagrams, UdpPeer},
    output::Origin,
    population::Host,
    rng::SimRng,
    services::ntp,
    tcp::Side,
    units::{MICROS, Nanos, SECS},
    world::{Server, World},
};

const MIN_POLL: u8 = 6;
const MAX_POLL: u8 = 10;
/// Polls at one interval before it doubles.
const POLLS_PER_LEVEL: u32 = 4;

pub struct NtpClient {
    client: UdpPeer,
    server: Server,
    rng: SimRng,
    next: Nanos,
    poll: u8,
    polls_at_level: u32,
}

impl NtpClient {
    pub fn new(host: Host, world: &World, start: Nanos, mut rng: SimRng) -> Self {
        let server = world.ntp_servers[rng.random_range(0..world.ntp_servers.len())];
        let next = start + rng.random_range(0..(1u64 << MIN_POLL) * SECS);
        Self {
            client: UdpPeer { endpoint: host.endpoint, port: ntp::PORT },
            server,
            rng,
            next,
            poll: MIN_POLL,
            polls_at_level: 0,
        }
    }
}

impl Activity for NtpClient {
    fn next_at(&self) -> Option<Nanos> {
        Some(self.next)
    }

    fn act(&mut self, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let sent = self.next;
        let received = sent + self.server.rtt / 2;
        let answered = received + 50 * MICROS;
        let request = ntp::request(sent, self.poll);
        let reply = ntp::reply(sent, received, answered, self.poll, [10, 1, 0, 1]);
        let server = UdpPeer { endpoint: self.server.endpoint, port: ntp::PORT };
        let datagrams = [(sent, Side::Client, request), (answered + self.server.rtt / 2, Side::Server, reply)];
        ctx.spawn(Box::new(Datagrams::new(self.client, server, datagrams, Origin::Benign, &mut self.rng)));
        self.next = sent + (1u64 << self.poll) * SECS;
        self.polls_at_level += 1;
        if self.polls_at_level >= POLLS_PER_LEVEL && self.poll < MAX_POLL {
            self.poll += 1;
            self.polls_at_level = 0;
        }
        Ok(())
    }
}
