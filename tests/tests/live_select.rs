//! Privileged tests of `flowwatch run -w FILE` and `-f EXPR`: two
//! namespaces joined by a veth pair (offloads off, so one buffer is one
//! wire packet), the agent in namespace `a`, known UDP traffic both ways.
//!
//! - `-w` writes exactly one record per packet the hooks counted, with the
//!   frame's bytes (cut to `--snaplen`) and its wire length.
//! - `-f` keeps only the matching flows' records, and the `-w` file only
//!   the packets libpcap's program accepts.

use std::net::SocketAddr;

use anyhow::{Context, Result, ensure};
use integration_tests::agent::Agent;
use integration_tests::key::FlowKey;
use integration_tests::lab::Lab;
use integration_tests::records::AgentOutput;
use integration_tests::require_root;
use integration_tests::traffic;
use pcap_parser::PcapCapture;

const ETH_IPV4_UDP: u32 = 14 + 20 + 8;

/// One record of the `-w` file.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    caplen: u32,
    orig_len: u32,
    /// UDP (source, destination) port of an IPv4 frame, if it is one.
    udp_ports: Option<(u16, u16)>,
}

fn read_written(path: &std::path::Path) -> Result<(u32, Vec<Written>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading the -w file {}", path.display()))?;
    let capture = PcapCapture::from_file(&bytes).map_err(|e| anyhow::anyhow!("the -w file is not a pcap: {e:?}"))?;
    ensure!(capture.header.is_nanosecond_precision(), "the -w file should have nanosecond timestamps");
    ensure!(capture.header.network.0 == 1, "link type {} instead of Ethernet", capture.header.network.0);
    let records = capture
        .blocks
        .iter()
        .map(|block| {
            let data = block.data;
            let udp_ports = (data.len() >= 38 && data[12..14] == [0x08, 0x00] && data[23] == 17).then(|| {
                let l4 = 14 + usize::from(data[14] & 0x0f) * 4;
                (u16::from_be_bytes([data[l4], data[l4 + 1]]), u16::from_be_bytes([data[l4 + 2], data[l4 + 3]]))
            });
            Written { caplen: block.caplen, orig_len: block.origlen, udp_ports }
        })
        .collect();
    Ok((capture.header.snaplen, records))
}

fn records_between(records: &[Written], from: SocketAddr, to: SocketAddr) -> Vec<&Written> {
    records.iter().filter(|r| r.udp_ports == Some((from.port(), to.port()))).collect()
}

/// 50 datagrams of 100 bytes b→a, 20 of 300 bytes back.
fn exchange(lab: &Lab, a: SocketAddr, b: SocketAddr) -> Result<()> {
    let a_sock = traffic::udp_socket(&lab.a, a)?;
    let b_sock = traffic::udp_socket(&lab.b, b)?;
    traffic::udp_send(&b_sock, a, 50, 100)?;
    traffic::udp_expect(&a_sock, 50, 100)?;
    traffic::udp_send(&a_sock, b, 20, 300)?;
    traffic::udp_expect(&b_sock, 20, 300)?;
    Ok(())
}

fn hook_packets(out: &AgentOutput) -> Result<u64> {
    let stats = out.final_stats()?;
    Ok(stats.ingress.packets + stats.egress.packets)
}

#[test]
fn live_write_holds_exactly_the_packets_sent() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    lab.veth.disable_offloads()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("live.pcap");
    let file_arg = file.to_string_lossy().into_owned();
    let agent = Agent::start(&lab.a, &lab.veth.a_if, &["--no-analysis", "-w", &file_arg, "--snaplen", "200"])?;
    let (a, b) = (lab.a_addr(false, 6101), lab.b_addr(false, 5101));
    exchange(&lab, a, b)?;
    let out = agent.stop()?;

    let (snaplen, records) = read_written(&file)?;
    assert_eq!(snaplen, 200);
    let requests = records_between(&records, b, a);
    let replies = records_between(&records, a, b);
    let request = Written { caplen: ETH_IPV4_UDP + 100, orig_len: ETH_IPV4_UDP + 100, udp_ports: Some((5101, 6101)) };
    let reply = Written { caplen: 200, orig_len: ETH_IPV4_UDP + 300, udp_ports: Some((6101, 5101)) };
    assert_eq!(requests.len(), 50, "records b->a in the -w file");
    assert!(requests.iter().all(|r| **r == request), "b->a records: {requests:?}");
    assert_eq!(replies.len(), 20, "records a->b in the -w file");
    assert!(replies.iter().all(|r| **r == reply), "a->b records: {replies:?}");
    // Every packet either hook counted (ARP and neighbour discovery
    // included) is in the file, once, and the stats line says so.
    let write = out.final_stats()?.write.clone().context("no write object in the final stats line")?;
    assert_eq!(write.ring_drops, Some(0));
    assert_eq!(write.packets, records.len() as u64);
    assert_eq!(write.packets, hook_packets(&out)?, "file records vs packets the hooks counted");
    assert_eq!(write.truncated, records.iter().filter(|r| r.caplen < r.orig_len).count() as u64);
    let flow = out.flow(&FlowKey::udp(b, a))?;
    assert_eq!((flow.orig_packets, flow.resp_packets), (50, 20));
    Ok(())
}

#[test]
fn live_filter_keeps_only_matching_flows_and_packets() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    lab.veth.disable_offloads()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("filtered.pcap");
    let file_arg = file.to_string_lossy().into_owned();
    let args = ["--no-analysis", "-f", "udp port 6201", "-w", &file_arg];
    let agent = Agent::start(&lab.a, &lab.veth.a_if, &args)?;
    let (kept_a, kept_b) = (lab.a_addr(false, 6201), lab.b_addr(false, 5201));
    let (dropped_a, dropped_b) = (lab.a_addr(false, 6202), lab.b_addr(false, 5202));
    exchange(&lab, kept_a, kept_b)?;
    exchange(&lab, dropped_a, dropped_b)?;
    let out = agent.stop()?;

    let kept = out.flow(&FlowKey::udp(kept_b, kept_a))?;
    assert_eq!((kept.orig_packets, kept.resp_packets), (50, 20));
    ensure!(
        out.flows.iter().all(|f| f.src_port == 6201 || f.dst_port == 6201),
        "a record of another flow was written:\n{}",
        out.describe()
    );
    let stats = out.final_stats()?;
    let filter = stats.filter.clone().context("no filter object in the final stats line")?;
    assert_eq!(filter.expression, "udp port 6201");
    assert_eq!(filter.packets_matched, 70);
    // The kernel counted everything; what the filter dropped is accounted for.
    assert_eq!(filter.packets_matched + filter.packets_rejected, stats.flow_packets);
    assert!(filter.packets_rejected >= 70, "the 6202 exchange was not rejected: {filter:?}");
    assert!(filter.records_rejected >= Some(1));
    assert_eq!(
        stats.ingress.packets + stats.egress.packets - stats.ingress.non_ip - stats.egress.non_ip,
        stats.flow_packets
    );

    let (_, records) = read_written(&file)?;
    assert_eq!(records.len(), 70, "the -w file holds exactly the packets of udp port 6201: {records:?}");
    assert_eq!(records_between(&records, kept_b, kept_a).len(), 50);
    assert_eq!(records_between(&records, kept_a, kept_b).len(), 20);
    Ok(())
}
