//! How many flow records per second the detection engine takes, on three
//! synthetic mixes (a measurement, never a test):
//!
//! `cargo run --release -p agent --example detect_throughput [FLOWS]`
//!
//! - `spoofed-syn`: one SYN per flow from a new source each time, to one
//!   victim (the worst case for per-source state: every flow is a new entity);
//! - `clients`: 5,000 internal hosts opening answered TCP/UDP sessions to
//!   50,000 outside servers (ordinary traffic: mostly known entities);
//! - `scan`: one source probing every port of 250 hosts.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Instant,
};

use agent::{
    clock::Clock,
    detect::{DetectionEngine, DetectorsConfig},
};
use agent_common::flow::tcp_flags::{ACK, FIN, PSH, SYN};
use models::{DirectionSummary, FlowObservation};

const BASE_NS: u64 = 1_700_000_000_000_000_000;

fn summary(packets: u64, bytes: u64, flags: u8) -> DirectionSummary {
    DirectionSummary {
        packets,
        bytes,
        tcp_flags: flags,
        syn: u32::from(flags & SYN != 0),
        len_min: 60,
        len_max: 1500,
        len_mean: bytes as f64 / packets.max(1) as f64,
        ..DirectionSummary::default()
    }
}

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

/// `i`-th flow of a mix, at 1 µs intervals (a million flows per second of capture time).
fn flow(mix: &str, i: u64) -> FlowObservation {
    let start_ns = BASE_NS + i * 1_000;
    let mut flow = FlowObservation {
        flow_id: i,
        start_ns,
        end_ns: start_ns + 1_000_000,
        proto: 6,
        src_ip: ip(0x0a00_0000 + (i % 5_000) as u32),
        src_port: 1024 + (i % 60_000) as u16,
        dst_ip: ip(0x5db8_0000 + (i % 50_000) as u32),
        dst_port: 443,
        ended: true,
        orig: summary(1, 60, SYN),
        resp: DirectionSummary::default(),
    };
    match mix {
        "spoofed-syn" => {
            flow.src_ip = ip(0x0100_0000 + (i as u32).wrapping_mul(2_654_435_761) % 0xd000_0000);
            flow.dst_ip = ip(0x0a0a_0a0a);
            flow.dst_port = 25565;
        }
        "clients" => {
            // Many distinct servers, as a busy network has: pairs rarely repeat.
            flow.dst_ip = ip(0x5db8_0000 + (i.wrapping_mul(7919) % 4_000_000) as u32);
            if i.is_multiple_of(4) {
                flow.proto = 17;
                flow.dst_port = 53;
                flow.dst_ip = ip(0x0a00_fffe);
                flow.orig = summary(1, 80, 0);
                flow.resp = summary(1, 200, 0);
            } else {
                flow.orig = summary(12, 1_500, SYN | ACK | PSH | FIN);
                flow.resp = summary(20, 24_000, SYN | ACK | PSH | FIN);
            }
        }
        _ => {
            flow.src_ip = ip(0xac10_0008);
            flow.dst_ip = ip(0x400d_8600 + (i / 65_000 % 250) as u32);
            flow.dst_port = (i % 65_000) as u16 + 1;
        }
    }
    flow
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flows: u64 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(2_000_000);
    for mix in ["spoofed-syn", "clients", "scan"] {
        let batch: Vec<FlowObservation> = (0..flows).map(|i| flow(mix, i)).collect();
        let mut engine = DetectionEngine::new(DetectorsConfig::default(), Clock::epoch(), None)?;
        let started = Instant::now();
        let mut events = std::collections::BTreeMap::<String, usize>::new();
        let mut count = |batch: Vec<agent::event::Event>| {
            for event in batch {
                *events.entry(format!("{}/{}", event.kind, event.severity)).or_default() += 1;
            }
        };
        for record in &batch {
            count(engine.observe(record, None));
        }
        count(engine.finish());
        let elapsed = started.elapsed().as_secs_f64();
        let stats = engine.stats();
        println!(
            "{mix:12} {flows} flows in {elapsed:.3} s: {:.0} flows/s, events {events:?}, {} findings, tracked {:?}",
            flows as f64 / elapsed,
            stats.findings,
            stats.detectors.iter().map(|d| (d.detector, d.tracked, d.evicted)).collect::<Vec<_>>()
        );
    }
    Ok(())
}
