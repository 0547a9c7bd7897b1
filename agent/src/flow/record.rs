//! The NDJSON records flowwatch writes. Field names and meanings are the
//! documented schema (README "Flow records"); bump [`SCHEMA_VERSION`] on
//! any incompatible change.

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr},
};

use agent_common::{
    counters::HookCounters,
    flow::{DIRECTION_EGRESS, PKT_FIRST_FRAGMENT, PKT_FRAGMENT, PKT_GSO, PKT_IP_OPTIONS, PKT_QINQ},
};
use serde::{Serialize, Serializer, ser::SerializeSeq};

use models::{DirectionSummary, FlowObservation};

use super::table::Expired;
use crate::{
    clock::{Clock, Rfc3339Formatter, Rfc3339Text},
    iface::InterfaceNames,
};

pub const SCHEMA_VERSION: u32 = 1;

/// Why a flow record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmitReason {
    /// No packets in either direction for the idle timeout; the flow ended.
    Idle,
    /// Interim record of a flow still running (active timeout).
    Active,
    /// The agent stopped (signal, `-c`, `-t`, end of input).
    Shutdown,
}

impl EmitReason {
    /// The name records carry (as serde writes it).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
            Self::Shutdown => "shutdown",
        }
    }
}

/// One `flow` line. Built per record and serialized at once, so it borrows
/// the interface name and keeps its text fields on the stack: nothing in it
/// allocates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema_version: u32,
    pub flow_id: u64,
    pub reason: EmitReason,
    pub start: Rfc3339Text,
    pub end: Rfc3339Text,
    /// Seconds.
    pub duration: f64,
    pub interface: &'a str,
    pub ifindex: u32,
    pub vlan: u16,
    pub inner_vlan: u16,
    pub proto: u8,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub orig_direction: &'static str,
    pub orig_packets: u64,
    pub orig_bytes: u64,
    pub resp_packets: u64,
    pub resp_bytes: u64,
    pub tcp_flags: TcpFlagLetters,
    pub orig: DirectionStats,
    pub resp: DirectionStats,
    /// With a model: the calibrated anomaly score in [0, 1] (the fraction
    /// of training flows scoring at or below this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// With a model: whether the score crossed the threshold (`-a`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<bool>,
}

/// Per-direction detail. Length and inter-arrival minima and maxima are over
/// the flow's life so far; sums, means and deviations over this record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirectionStats {
    pub tcp_flags: TcpFlagLetters,
    pub syn: u32,
    pub fin: u32,
    pub rst: u32,
    pub len_min: u32,
    pub len_max: u32,
    pub len_mean: f64,
    pub len_stddev: f64,
    pub iat_min_ms: f64,
    pub iat_max_ms: f64,
    pub iat_mean_ms: f64,
    pub iat_stddev_ms: f64,
    /// Packet properties seen: fragment, first_fragment, ip_options, qinq, gso.
    pub flags: PacketFlagNames,
}

/// IPv4-mapped addresses print as IPv4.
pub fn addr_to_ip(addr: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// TCP flags as tcpdump-style letters in the order F S R P A U E C;
/// serializes as a string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TcpFlagLetters {
    letters: [u8; 8],
    len: u8,
}

impl TcpFlagLetters {
    pub fn new(flags: u8) -> Self {
        const LETTERS: [u8; 8] = *b"FSRPAUEC";
        let mut out = Self { letters: [0; 8], len: 0 };
        for (bit, letter) in LETTERS.into_iter().enumerate() {
            if flags & (1 << bit) != 0 {
                out.letters[usize::from(out.len)] = letter;
                out.len += 1;
            }
        }
        out
    }

    pub fn as_str(&self) -> &str {
        // Only the ASCII letters above are stored.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The letters without `as_str`'s UTF-8 check, for the record encoder.
    pub fn as_bytes(&self) -> &[u8] {
        &self.letters[..usize::from(self.len)]
    }
}

impl fmt::Debug for TcpFlagLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for TcpFlagLetters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The `PKT_*` bits of a direction; serializes as the list of their names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PacketFlagNames(pub u8);

impl PacketFlagNames {
    const NAMES: [(u8, &'static str); 5] = [
        (PKT_FRAGMENT, "fragment"),
        (PKT_FIRST_FRAGMENT, "first_fragment"),
        (PKT_IP_OPTIONS, "ip_options"),
        (PKT_QINQ, "qinq"),
        (PKT_GSO, "gso"),
    ];

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(bit, _)| self.0 & bit != 0).map(|(_, name)| name)
    }
}

impl fmt::Debug for PacketFlagNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Serialize for PacketFlagNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.names().count()))?;
        for name in self.names() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl DirectionStats {
    /// `summary` holds the derived numbers ([`summarize`](super::summarize));
    /// `pkt_flags` the direction's `PKT_*` bits.
    pub fn new(summary: &DirectionSummary, pkt_flags: u8) -> Self {
        Self {
            tcp_flags: TcpFlagLetters::new(summary.tcp_flags),
            syn: summary.syn,
            fin: summary.fin,
            rst: summary.rst,
            len_min: summary.len_min,
            len_max: summary.len_max,
            len_mean: summary.len_mean,
            len_stddev: summary.len_stddev,
            iat_min_ms: summary.iat_min_ms,
            iat_max_ms: summary.iat_max_ms,
            iat_mean_ms: summary.iat_mean_ms,
            iat_stddev_ms: summary.iat_stddev_ms,
            flags: PacketFlagNames(pkt_flags),
        }
    }
}

/// What turns flows into records beyond the flows themselves: the source's
/// clock, interface names, and the timestamp formatter's cache.
#[derive(Debug)]
pub struct RecordContext {
    pub clock: Clock,
    pub names: InterfaceNames,
    timestamps: Rfc3339Formatter,
}

impl RecordContext {
    pub fn new(clock: Clock, names: InterfaceNames) -> Self {
        Self { clock, names, timestamps: Rfc3339Formatter::default() }
    }

    /// A source timestamp as RFC 3339 wall-clock time.
    pub fn format(&mut self, source_ns: u64) -> Rfc3339Text {
        self.timestamps.format(self.clock.to_epoch_ns(source_ns))
    }
}

impl<'a> FlowRecord<'a> {
    pub fn new(expired: &Expired, context: &'a mut RecordContext) -> Self {
        Self::observed(expired, &FlowObservation::from(expired), context)
    }

    /// For a caller that already has the flow's observation (the analysis
    /// stage), so the derived statistics are computed once per flow.
    pub fn observed(expired: &Expired, observation: &FlowObservation, context: &'a mut RecordContext) -> Self {
        let key = &expired.originator;
        let start = context.format(expired.start_ns);
        let end = context.format(expired.end_ns);
        Self {
            kind: "flow",
            schema_version: SCHEMA_VERSION,
            flow_id: expired.flow_id,
            reason: expired.reason,
            start,
            end,
            duration: expired.end_ns.saturating_sub(expired.start_ns) as f64 / 1e9,
            interface: context.names.name(key.ifindex),
            ifindex: key.ifindex,
            vlan: key.vlan_id,
            inner_vlan: key.inner_vlan_id,
            proto: key.protocol,
            src_ip: observation.src_ip,
            src_port: key.src_port,
            dst_ip: observation.dst_ip,
            dst_port: key.dst_port,
            orig_direction: if key.direction == DIRECTION_EGRESS { "egress" } else { "ingress" },
            orig_packets: expired.orig.packets,
            orig_bytes: expired.orig.bytes,
            resp_packets: expired.resp.packets,
            resp_bytes: expired.resp.bytes,
            tcp_flags: TcpFlagLetters::new(expired.orig.tcp_flags | expired.resp.tcp_flags),
            orig: DirectionStats::new(&observation.orig, expired.orig.pkt_flags),
            resp: DirectionStats::new(&observation.resp, expired.resp.pkt_flags),
            score: None,
            anomaly: None,
        }
    }
}

/// Totals and losses: everything the hooks counted is either in a flow
/// record, in a non-IP/malformed/map-failure counter, or in
/// `packets_unaccounted` (lost to LRU eviction before a drain).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema_version: u32,
    pub time: String,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub ingress: HookCounters,
    pub egress: HookCounters,
    pub flows_emitted: u64,
    pub flow_packets: u64,
    pub flows_active: u64,
    pub flows_evicted: u64,
    pub flows_unseen: u64,
    pub packets_unaccounted: u64,
    /// `-f`: what the filter let through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::filter::FilterStats>,
    /// `-w`: what was written to the pcap file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<crate::dump::WriteStats>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_print_as_ipv4() {
        let addr = agent_common::parse::ipv4_mapped([192, 0, 2, 7]);
        assert_eq!(addr_to_ip(addr).to_string(), "192.0.2.7");
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        assert_eq!(addr_to_ip(v6).to_string(), "2001::1");
    }

    #[test]
    fn flag_letters_follow_tcpdump_order() {
        assert_eq!(TcpFlagLetters::new(0x12).as_str(), "SA");
        assert_eq!(TcpFlagLetters::new(0x11).as_str(), "FA");
        assert_eq!(TcpFlagLetters::new(0xff).as_str(), "FSRPAUEC");
        assert_eq!(TcpFlagLetters::new(0).as_str(), "");
    }

    #[test]
    fn packet_flags_serialize_as_names() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&PacketFlagNames(0))?, "[]");
        assert_eq!(
            serde_json::to_string(&PacketFlagNames(0x1f))?,
            r#"["fragment","first_fragment","ip_options","qinq","gso"]"#
        );
        Ok(())
    }
}

#[cfg(test)]
mod golden {
    use agent_common::{
        flow::{FlowKey, FlowStats, PKT_FIRST_FRAGMENT, PKT_GSO, PacketSample, tcp_flags},
        parse::{IPPROTO_TCP, ipv4_mapped},
    };

    use super::*;

    fn sample(frame_len: u32, now_ns: u64, tcp_flags: u8, pkt_flags: u8) -> PacketSample {
        PacketSample { frame_len, segments: 1, header_len: 54, now_ns, tcp_flags, pkt_flags }
    }

    fn expired() -> Expired {
        let t0 = 1_700_000_000_000_000_000;
        let mut orig = FlowStats::first(&sample(74, t0, tcp_flags::SYN, 0));
        orig.record(&sample(1514, t0 + 1_500_000, tcp_flags::ACK | tcp_flags::PSH, PKT_FIRST_FRAGMENT));
        orig.record(&sample(66, t0 + 2_000_123, tcp_flags::FIN | tcp_flags::ACK, PKT_GSO));
        let resp = FlowStats::first(&sample(74, t0 + 700_000, tcp_flags::SYN | tcp_flags::ACK, 0));
        Expired {
            flow_id: 42,
            reason: EmitReason::Idle,
            originator: FlowKey {
                src_addr: ipv4_mapped([192, 0, 2, 1]),
                dst_addr: ipv4_mapped([198, 51, 100, 7]),
                src_port: 40_000,
                dst_port: 443,
                ifindex: 3,
                vlan_id: 10,
                inner_vlan_id: 20,
                protocol: IPPROTO_TCP,
                direction: DIRECTION_EGRESS,
                generation: 0,
                _pad: 0,
            },
            orig,
            resp,
            start_ns: t0,
            end_ns: t0 + 2_000_123,
        }
    }

    /// The exact bytes of one record: field order, names, number formats
    /// and time formatting are the documented schema. Pinned for serde's
    /// encoding and for `write_json`, the one the agent writes with.
    #[test]
    fn flow_record_json_is_pinned() -> Result<(), serde_json::Error> {
        let mut names = InterfaceNames::default();
        names.insert(3, "veth-test".to_owned());
        let mut context = RecordContext::new(Clock::epoch(), names);
        let record = FlowRecord::new(&expired(), &mut context);
        let mut written = Vec::new();
        record.write_json(&mut written);
        let expected = concat!(
            r#"{"type":"flow","schema_version":1,"flow_id":42,"reason":"idle","#,
            r#""start":"2023-11-14T22:13:20Z","end":"2023-11-14T22:13:20.002000123Z","duration":0.002000123,"#,
            r#""interface":"veth-test","ifindex":3,"vlan":10,"inner_vlan":20,"proto":6,"#,
            r#""src_ip":"192.0.2.1","src_port":40000,"dst_ip":"198.51.100.7","dst_port":443,"#,
            r#""orig_direction":"egress","orig_packets":3,"orig_bytes":1654,"resp_packets":1,"resp_bytes":74,"#,
            r#""tcp_flags":"FSPA","#,
            r#""orig":{"tcp_flags":"FSPA","syn":1,"fin":1,"rst":0,"len_min":66,"len_max":1514,"#,
            r#""len_mean":551.3333333333334,"len_stddev":680.7159629553446,"#,
            r#""iat_min_ms":0.500123,"iat_max_ms":1.5,"iat_mean_ms":1.0000615,"iat_stddev_ms":0.49987698108409623,"#,
            r#""flags":["first_fragment","gso"]},"#,
            r#""resp":{"tcp_flags":"SA","syn":1,"fin":0,"rst":0,"len_min":74,"len_max":74,"#,
            r#""len_mean":74.0,"len_stddev":0.0,"iat_min_ms":0.0,"iat_max_ms":0.0,"iat_mean_ms":0.0,"#,
            r#""iat_stddev_ms":0.0,"flags":[]}}"#
        );
        assert_eq!(serde_json::to_string(&record)?, expected);
        assert_eq!(String::from_utf8_lossy(&written), expected);
        Ok(())
    }
}
