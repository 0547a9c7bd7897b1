//! Observations for unit tests: small, readable builders.

use std::net::{IpAddr, Ipv4Addr};

use crate::{DirectionSummary, FlowObservation};

pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

/// A completed TCP connection `src → dst:dst_port` ending at `end_s`:
/// handshake both ways, 10 packets / 1,200 bytes out, 8 / 6,000 back.
pub fn tcp(src: IpAddr, dst: IpAddr, dst_port: u16, end_s: f64) -> FlowObservation {
    let end_ns = (end_s * 1e9) as u64;
    FlowObservation {
        flow_id: end_ns ^ u64::from(dst_port),
        start_ns: end_ns.saturating_sub(2_000_000_000),
        end_ns,
        proto: 6,
        src_ip: src,
        src_port: 51_000,
        dst_ip: dst,
        dst_port,
        ended: true,
        orig: DirectionSummary {
            packets: 10,
            bytes: 1_200,
            tcp_flags: 0x1b, // FIN SYN PSH ACK
            syn: 1,
            fin: 1,
            rst: 0,
            len_min: 66,
            len_max: 400,
            len_mean: 120.0,
            len_stddev: 90.0,
            iat_min_ms: 1.0,
            iat_max_ms: 800.0,
            iat_mean_ms: 200.0,
            iat_stddev_ms: 250.0,
        },
        resp: DirectionSummary {
            packets: 8,
            bytes: 6_000,
            tcp_flags: 0x1b,
            syn: 1,
            fin: 1,
            rst: 0,
            len_min: 66,
            len_max: 1_514,
            len_mean: 750.0,
            len_stddev: 600.0,
            iat_min_ms: 1.0,
            iat_max_ms: 900.0,
            iat_mean_ms: 250.0,
            iat_stddev_ms: 300.0,
        },
    }
}

/// A SYN to a closed or filtered port: one packet, no answer.
pub fn syn_probe(src: IpAddr, dst: IpAddr, dst_port: u16, end_s: f64) -> FlowObservation {
    let mut flow = tcp(src, dst, dst_port, end_s);
    flow.start_ns = flow.end_ns;
    flow.orig = DirectionSummary {
        packets: 1,
        bytes: 60,
        tcp_flags: 0x02,
        syn: 1,
        len_min: 60,
        len_max: 60,
        len_mean: 60.0,
        ..DirectionSummary::default()
    };
    flow.resp = DirectionSummary::default();
    flow
}

/// Seeded benign traffic: 20 clients making HTTPS, HTTP and DNS requests to
/// five servers over `seconds` of flow time, with varied sizes and timing.
pub fn benign(seed: u64, seconds: u32) -> Vec<FlowObservation> {
    use rand_linfa::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flows = Vec::new();
    for second in 0..seconds {
        for client in 10..30u8 {
            if !rng.gen_bool(0.25) {
                continue;
            }
            let end_s = f64::from(second) + rng.gen_range(0.0..1.0);
            let server = IpAddr::V4(Ipv4Addr::new(10, 0, 1, rng.gen_range(1..=5)));
            let mut flow = match rng.gen_range(0..10) {
                0..=5 => tcp(ip(client), server, 443, end_s),
                6..=7 => tcp(ip(client), server, 80, end_s),
                _ => dns(ip(client), server, end_s),
            };
            let scale = rng.gen_range(0.5..4.0);
            flow.resp.bytes = (flow.resp.bytes as f64 * scale) as u64;
            flow.resp.packets = (flow.resp.packets as f64 * scale).ceil() as u64;
            flow.orig.iat_mean_ms *= rng.gen_range(0.5..2.0);
            flow.src_port = rng.gen_range(49_152..=65_535);
            flow.flow_id = flows.len() as u64;
            flows.push(flow);
        }
    }
    flows
}

/// A DNS query and its answer.
pub fn dns(src: IpAddr, dst: IpAddr, end_s: f64) -> FlowObservation {
    let mut flow = tcp(src, dst, 53, end_s);
    flow.proto = 17;
    flow.start_ns = flow.end_ns.saturating_sub(20_000_000);
    let one = |bytes: u64| DirectionSummary {
        packets: 1,
        bytes,
        len_min: bytes as u32,
        len_max: bytes as u32,
        len_mean: bytes as f64,
        ..DirectionSummary::default()
    };
    flow.orig = one(80);
    flow.resp = one(140);
    flow
}
