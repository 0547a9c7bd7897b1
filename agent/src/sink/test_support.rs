//! Fixed events and flow records for the sink tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use agent_common::flow::{PKT_FRAGMENT, PKT_GSO, PKT_IP_OPTIONS};

use crate::{
    clock::Rfc3339Formatter,
    event::{
        AnomalyKind, EVENT_SCHEMA_VERSION, Event, Evidence, FlowRef, RemoteInfo, ScanPattern, Severity, Timestamp,
    },
    flow::{DirectionStats, EmitReason, FlowRecord, PacketFlagNames, TcpFlagLetters},
};

/// 2024-05-01T12:00:00.123456789Z
pub(crate) const LAST_SEEN_NS: i128 = 1_714_564_800_123_456_789;

/// A high-severity port scan with id `id`.
pub(crate) fn event(id: u64) -> Event {
    event_with(id, Severity::High)
}

pub(crate) fn event_with(id: u64, severity: Severity) -> Event {
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let dst = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20));
    Event {
        record_type: "event",
        schema_version: EVENT_SCHEMA_VERSION,
        kind: AnomalyKind::PortScan,
        event_id: id,
        severity,
        score: 0.875,
        summary: format!("port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event {id})"),
        src_ip: Some(src),
        src_port: None,
        dst_ip: Some(dst),
        dst_port: None,
        proto: Some(6),
        first_seen: Timestamp(LAST_SEEN_NS - 30_000_000_000),
        last_seen: Timestamp(LAST_SEEN_NS),
        occurrences: 1,
        evidence: Evidence::PortScan {
            pattern: ScanPattern::Vertical,
            distinct_ports: 120,
            distinct_hosts: 1,
            attempts: 130,
            failed: 118,
            log_likelihood_ratio: Some(4.75),
            window_secs: None,
        },
        flows: vec![FlowRef { flow_id: 42, proto: 6, src_ip: src, src_port: 40000, dst_ip: dst, dst_port: 22 }],
        flows_total: 130,
        remote: Some(RemoteInfo {
            ip: Some(src),
            scope: "documentation",
            country: Some("GB".to_owned()),
            asn: Some(64496),
            org: Some(r#"Example "Net" \ [lab]"#.to_owned()),
            ..RemoteInfo::default()
        }),
    }
}

fn direction(flags: u8, len_min: u32, len_max: u32, flag_bits: u8) -> DirectionStats {
    DirectionStats {
        tcp_flags: TcpFlagLetters::new(flags),
        syn: 1,
        fin: 1,
        rst: 0,
        len_min,
        len_max,
        len_mean: 250.5,
        len_stddev: 12.25,
        iat_min_ms: 0.5,
        iat_max_ms: 20.0,
        iat_mean_ms: 3.125,
        iat_stddev_ms: 1.5,
        flags: PacketFlagNames(flag_bits),
    }
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A finished TCP flow.
pub(crate) fn flow_record() -> FlowRecord<'static> {
    let mut timestamps = Rfc3339Formatter::default();
    FlowRecord {
        kind: "flow",
        schema_version: 1,
        flow_id: 9,
        reason: EmitReason::Idle,
        start: timestamps.format(1_714_564_800_000_000_001),
        end: timestamps.format(1_714_564_801_500_000_000),
        duration: 1.5,
        interface: "eth0",
        ifindex: 2,
        vlan: 0,
        inner_vlan: 0,
        proto: 6,
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        src_port: 40000,
        dst_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        dst_port: 443,
        orig_direction: "egress",
        orig_packets: 10,
        orig_bytes: 2505,
        resp_packets: 8,
        resp_bytes: 9000,
        tcp_flags: TcpFlagLetters::new(FIN | SYN | PSH | ACK),
        orig: direction(FIN | SYN | PSH | ACK, 60, 1514, PKT_GSO),
        resp: direction(FIN | SYN | ACK, 54, 1500, PKT_FRAGMENT | PKT_IP_OPTIONS),
        score: None,
        anomaly: None,
    }
}
