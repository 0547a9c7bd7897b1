//! Synthetic but realistic flow observations for the models section: a
//! benign mixture (web, DNS, NTP, SSH, ping, a few failed connections) from
//! 200 clients, and five attack kinds from dedicated addresses, with the
//! labels that name them. Sizes and durations are log-normal, as measured
//! traffic is. Until the lead feeds replayed captures in, this is what the
//! models are measured on; `super::measure` takes any flows and labels.

use std::{
    f64::consts::TAU,
    net::{IpAddr, Ipv4Addr},
};

use ::models::{AnomalyKind, DirectionSummary, FlowObservation, Label, Labels};
use rand_linfa::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;
/// Benign flows per second of flow time.
const BENIGN_RATE: f64 = 30.0;

pub struct Dataset {
    pub flows: Vec<FlowObservation>,
    pub labels: Labels,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

struct Generator {
    rng: Xoshiro256PlusPlus,
    next_id: u64,
}

/// One direction's packets and bytes over `duration_s`, with the derived
/// statistics the agent would report.
fn direction(packets: u64, bytes: u64, duration_s: f64, flags: u8, jitter: f64) -> DirectionSummary {
    if packets == 0 {
        return DirectionSummary::default();
    }
    let mean = bytes as f64 / packets as f64;
    let iat_mean_ms = if packets > 1 { duration_s * 1e3 / (packets - 1) as f64 } else { 0.0 };
    let spread = if packets > 1 { mean * 0.6 } else { 0.0 };
    DirectionSummary {
        packets,
        bytes,
        tcp_flags: flags,
        syn: u32::from(flags & SYN != 0),
        fin: u32::from(flags & FIN != 0),
        rst: u32::from(flags & RST != 0),
        len_min: if packets > 1 { 60.min(mean as u32) } else { mean as u32 },
        len_max: if packets > 1 { (mean + 2.0 * spread).min(1514.0) as u32 } else { mean as u32 },
        len_mean: mean,
        len_stddev: spread,
        iat_min_ms: iat_mean_ms * 0.05,
        iat_max_ms: iat_mean_ms * (1.0 + 3.0 * jitter),
        iat_mean_ms,
        iat_stddev_ms: iat_mean_ms * jitter,
    }
}

impl Generator {
    fn new(seed: u64) -> Self {
        Self { rng: Xoshiro256PlusPlus::seed_from_u64(seed), next_id: 0 }
    }

    /// Log-normal with the given median (Box–Muller).
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let u1: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.r#gen();
        median * (sigma * (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()).exp()
    }

    #[expect(clippy::too_many_arguments, reason = "one flow's fields, named at every call")]
    fn flow(
        &mut self,
        (src, src_port): (IpAddr, u16),
        (dst, dst_port): (IpAddr, u16),
        proto: u8,
        end_s: f64,
        duration_s: f64,
        orig: DirectionSummary,
        resp: DirectionSummary,
    ) -> FlowObservation {
        self.next_id += 1;
        let end_ns = (end_s * 1e9) as u64;
        FlowObservation {
            flow_id: self.next_id,
            start_ns: end_ns.saturating_sub((duration_s * 1e9) as u64),
            end_ns,
            proto,
            src_ip: src,
            src_port,
            dst_ip: dst,
            dst_port,
            ended: true,
            orig,
            resp,
        }
    }

    fn ephemeral(&mut self) -> u16 {
        self.rng.gen_range(49_152..=65_535)
    }

    /// A TCP conversation with handshake and teardown.
    fn tcp_session(
        &mut self,
        client: IpAddr,
        server: (IpAddr, u16),
        end_s: f64,
        shape: (f64, f64, f64),
    ) -> FlowObservation {
        let (duration_median, up_median, down_median) = shape;
        let duration = self.lognormal(duration_median, 1.2).max(0.01);
        let up = self.lognormal(up_median, 1.0).max(200.0) as u64;
        let down = self.lognormal(down_median, 1.8).max(200.0) as u64;
        let up_packets = 3 + up / 700;
        let down_packets = 2 + down / 1400;
        let jitter = self.rng.gen_range(0.3..2.0);
        let orig = direction(up_packets, up, duration, SYN | ACK | PSH | FIN, jitter);
        let resp = direction(down_packets, down, duration, SYN | ACK | PSH | FIN, jitter);
        let port = self.ephemeral();
        self.flow((client, port), server, TCP, end_s, duration, orig, resp)
    }

    fn udp_exchange(
        &mut self,
        client: IpAddr,
        server: (IpAddr, u16),
        end_s: f64,
        up: u64,
        down: u64,
    ) -> FlowObservation {
        let duration = self.rng.gen_range(0.002..0.05);
        let port = self.ephemeral();
        self.flow(
            (client, port),
            server,
            UDP,
            end_s,
            duration,
            direction(1, up, 0.0, 0, 0.0),
            direction(1, down, 0.0, 0, 0.0),
        )
    }

    fn benign_flow(&mut self, end_s: f64) -> FlowObservation {
        let client = v4(10, 1, self.rng.gen_range(0..2), self.rng.gen_range(1..=100));
        let web_server = v4(203, 0, 113, self.rng.gen_range(1..=50));
        match self.rng.gen_range(0..100) {
            0..45 => self.tcp_session(client, (web_server, 443), end_s, (2.0, 1_500.0, 20_000.0)),
            45..55 => self.tcp_session(client, (web_server, 80), end_s, (0.8, 600.0, 8_000.0)),
            55..85 => {
                let resolver = v4(10, 0, 0, self.rng.gen_range(53..=54));
                let (query, answer) = (self.rng.gen_range(70..110), self.rng.gen_range(90..400));
                self.udp_exchange(client, (resolver, 53), end_s, query, answer)
            }
            85..90 => self.udp_exchange(client, (v4(10, 0, 0, 123), 123), end_s, 90, 90),
            90..94 => self.tcp_session(client, (v4(10, 0, 0, 22), 22), end_s, (60.0, 8_000.0, 30_000.0)),
            94..97 => {
                let pings = self.rng.gen_range(1..=4);
                let duration = (pings - 1) as f64;
                let (orig, resp) =
                    (direction(pings, pings * 98, duration, 0, 0.01), direction(pings, pings * 98, duration, 0, 0.01));
                self.flow((client, 8), (web_server, 0), ICMP, end_s, duration, orig, resp)
            }
            97..99 => {
                // A connection that fails: retried SYNs, no answer or a reset.
                let syns = self.rng.gen_range(1..=3);
                let orig = direction(syns, syns * 74, (syns - 1) as f64, SYN, 0.0);
                let resp = if self.rng.gen_bool(0.5) {
                    direction(1, 60, 0.0, RST | ACK, 0.0)
                } else {
                    DirectionSummary::default()
                };
                let port = self.ephemeral();
                self.flow((client, port), (web_server, 443), TCP, end_s, (syns - 1) as f64, orig, resp)
            }
            _ => {
                let port = if self.rng.gen_bool(0.5) { 8080 } else { 3306 };
                self.tcp_session(client, (v4(10, 0, 0, 30), port), end_s, (1.0, 800.0, 4_000.0))
            }
        }
    }

    fn benign(&mut self, count: usize, start_s: f64) -> Vec<FlowObservation> {
        (0..count)
            .map(|i| {
                let end_s = start_s + i as f64 / BENIGN_RATE + self.rng.gen_range(0.0..0.03);
                self.benign_flow(end_s)
            })
            .collect()
    }
}

/// `count` benign flows ending from `start_s` on, at 30 flows/s.
pub fn benign(count: usize, start_s: f64, seed: u64) -> Vec<FlowObservation> {
    Generator::new(seed).benign(count, start_s)
}

const SCANNER: [u8; 4] = [10, 66, 0, 1];
const FLOOD_VICTIM: [u8; 4] = [10, 0, 0, 80];
const EXFILTRATOR: [u8; 4] = [10, 66, 0, 2];
const BEACON: [u8; 4] = [10, 66, 0, 3];
const TUNNEL: [u8; 4] = [10, 66, 0, 4];

/// `count` benign flows from `start_s` on with five attacks mixed in, and their labels.
pub fn with_attacks(count: usize, start_s: f64, seed: u64) -> Dataset {
    let mut g = Generator::new(seed);
    let mut flows = g.benign(count, start_s);
    let span = count as f64 / BENIGN_RATE;
    let at = |fraction: f64| start_s + span * fraction;
    let ip = |a: [u8; 4]| v4(a[0], a[1], a[2], a[3]);

    // Port scan: SYN to ports 1–1024 of the SSH server in 10 s; closed ports reset.
    for port in 1..=1024u16 {
        let open = matches!(port, 22 | 80 | 443);
        let resp = if open { direction(1, 60, 0.0, SYN | ACK, 0.0) } else { direction(1, 60, 0.0, RST | ACK, 0.0) };
        let sport = g.ephemeral();
        let flow = g.flow(
            (ip(SCANNER), sport),
            (v4(10, 0, 0, 22), port),
            TCP,
            at(0.1) + f64::from(port) * 0.01,
            0.0005,
            direction(1, 60, 0.0, SYN, 0.0),
            resp,
        );
        flows.push(flow);
    }
    // SYN flood from 2,000 spoofed sources in 2 s, never answered.
    for i in 0..2_000u32 {
        let src = v4(g.rng.gen_range(1..=223), g.rng.r#gen(), g.rng.r#gen(), g.rng.gen_range(1..=254));
        let syns = g.rng.gen_range(1..=2);
        let sport = g.ephemeral();
        let flow = g.flow(
            (src, sport),
            (ip(FLOOD_VICTIM), 80),
            TCP,
            at(0.3) + f64::from(i) * 0.001,
            (syns - 1) as f64,
            direction(syns, syns * 60, (syns - 1) as f64, SYN, 0.0),
            DirectionSummary::default(),
        );
        flows.push(flow);
    }
    // Exfiltration: 20 uploads of 50–200 MB to one outside address.
    for i in 0..20 {
        let duration = g.rng.gen_range(60.0..300.0);
        let up = g.rng.gen_range(50_000_000..200_000_000u64);
        let (orig, resp) = (
            direction(up / 1400, up, duration, SYN | ACK | PSH | FIN, 0.3),
            direction(up / 2800, up / 2800 * 66, duration, SYN | ACK | FIN, 0.3),
        );
        let sport = g.ephemeral();
        let flow = g.flow(
            (ip(EXFILTRATOR), sport),
            (v4(192, 0, 2, 99), 443),
            TCP,
            at(0.5) + f64::from(i) * 30.0,
            duration,
            orig,
            resp,
        );
        flows.push(flow);
    }
    // Beaconing: a small check-in every 30 s (±1%) for the whole period.
    let mut t = at(0.0) + 5.0;
    while t < at(1.0) {
        let (orig, resp) =
            (direction(4, 420, 0.2, SYN | ACK | PSH | FIN, 0.05), direction(3, 310, 0.2, SYN | ACK | PSH | FIN, 0.05));
        let sport = g.ephemeral();
        let flow = g.flow((ip(BEACON), sport), (v4(192, 0, 2, 77), 8443), TCP, t, 0.2, orig, resp);
        flows.push(flow);
        t += 30.0 * g.rng.gen_range(0.99..1.01);
    }
    // DNS tunnel: 3,000 large queries to the resolver in 5 minutes.
    for i in 0..3_000u32 {
        let (query, answer) = (g.rng.gen_range(200..256), g.rng.gen_range(250..500));
        let flow = g.udp_exchange(ip(TUNNEL), (v4(10, 0, 0, 53), 53), at(0.7) + f64::from(i) * 0.1, query, answer);
        flows.push(flow);
    }
    flows.sort_by_key(|flow| flow.end_ns);

    let label = |kind, attacker: Option<[u8; 4]>, victim: Option<[u8; 4]>| Label {
        kind,
        attacker: attacker.map(ip),
        victim: victim.map(ip),
        start: None,
        end: None,
    };
    let labels = Labels(vec![
        label(AnomalyKind::PortScan, Some(SCANNER), None),
        label(AnomalyKind::Flood, None, Some(FLOOD_VICTIM)),
        label(AnomalyKind::Exfiltration, Some(EXFILTRATOR), None),
        label(AnomalyKind::Beaconing, Some(BEACON), None),
        label(AnomalyKind::DnsTunnel, Some(TUNNEL), None),
    ]);
    Dataset { flows, labels }
}
