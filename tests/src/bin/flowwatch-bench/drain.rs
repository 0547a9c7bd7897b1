//! Drain throughput (kernel map → flow table → records) and the agent's
//! memory with many live flows. The map is filled directly from userspace
//! so the figure is the drain's, not the traffic generator's. Rates are per
//! CPU second of the draining thread (its syscalls included), the figure
//! other builds on the shared machine do not distort; the wall-clock rate is
//! in each row's note.

use std::path::PathBuf;

use agent::{
    capture::{CaptureConfig, KernelFlowMap, LiveCapture},
    clock::Clock,
    flow::{EngineConfig, FlowEngine, FlowMapSource, FlowRecord, PollOutput, RecordContext},
    iface::InterfaceNames,
    sink::{NdjsonWriter, OutputPath},
};
use agent_common::{
    flow::{FlowKey, FlowStats, PacketSample},
    parse::{IPPROTO_UDP, ipv4_mapped},
};
use anyhow::Result;

use crate::{
    cpu_time::{Elapsed, Samples},
    report::Report,
};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(str::to_owned))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Flow `i`: four packets from `base_ns` on.
fn synthetic(i: u32, base_ns: u64) -> (FlowKey, FlowStats) {
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
            now_ns: base_ns + 1_000 + n * 1_000,
            tcp_flags: 0,
            pkt_flags: 0,
        });
    }
    (key, stats)
}

fn fill(map: &mut KernelFlowMap, flows: u32, base_ns: u64) -> Result<()> {
    for i in 0..flows {
        let (key, stats) = synthetic(i, base_ns);
        map.insert(&key, stats)?;
    }
    Ok(())
}

/// Steady-state cycles each drain row is measured over; rows report their median.
const STEADY_CYCLES: usize = 5;

/// Runs `cycle` once, the first time (buffers and tables grow and fault
/// in their memory), then [`STEADY_CYCLES`] times, the state of an agent
/// that has drained as many flows before.
fn first_then_steady<T>(mut cycle: impl FnMut() -> Result<T>) -> Result<(T, Vec<T>)> {
    let first = cycle()?;
    let steady = (0..STEADY_CYCLES).map(|_| cycle()).collect::<Result<_>>()?;
    Ok((first, steady))
}

pub fn run(report: &mut Report, flows: u32) -> Result<()> {
    eprintln!("drain: {flows} flows, median of {STEADY_CYCLES} steady cycles per rate");
    let mut capture = LiveCapture::start(&CaptureConfig {
        interfaces: Vec::new(),
        map_entries: flows.saturating_mul(2),
        ..CaptureConfig::default()
    })?;
    let map = capture.flow_map();
    let count = flows as usize;
    fill(map, flows, 0)?;

    let mut snapshot = Vec::new();
    let (_, reads) = first_then_steady(|| {
        let (read, result) = Elapsed::of(|| map.snapshot(&mut snapshot));
        result?;
        anyhow::ensure!(snapshot.len() == count, "{} entries read, {count} expected", snapshot.len());
        Ok(read)
    })?;
    let reads = Samples(reads);
    report.add("drain", "map read (per-CPU merge)", reads.median_rate_by_cpu(count), "flows/s").note(reads.note(count));

    // Live flows taken into the table (idle timeout far away), then ended
    // an hour later; each cycle two hours after the last, so its entries are
    // new flows to the engine.
    let rss_before = rss_kib();
    let mut live = FlowEngine::new(EngineConfig::default());
    let mut out = PollOutput::default();
    let an_hour = 3_600_000_000_000;
    let mut start = 0;
    let ((first_into_table, rss_live), into_table) = first_then_steady(|| {
        // The first cycle takes the entries the map read left.
        if start > 0 {
            fill(map, flows, start)?;
        }
        let (taken, result) = Elapsed::of(|| live.poll(map, start + 10_000, &mut out));
        result?;
        anyhow::ensure!(live.active_flows() == count, "{} flows in the table, {count} expected", live.active_flows());
        let rss_live = rss_kib();
        live.poll(map, start + an_hour, &mut out)?;
        anyhow::ensure!(out.records.len() == count, "the live flows did not all end");
        start += 2 * an_hour;
        Ok((taken, rss_live))
    })?;
    let into_table = Samples(into_table.into_iter().map(|(taken, _)| taken).collect());
    report.add("drain", "map → flow table", into_table.median_rate_by_cpu(count), "flows/s").target(">= 500000").note(
        format!(
            "{}; the first time (tables growing): {:.0}/s by CPU",
            into_table.note(count),
            first_into_table.rate_by_cpu(count)
        ),
    );
    report.add("drain", format!("agent RSS with {flows} live flows"), rss_live as f64 / 1024.0, "MiB").note(format!(
        "one reading, the first time; +{:.1} MiB for the flow state",
        rss_live.saturating_sub(rss_before) as f64 / 1024.0
    ));

    // Every flow idle: map entries deleted (one batch), records written the
    // way the agent writes them (commands/output.rs without analysis). The
    // poll's "now" is an hour after the entries' timestamps, past the
    // retirement age.
    let mut ending =
        FlowEngine::new(EngineConfig { idle_timeout: std::time::Duration::ZERO, ..EngineConfig::default() });
    let mut out = PollOutput::default();
    let mut writer = NdjsonWriter::open(&OutputPath::File(PathBuf::from("/dev/null")))?;
    let mut context = RecordContext::new(Clock::epoch(), InterfaceNames::default());
    let ((first_ended, first_written), steady) = first_then_steady(|| {
        fill(map, flows, 0)?;
        let (ended, result) = Elapsed::of(|| ending.poll(map, an_hour, &mut out));
        result?;
        let (written, result) = Elapsed::of(|| -> Result<()> {
            for expired in &out.records {
                let record = FlowRecord::new(expired, &mut context);
                writer.write_flow(&record)?;
            }
            Ok(writer.flush()?)
        });
        result?;
        anyhow::ensure!(out.records.len() == count, "{} records for {count} flows", out.records.len());
        map.snapshot(&mut snapshot)?;
        anyhow::ensure!(snapshot.is_empty(), "{} entries left after every flow ended", snapshot.len());
        Ok((ended, written))
    })?;
    let total = |(ended, written): &(Elapsed, Elapsed)| Elapsed {
        cpu: ended.cpu + written.cpu,
        wall: ended.wall + written.wall,
    };
    let first = total(&(first_ended, first_written));
    let (totals, polls, writes) = (
        Samples(steady.iter().map(total).collect()),
        Samples(steady.iter().map(|(ended, _)| *ended).collect()),
        Samples(steady.iter().map(|(_, written)| *written).collect()),
    );
    report
        .add("drain", "map → records (JSON) + deletion of ended entries", totals.median_rate_by_cpu(count), "flows/s")
        .target(">= 500000")
        .note(format!(
            "{}; the first time (tables growing): {:.0}/s by CPU",
            totals.note(count),
            first.rate_by_cpu(count)
        ));
    report
        .add("drain", "  of which: the poll (read, table, deletion)", polls.median_rate_by_cpu(count), "flows/s")
        .note(polls.note(count));
    report
        .add("drain", "  of which: FlowRecord + NDJSON encoding", writes.median_rate_by_cpu(count), "flows/s")
        .note(writes.note(count));

    // The deletion alone: every entry in one batch.
    let keys: Vec<FlowKey> = (0..flows).map(|i| synthetic(i, 0).0).collect();
    let (_, deletions) = first_then_steady(|| {
        fill(map, flows, 0)?;
        let (deleted, result) = Elapsed::of(|| map.retire(&keys));
        result?;
        map.snapshot(&mut snapshot)?;
        anyhow::ensure!(snapshot.is_empty(), "{} entries left after the batch delete", snapshot.len());
        Ok(deleted)
    })?;
    let deletions = Samples(deletions);
    report
        .add(
            "drain",
            "  of which: deletion (one batch for all entries)",
            deletions.median_rate_by_cpu(count),
            "flows/s",
        )
        .note(deletions.note(count));
    Ok(())
}
