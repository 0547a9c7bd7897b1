//! Reconnaissance from rogue LAN devices: a SYN scan of 1,000 ports on the
//! intranet server (open: 22, 80, 443), and a sweep of every LAN address
//! on SMB (445), where Windows hosts answer SYN-ACK, other live hosts
//! RST, and absent addresses nothing (the scanner retries those once,
//! 1 s later).

use std::{collections::VecDeque, net::Ipv4Addr};

use rand::{RngExt as _, seq::SliceRandom as _};

use super::{
    Window,
    probe::{self, Answer, ProbeEnd, ProbeSegment},
};
use crate::simulate::{
    SimError,
    activity::{Activity, Ctx, Plan, Planned, Planner},
    addresses::{
        GATEWAY, GATEWAY_MAC, HOST_SWEEPER, INTRANET_SERVER, INTRANET_SERVER_MAC, LAN, PORT_SCANNER, PUBLIC_WEB_SERVER,
        PUBLIC_WEB_SERVER_MAC, ROGUE_DEVICE_MAC,
    },
    dist::exponential,
    frame::Endpoint,
    output::Origin,
    rng::SimRng,
    units::{MICROS, Nanos, SECS},
    world::World,
};

const SCANNED_PORTS: u16 = 1000;
const OPEN_PORTS: [u16; 3] = [22, 80, 443];
const SCAN_TIME: Nanos = 8 * SECS;
const SWEPT_PORT: u16 = 445;
const SWEEP_TIME: Nanos = 20 * SECS;
const RETRY_AFTER: Nanos = SECS;
const LAN_RTT: Nanos = 300 * MICROS;

/// One probe target.
#[derive(Clone, Copy, Debug)]
struct Target {
    end: ProbeEnd,
    answer: Answer,
}

/// Probes targets in order, exponential gaps between them; silent targets
/// get one retry.
struct Scan {
    prober: ProbeEnd,
    targets: std::vec::IntoIter<Target>,
    /// Retries of silent targets, in time order.
    retries: VecDeque<(Nanos, Target)>,
    next: Option<Nanos>,
    mean_gap: Nanos,
    rng: SimRng,
    origin: Origin,
}

impl Scan {
    fn new(
        prober: ProbeEnd,
        targets: Vec<Target>,
        window: Window,
        duration: Nanos,
        origin: Origin,
        rng: SimRng,
    ) -> Self {
        let duration = duration.min(window.active());
        let mean_gap = duration / targets.len().max(1) as Nanos;
        Self {
            prober,
            targets: targets.into_iter(),
            retries: VecDeque::new(),
            next: Some(window.start),
            mean_gap,
            rng,
            origin,
        }
    }
}

impl Planner for Scan {
    type Item = ProbeSegment;

    fn next_start(&self) -> Option<Nanos> {
        let retry = self.retries.front().map(|(at, _)| *at);
        match (self.next, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn plan_next(&mut self, plan: &mut Plan<ProbeSegment>) {
        let Some(at) = self.next_start() else { return };
        if let Some((_, target)) = self.retries.pop_front_if(|(retry_at, _)| *retry_at == at) {
            probe::plan(plan, at, self.prober, target.end, target.answer, true, &mut self.rng);
            return;
        }
        match self.targets.next() {
            Some(target) => {
                probe::plan(plan, at, self.prober, target.end, target.answer, true, &mut self.rng);
                if target.answer == Answer::Silent {
                    self.retries.push_back((at + RETRY_AFTER, target));
                }
                self.next = Some(at + exponential(&mut self.rng, self.mean_gap).max(1));
            }
            None => self.next = None,
        }
    }

    fn emit(&mut self, time: Nanos, segment: ProbeSegment, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        probe::emit(&segment, time, self.origin, ctx)
    }
}

fn rogue(ip: Ipv4Addr, rng: &mut SimRng) -> ProbeEnd {
    ProbeEnd {
        endpoint: Endpoint { ip, mac: ROGUE_DEVICE_MAC, ttl: 64 },
        port: rng.random_range(33_000..61_000),
        rtt: LAN_RTT,
    }
}

/// SYN scan of ports 1–1000 (shuffled, from one source port as nmap does).
pub fn port_scan(window: Window, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Ipv4Addr, Box<dyn Activity>) {
    let scanner = rogue(PORT_SCANNER, &mut rng);
    let server = Endpoint { ip: INTRANET_SERVER, mac: INTRANET_SERVER_MAC, ttl: 64 };
    let mut ports: Vec<u16> = (1..=SCANNED_PORTS).collect();
    ports.shuffle(&mut rng);
    let targets = ports
        .into_iter()
        .map(|port| Target {
            end: ProbeEnd { endpoint: server, port, rtt: LAN_RTT },
            answer: if OPEN_PORTS.contains(&port) { Answer::Open } else { Answer::Closed },
        })
        .collect();
    let scan = Scan::new(scanner, targets, window, SCAN_TIME, origin, rng);
    (PORT_SCANNER, INTRANET_SERVER, Box::new(Planned::new(scan)))
}

/// Every LAN address but the sweeper's own, on port 445, shuffled.
pub fn host_sweep(window: Window, world: &World, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let sweeper = rogue(HOST_SWEEPER, &mut rng);
    let mut targets: Vec<Target> = (1..255)
        .map(|i| LAN.nth(i))
        .filter(|ip| *ip != HOST_SWEEPER)
        .map(|ip| {
            let (endpoint, answer) = sweep_target(ip, world);
            Target { end: ProbeEnd { endpoint, port: SWEPT_PORT, rtt: LAN_RTT }, answer }
        })
        .collect();
    targets.shuffle(&mut rng);
    let scan = Scan::new(sweeper, targets, window, SWEEP_TIME, origin, rng);
    (HOST_SWEEPER, Box::new(Planned::new(scan)))
}

/// Who is at `ip` and how it answers on 445. Only the benign hosts and
/// servers are live: the other rogue devices are not on the LAN during
/// the sweep's window.
fn sweep_target(ip: Ipv4Addr, world: &World) -> (Endpoint, Answer) {
    if let Some(host) = world.hosts.iter().find(|h| h.endpoint.ip == ip) {
        let answer = if host.os.serves_smb() { Answer::Open } else { Answer::Closed };
        return (host.endpoint, answer);
    }
    let server = |mac| Endpoint { ip, mac, ttl: 64 };
    match ip {
        GATEWAY => (server(GATEWAY_MAC), Answer::Closed),
        INTRANET_SERVER => (server(INTRANET_SERVER_MAC), Answer::Closed),
        PUBLIC_WEB_SERVER => (server(PUBLIC_WEB_SERVER_MAC), Answer::Closed),
        // Nobody there: the frames go to the broadcast address, where the
        // scanner's unanswered ARP request left them.
        _ => (server([0xff; 6]), Answer::Silent),
    }
}
