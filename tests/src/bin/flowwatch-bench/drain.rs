//! Drain throughput (kernel map → flow table → records) and the agent's
//! memory with many live flows. The map is filled directly from userspace
//! so the figure is the drain's, not the traffic generator's.

use std::{io, time::Instant};

use agent::{
    capture::{CaptureConfig, LiveCapture},
    clock::Clock,
    flow::{EngineConfig, FlowEngine, FlowMapSource, FlowRecord, RecordContext},
    iface::InterfaceNames,
};
use agent_common::{
    flow::{FlowKey, FlowStats, PacketSample},
    parse::{IPPROTO_UDP, ipv4_mapped},
};
use anyhow::Result;

use crate::report::Report;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(str::to_owned))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn synthetic(i: u32) -> (FlowKey, FlowStats) {
    let [b0, b1, b2, b3] = i.to_be_bytes();
    let key = FlowKey {
        src_addr: ipv4_mapped([10, b1, b2, b3]),
        dst_addr: ipv4_mapped([192, 0, 2, b0.wrapping_add(1)]),
        src_port: 40_000 + (i % 20_000) as u16,
        dst_port: 443,
        ifindex: 1,
        protocol: IPPROTO_UDP,
        ..FlowKey::default()
    };
    let mut stats = FlowStats::default();
    for n in 0..4u64 {
        stats.record(&PacketSample {
            frame_len: 100 + n as u32,
            segments: 1,
            header_len: 42,
            now_ns: 1_000 + n * 1_000,
            tcp_flags: 0,
            pkt_flags: 0,
        });
    }
    (key, stats)
}

pub fn run(report: &mut Report, flows: u32) -> Result<()> {
    eprintln!("drain: {flows} flows");
    let mut capture = LiveCapture::start(&CaptureConfig {
        interfaces: Vec::new(),
        map_entries: flows.saturating_mul(2),
        ..CaptureConfig::default()
    })?;
    let map = capture.flow_map();
    for i in 0..flows {
        let (key, stats) = synthetic(i);
        map.insert(&key, stats)?;
    }

    let mut snapshot = Vec::new();
    let started = Instant::now();
    map.snapshot(&mut snapshot)?;
    let read = started.elapsed();
    report
        .add("drain", "map read (per-CPU merge)", snapshot.len() as f64 / read.as_secs_f64(), "flows/s")
        .note(format!("{} entries in {:.1} ms", snapshot.len(), read.as_secs_f64() * 1e3));
    drop(snapshot);

    // Live flows held by the agent (idle timeout far away).
    let rss_before = rss_kib();
    let mut live = FlowEngine::new(EngineConfig::default());
    let started = Instant::now();
    live.poll(map, 10_000)?;
    let into_table = started.elapsed();
    report.add("drain", "map → flow table", flows as f64 / into_table.as_secs_f64(), "flows/s").target(">= 500000");
    report
        .add("drain", format!("agent RSS with {flows} live flows"), rss_kib() as f64 / 1024.0, "MiB")
        .note(format!("+{:.1} MiB for the flow state", rss_kib().saturating_sub(rss_before) as f64 / 1024.0));

    // Every flow idle: records written, map entries deleted.
    let mut ending =
        FlowEngine::new(EngineConfig { idle_timeout: std::time::Duration::ZERO, ..EngineConfig::default() });
    let mut context = RecordContext::new(Clock::epoch(), InterfaceNames::default());
    let mut sink = io::sink();
    let started = Instant::now();
    let out = ending.poll(map, 10_000)?;
    for expired in &out.records {
        serde_json::to_writer(&mut sink, &FlowRecord::new(expired, &mut context))?;
    }
    let to_records = started.elapsed();
    report
        .add(
            "drain",
            "map → records (JSON) + idle deletion",
            out.records.len() as f64 / to_records.as_secs_f64(),
            "flows/s",
        )
        .target(">= 500000")
        .note(format!("{} records in {:.1} ms", out.records.len(), to_records.as_secs_f64() * 1e3));
    Ok(())
}
