//! Flow records straight to JSON bytes, identical to their serde encoding
//! (tests compare the two on random records). Flow records are most of what
//! replay writes — attack captures bring nearly one flow per packet — and
//! serde_json's generic path (every key escaped at run time, one call per
//! field, addresses through `fmt`) cost as much as the flow table itself.
//! Numbers go through the formatters serde_json uses (`itoa`, `zmij`), so
//! every digit is the same.

use std::{io::Write as _, net::IpAddr};

use super::record::{DirectionStats, FlowRecord, PacketFlagNames};

/// `,"name":`, the text before every field but an object's first, as one
/// constant so that it is copied in one piece.
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// `{"name":`, the text before an object's first field.
macro_rules! first_key {
    ($name:literal) => {
        concat!("{\"", $name, "\":")
    };
}

// Each writer takes the field's whole key text (`key!`/`first_key!`) and is
// inlined, so the key's length is a constant at every call site and its copy
// needs no call into `memcpy`.

#[inline(always)]
fn uint(out: &mut Vec<u8>, key: &'static str, value: impl itoa::Integer) {
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[inline(always)]
fn float(out: &mut Vec<u8>, key: &'static str, value: f64) {
    out.extend_from_slice(key.as_bytes());
    write_f64(out, value);
}

/// A string the record builds from ASCII letters, digits and punctuation
/// only (names, flag letters, timestamps): nothing to escape.
#[inline(always)]
fn plain_str(out: &mut Vec<u8>, key: &'static str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    out.push(b'"');
    out.extend_from_slice(value);
    out.push(b'"');
}

/// A string from outside (an interface name in a capture file).
fn escaped_str(out: &mut Vec<u8>, key: &'static str, value: &str) {
    out.extend_from_slice(key.as_bytes());
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        // Rare: let serde_json apply its escaping rules; a `str` always encodes.
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

#[inline(always)]
fn ip(out: &mut Vec<u8>, key: &'static str, value: IpAddr) {
    out.extend_from_slice(key.as_bytes());
    out.push(b'"');
    match value {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            let [a, b, c, d] = v4.octets();
            out.extend_from_slice(digits.format(a).as_bytes());
            for octet in [b, c, d] {
                out.push(b'.');
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

/// Whole numbers below this print as their digits and `.0`, in zmij's
/// notation as in this shortcut's (exponents start far above it).
const WHOLE_SHORTCUT_LIMIT: f64 = 1e15;

/// As serde_json writes an `f64`: shortest round-trip digits, `null` when not finite.
#[inline(always)]
fn write_f64(out: &mut Vec<u8>, value: f64) {
    // Truncated (saturating for NaN and negatives); equal to the value
    // exactly when it is whole. Cheaper than `fract`, a libm call here.
    let whole = value as u64;
    if value.is_sign_positive() && value < WHOLE_SHORTCUT_LIMIT && whole as f64 == value {
        // Most of a record's numbers: zero gaps and deviations of one-packet
        // flows, whole mean lengths. Exact: the value is an integer below 2^53.
        out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        out.extend_from_slice(b".0");
    } else if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// More than a record takes besides its interface name (keys and
/// punctuation are about 560 bytes, the widest numbers, addresses and
/// timestamps about 650 more): reserved once so that no field grows the buffer.
const RECORD_CAPACITY: usize = 1536;

impl FlowRecord<'_> {
    /// Appends this record as one JSON object (no newline) to `out`; the
    /// same bytes as `serde_json::to_writer(out, self)`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.reserve(RECORD_CAPACITY + self.interface.len());
        plain_str(out, first_key!("type"), self.kind.as_bytes());
        uint(out, key!("schema_version"), self.schema_version);
        uint(out, key!("flow_id"), self.flow_id);
        plain_str(out, key!("reason"), self.reason.as_str().as_bytes());
        plain_str(out, key!("start"), self.start.as_bytes());
        plain_str(out, key!("end"), self.end.as_bytes());
        float(out, key!("duration"), self.duration);
        escaped_str(out, key!("interface"), self.interface);
        uint(out, key!("ifindex"), self.ifindex);
        uint(out, key!("vlan"), self.vlan);
        uint(out, key!("inner_vlan"), self.inner_vlan);
        uint(out, key!("proto"), self.proto);
        ip(out, key!("src_ip"), self.src_ip);
        uint(out, key!("src_port"), self.src_port);
        ip(out, key!("dst_ip"), self.dst_ip);
        uint(out, key!("dst_port"), self.dst_port);
        plain_str(out, key!("orig_direction"), self.orig_direction.as_bytes());
        uint(out, key!("orig_packets"), self.orig_packets);
        uint(out, key!("orig_bytes"), self.orig_bytes);
        uint(out, key!("resp_packets"), self.resp_packets);
        uint(out, key!("resp_bytes"), self.resp_bytes);
        plain_str(out, key!("tcp_flags"), self.tcp_flags.as_bytes());
        out.extend_from_slice(key!("orig").as_bytes());
        self.orig.write_json(out);
        out.extend_from_slice(key!("resp").as_bytes());
        self.resp.write_json(out);
        if let Some(score) = self.score {
            float(out, key!("score"), score);
        }
        if let Some(anomaly) = self.anomaly {
            out.extend_from_slice(key!("anomaly").as_bytes());
            out.extend_from_slice(if anomaly { b"true" } else { b"false" });
        }
        out.push(b'}');
    }
}

impl DirectionStats {
    fn write_json(&self, out: &mut Vec<u8>) {
        plain_str(out, first_key!("tcp_flags"), self.tcp_flags.as_bytes());
        uint(out, key!("syn"), self.syn);
        uint(out, key!("fin"), self.fin);
        uint(out, key!("rst"), self.rst);
        uint(out, key!("len_min"), self.len_min);
        uint(out, key!("len_max"), self.len_max);
        float(out, key!("len_mean"), self.len_mean);
        float(out, key!("len_stddev"), self.len_stddev);
        float(out, key!("iat_min_ms"), self.iat_min_ms);
        float(out, key!("iat_max_ms"), self.iat_max_ms);
        float(out, key!("iat_mean_ms"), self.iat_mean_ms);
        float(out, key!("iat_stddev_ms"), self.iat_stddev_ms);
        out.extend_from_slice(key!("flags").as_bytes());
        write_flag_names(out, self.flags);
        out.push(b'}');
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
    use crate::flow::EmitReason;
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
            // Around the whole-number shortcut's limit.
            (0u64..2_000_000).prop_map(|n| (WHOLE_SHORTCUT_LIMIT as u64 - 1_000_000 + n) as f64),
            (0u64..1 << 53).prop_map(|n| n as f64),
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
    fn whole_numbers_print_as_zmij_prints_them() {
        let limit = WHOLE_SHORTCUT_LIMIT as u64;
        for n in (0..1_000).chain([limit - 1, limit, limit + 1, 1 << 53]) {
            let value = n as f64;
            let mut out = Vec::new();
            write_f64(&mut out, value);
            assert_eq!(String::from_utf8_lossy(&out), zmij::Buffer::new().format_finite(value), "{n}");
        }
        let mut out = Vec::new();
        write_f64(&mut out, -0.0);
        assert_eq!(out, b"-0.0");
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
