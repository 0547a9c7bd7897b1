//! Flow records → NDJSON alone: `FlowRecord` built from ended flows and
//! written as the agent writes them (`NdjsonWriter::write_flow`) to
//! /dev/null, so the figure is the record path's, without the kernel map or
//! the flow table.

use std::path::PathBuf;

use agent::{
    clock::Clock,
    flow::{EmitReason, Expired, FlowRecord, RecordContext},
    iface::InterfaceNames,
    sink::{NdjsonWriter, OutputPath},
};
use agent_common::{
    flow::{FlowKey, FlowStats, PacketSample, tcp_flags},
    parse::{IPPROTO_TCP, IPPROTO_UDP, ipv4_mapped},
};
use anyhow::Result;

use crate::{cpu_time::Elapsed, report::Report};

/// Distinct records built up front (about 300 bytes each), written `rounds` times.
const DISTINCT: u32 = 100_000;

fn sample(frame_len: u32, now_ns: u64, tcp_flags: u8) -> PacketSample {
    PacketSample { frame_len, segments: 1, header_len: 54, now_ns, tcp_flags, pkt_flags: 0 }
}

/// A mix like real traffic: TCP and UDP, IPv4 and IPv6, one to a few
/// packets each way, spread over an hour of capture time.
fn ended_flow(i: u32) -> Expired {
    let [_, b1, b2, b3] = i.to_be_bytes();
    let start_ns = 1_700_000_000_000_000_000 + u64::from(i) * 36_000_017;
    let tcp = !i.is_multiple_of(3);
    let v6 = i.is_multiple_of(5);
    let (protocol, flags) = if tcp { (IPPROTO_TCP, tcp_flags::SYN | tcp_flags::ACK) } else { (IPPROTO_UDP, 0) };
    let mut orig = FlowStats::first(&sample(74 + i % 1400, start_ns, flags));
    for n in 1..=u64::from(i % 4) {
        orig.record(&sample(60 + (i * 7) % 1400, start_ns + n * 1_234_567, flags));
    }
    let resp = if i.is_multiple_of(2) {
        FlowStats::first(&sample(90, start_ns + 500_000, flags))
    } else {
        FlowStats::default()
    };
    let mut src_addr = ipv4_mapped([10, b1, b2, b3]);
    if v6 {
        src_addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, b1, b2, b3, 1];
    }
    let dst_addr =
        if v6 { [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2] } else { ipv4_mapped([192, 0, 2, 1]) };
    Expired {
        flow_id: u64::from(i) + 1,
        reason: EmitReason::Idle,
        originator: FlowKey {
            src_addr,
            dst_addr,
            src_port: 1024 + (i % 60_000) as u16,
            dst_port: 443,
            ifindex: 1,
            protocol,
            ..FlowKey::default()
        },
        orig,
        resp,
        start_ns,
        end_ns: orig.last_seen_ns.max(resp.last_seen_ns),
    }
}

pub fn run(report: &mut Report, records: u32) -> Result<()> {
    eprintln!("records: {records} flow records → NDJSON → /dev/null");
    let flows: Vec<Expired> = (0..DISTINCT.min(records)).map(ended_flow).collect();
    let mut writer = NdjsonWriter::open(&OutputPath::File(PathBuf::from("/dev/null")))?;
    let mut names = InterfaceNames::default();
    names.insert(1, "eth0".to_owned());
    let mut context = RecordContext::new(Clock::epoch(), names);
    let count = records as usize;
    let (elapsed, result) = Elapsed::of(|| -> Result<()> {
        for expired in flows.iter().cycle().take(count) {
            let record = FlowRecord::new(expired, &mut context);
            writer.write_flow(&record)?;
        }
        Ok(writer.flush()?)
    });
    result?;
    report
        .add("records", "FlowRecord + NDJSON to /dev/null (1 core)", elapsed.rate_by_cpu(count), "flows/s")
        .target(">= 500000")
        .note(elapsed.note(count));
    Ok(())
}
