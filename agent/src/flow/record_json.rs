//! Flow records straight to JSON bytes, identical to their serde encoding
//! (tests compare the two on random records). Flow records are most of what
//! replay writes — attack captures bring nearly one flow per packet — and
//! serde_json's generic path (every key escaped at run time, one call per
//! field, addresses through `fmt`) cost as much as the flow table itself.
//! Numbers go through the formatters serde_json uses (`itoa`, `zmij`), so
//! every digit is the same.

use std::{io::Write as _, net::IpAddr};

use super::record::{DirectionStats, EmitReason, FlowRecord, PacketFlagNames};

/// Appends one JSON object to `out`, field by field, with the separators.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// `name` is one of the schema's field names: plain ASCII, nothing to escape.
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn uint(&mut self, name: &str, value: impl itoa::Integer) {
        let out = self.key(name);
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn float(&mut self, name: &str, value: f64) {
        let out = self.key(name);
        write_f64(out, value);
    }

    /// A string the record builds from ASCII letters, digits and punctuation
    /// only (names, flag letters, timestamps): nothing to escape.
    fn plain_str(&mut self, name: &str, value: &str) {
        let out = self.key(name);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    /// A string from outside (an interface name in a capture file).
    fn escaped_str(&mut self, name: &str, value: &str) {
        let out = self.key(name);
        if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.push(b'"');
            out.extend_from_slice(value.as_bytes());
            out.push(b'"');
        } else {
            // Rare: let serde_json apply its escaping rules; a `str` always encodes.
            let _ = serde_json::to_writer(&mut *out, value);
        }
    }

    fn ip(&mut self, name: &str, value: IpAddr) {
        let out = self.key(name);
        out.push(b'"');
        match value {
            IpAddr::V4(v4) => {
                let mut digits = itoa::Buffer::new();
                for (n, octet) in v4.octets().into_iter().enumerate() {
                    if n > 0 {
                        out.push(b'.');
                    }
                    out.extend_from_slice(digits.format(octet).as_bytes());
                }
            }
            // IPv6 text has compression rules; `Display` knows them. Writing to a Vec cannot fail.
            IpAddr::V6(v6) => {
                let _ = write!(out, "{v6}");
            }
        }
        out.push(b'"');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// As serde_json writes an `f64`: shortest round-trip digits, `null` when not finite.
fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn reason_name(reason: EmitReason) -> &'static str {
    match reason {
        EmitReason::Idle => "idle",
        EmitReason::Active => "active",
        EmitReason::Shutdown => "shutdown",
    }
}

impl FlowRecord<'_> {
    /// Appends this record as one JSON object (no newline) to `out`; the
    /// same bytes as `serde_json::to_writer(out, self)`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut object = Object::open(out);
        object.plain_str("type", self.kind);
        object.uint("schema_version", self.schema_version);
        object.uint("flow_id", self.flow_id);
        object.plain_str("reason", reason_name(self.reason));
        object.plain_str("start", self.start.as_str());
        object.plain_str("end", self.end.as_str());
        object.float("duration", self.duration);
        object.escaped_str("interface", self.interface);
        object.uint("ifindex", self.ifindex);
        object.uint("vlan", self.vlan);
        object.uint("inner_vlan", self.inner_vlan);
        object.uint("proto", self.proto);
        object.ip("src_ip", self.src_ip);
        object.uint("src_port", self.src_port);
        object.ip("dst_ip", self.dst_ip);
        object.uint("dst_port", self.dst_port);
        object.plain_str("orig_direction", self.orig_direction);
        object.uint("orig_packets", self.orig_packets);
        object.uint("orig_bytes", self.orig_bytes);
        object.uint("resp_packets", self.resp_packets);
        object.uint("resp_bytes", self.resp_bytes);
        object.plain_str("tcp_flags", self.tcp_flags.as_str());
        self.orig.write_json(object.key("orig"));
        self.resp.write_json(object.key("resp"));
        if let Some(score) = self.score {
            object.float("score", score);
        }
        if let Some(anomaly) = self.anomaly {
            object.key("anomaly").extend_from_slice(if anomaly { b"true" } else { b"false" });
        }
        object.close();
    }
}

impl DirectionStats {
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut object = Object::open(out);
        object.plain_str("tcp_flags", self.tcp_flags.as_str());
        object.uint("syn", self.syn);
        object.uint("fin", self.fin);
        object.uint("rst", self.rst);
        object.uint("len_min", self.len_min);
        object.uint("len_max", self.len_max);
        object.float("len_mean", self.len_mean);
        object.float("len_stddev", self.len_stddev);
        object.float("iat_min_ms", self.iat_min_ms);
        object.float("iat_max_ms", self.iat_max_ms);
        object.float("iat_mean_ms", self.iat_mean_ms);
        object.float("iat_stddev_ms", self.iat_stddev_ms);
        write_flag_names(object.key("flags"), self.flags);
        object.close();
    }
}

fn write_flag_names(out: &mut Vec<u8>, flags: PacketFlagNames) {
    out.push(b'[');
    for (n, name) in flags.names().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::{
        clock::Rfc3339Formatter,
        flow::{TcpFlagLetters, record::SCHEMA_VERSION},
    };

    fn encoded(record: &FlowRecord<'_>) -> String {
        let mut out = Vec::new();
        record.write_json(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Finite values of every magnitude, plus the ones JSON cannot hold.
    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            any::<f64>(),
            (0u64..10_000_000).prop_map(|n| n as f64 / 1e3),
            (0u64..u64::MAX).prop_map(|n| n as f64),
        ]
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            // Zero runs exercise `::` compression.
            (any::<u16>(), any::<u16>()).prop_map(|(a, b)| IpAddr::V6(Ipv6Addr::new(a, 0, 0, 0, 0, 0, 0, b))),
        ]
    }

    fn direction() -> impl Strategy<Value = DirectionStats> {
        (any::<(u8, u32, u32, u32, u32, u32, u8)>(), proptest::collection::vec(float(), 6)).prop_map(
            |((tcp, syn, fin, rst, len_min, len_max, pkt), f)| DirectionStats {
                tcp_flags: TcpFlagLetters::new(tcp),
                syn,
                fin,
                rst,
                len_min,
                len_max,
                len_mean: f[0],
                len_stddev: f[1],
                iat_min_ms: f[2],
                iat_max_ms: f[3],
                iat_mean_ms: f[4],
                iat_stddev_ms: f[5],
                flags: PacketFlagNames(pkt),
            },
        )
    }

    /// Interface names as a capture file may carry them, quotes, control characters and all.
    fn interface() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9.-]{1,15}", any::<String>()]
    }

    proptest! {
        #[test]
        fn encodes_exactly_like_serde_json(
            ids in any::<(u64, u32, u16, u16, u8, u16, u16)>(),
            counts in any::<(u64, u64, u64, u64)>(),
            times in any::<(u64, u64)>(),
            (reason, egress, tcp) in (0u8..3, any::<bool>(), any::<u8>()),
            (src_ip, dst_ip) in (ip(), ip()),
            duration in float(),
            (orig, resp) in (direction(), direction()),
            score in proptest::option::of(float()),
            anomaly in proptest::option::of(any::<bool>()),
            interface in interface(),
        ) {
            let (flow_id, ifindex, vlan, inner_vlan, proto, src_port, dst_port) = ids;
            let mut timestamps = Rfc3339Formatter::default();
            let record = FlowRecord {
                kind: "flow",
                schema_version: SCHEMA_VERSION,
                flow_id,
                reason: [EmitReason::Idle, EmitReason::Active, EmitReason::Shutdown][usize::from(reason)],
                start: timestamps.format(i128::from(times.0)),
                end: timestamps.format(i128::from(times.1)),
                duration,
                interface: &interface,
                ifindex,
                vlan,
                inner_vlan,
                proto,
                src_ip,
                src_port,
                dst_ip,
                dst_port,
                orig_direction: if egress { "egress" } else { "ingress" },
                orig_packets: counts.0,
                orig_bytes: counts.1,
                resp_packets: counts.2,
                resp_bytes: counts.3,
                tcp_flags: TcpFlagLetters::new(tcp),
                orig,
                resp,
                score,
                anomaly,
            };
            prop_assert_eq!(encoded(&record), serde_json::to_string(&record).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
    }

    #[test]
    fn non_finite_numbers_are_null_and_names_are_escaped() {
        let record = FlowRecord {
            duration: f64::NAN,
            interface: "eth\"0\n",
            score: Some(f64::INFINITY),
            anomaly: Some(false),
            ..crate::sink::test_support::flow_record()
        };
        let json = encoded(&record);
        assert!(json.contains(r#""duration":null,"interface":"eth\"0\n","#), "{json}");
        assert!(json.ends_with(r#""score":null,"anomaly":false}"#), "{json}");
    }
}
