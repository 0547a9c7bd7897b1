//! Flow records straight to JSON bytes, identical to their serde encoding
//! (tests compare the two on random records). Flow records are most of what
//! replay writes — attack captures bring nearly one flow per packet — and
//! serde_json's generic path (every key escaped at run time, one call per
//! field, addresses through `fmt`) cost as much as the flow table itself.
//! Fractions go through the formatter serde_json uses (`zmij`), so every
//! digit is the same; integers have one decimal form, written in place here
//! (tests compare it with `itoa`'s, serde_json's).

use std::{
    fmt::{self, Write as _},
    net::IpAddr,
};

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

/// Two ASCII digits for every number below 100, so that numbers are written
/// two digits per division.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};

/// Where one record's bytes go: a zeroed stretch of the output as long as
/// the longest record, cut back to what was written at the end. Writing into
/// a slice of known size checks one bound per piece instead of the `Vec`'s
/// length and capacity per push, and lets digits go straight to their place
/// instead of through a buffer and a `memcpy` call per number.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

// The writers that take a key get the field's whole key text (`key!`/
// `first_key!`) and are inlined, so the key's length is a constant at every
// call site and its copy compiles to a few moves.
impl Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.buf[self.pos] = byte;
        self.pos += 1;
    }

    /// Bytes of a length known where this is inlined (keys, punctuation).
    #[inline(always)]
    fn fixed(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Bytes of a length known only at run time but mostly short (numbers
    /// from `zmij`, timestamps, flag letters, names): up to 32 bytes as two
    /// overlapping fixed-size copies, which `copy_from_slice` of a variable
    /// length would turn into a call into `memcpy`.
    #[inline]
    fn short(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        let to = &mut self.buf[self.pos..self.pos + len];
        match len {
            0 => {}
            1 => to[0] = bytes[0],
            2..4 => overlapping_copy::<2>(to, bytes),
            4..8 => overlapping_copy::<4>(to, bytes),
            8..16 => overlapping_copy::<8>(to, bytes),
            16..=32 => overlapping_copy::<16>(to, bytes),
            _ => to.copy_from_slice(bytes),
        }
        self.pos += len;
    }

    /// The decimal digits of `value`, as `itoa` writes them, put in place
    /// from the last pair of digits to the first.
    #[inline]
    fn digits(&mut self, value: u64) {
        let len = value.checked_ilog10().map_or(1, |log| log as usize + 1);
        let to = &mut self.buf[self.pos..self.pos + len];
        let mut rest = value;
        let mut end = len;
        while end >= 2 {
            let pair = (rest % 100) as usize * 2;
            rest /= 100;
            end -= 2;
            to[end..end + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if end == 1 {
            to[0] = b'0' + rest as u8;
        }
        self.pos += len;
    }

    #[inline(always)]
    fn uint(&mut self, key: &'static str, value: impl Into<u64>) {
        self.fixed(key.as_bytes());
        self.digits(value.into());
    }

    #[inline(always)]
    fn float(&mut self, key: &'static str, value: f64) {
        self.fixed(key.as_bytes());
        self.f64(value);
    }

    /// A string the record builds from ASCII letters, digits and punctuation
    /// only (names, flag letters, timestamps): nothing to escape.
    #[inline(always)]
    fn plain_str(&mut self, key: &'static str, value: &[u8]) {
        self.fixed(key.as_bytes());
        self.byte(b'"');
        self.short(value);
        self.byte(b'"');
    }

    /// A string from outside (an interface name in a capture file).
    fn escaped_str(&mut self, key: &'static str, value: &str) {
        if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.plain_str(key, value.as_bytes());
        } else {
            // Rare: let serde_json apply its escaping rules (at most
            // `ESCAPED_LEN_PER_BYTE` bytes a byte); a `str` always encodes.
            let mut escaped = Vec::new();
            let _ = serde_json::to_writer(&mut escaped, value);
            self.fixed(key.as_bytes());
            self.short(&escaped);
        }
    }

    #[inline(always)]
    fn ip(&mut self, key: &'static str, value: IpAddr) {
        self.fixed(key.as_bytes());
        self.byte(b'"');
        match value {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                self.digits(a.into());
                for octet in [b, c, d] {
                    self.byte(b'.');
                    self.digits(octet.into());
                }
            }
            // IPv6 text has compression rules; `Display` knows them. The
            // cursor's `write_str` cannot fail.
            IpAddr::V6(v6) => {
                let _ = write!(self, "{v6}");
            }
        }
        self.byte(b'"');
    }

    /// As serde_json writes an `f64`: shortest round-trip digits, `null` when not finite.
    #[inline(always)]
    fn f64(&mut self, value: f64) {
        // Truncated (saturating for NaN and negatives); equal to the value
        // exactly when it is whole. Cheaper than `fract`, a libm call here.
        let whole = value as u64;
        if value.is_sign_positive() && value < WHOLE_SHORTCUT_LIMIT && whole as f64 == value {
            // Most of a record's numbers: zero gaps and deviations of one-packet
            // flows, whole mean lengths. Exact: the value is an integer below 2^53.
            self.digits(whole);
            self.fixed(b".0");
        } else if value.is_finite() {
            self.short(zmij::Buffer::new().format_finite(value).as_bytes());
        } else {
            self.fixed(b"null");
        }
    }
}

/// `bytes` (at least `N` long) to `to` (as long) as two copies of `N` bytes,
/// the first from the start, the second up to the end; they overlap unless
/// the length is `2 * N`.
#[inline(always)]
fn overlapping_copy<const N: usize>(to: &mut [u8], bytes: &[u8]) {
    let tail = bytes.len() - N;
    to[..N].copy_from_slice(&bytes[..N]);
    to[tail..].copy_from_slice(&bytes[tail..]);
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.short(s.as_bytes());
        Ok(())
    }
}

/// Whole numbers below this print as their digits and `.0`, in zmij's
/// notation as in this shortcut's (exponents start far above it).
const WHOLE_SHORTCUT_LIMIT: f64 = 1e15;

/// More than a record takes besides its interface name (1,520 bytes with
/// every field at its widest, `the_widest_record_fits`): reserved once so
/// that no field grows the buffer.
const RECORD_CAPACITY: usize = 1536;

/// The most serde_json writes for one byte of a string (`\u001f`).
const ESCAPED_LEN_PER_BYTE: usize = 6;

impl FlowRecord<'_> {
    /// Appends this record as one JSON object (no newline) to `out`; the
    /// same bytes as `serde_json::to_writer(out, self)`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let start = out.len();
        // The interface name's quotes are in the record capacity.
        out.resize(start + RECORD_CAPACITY + ESCAPED_LEN_PER_BYTE * self.interface.len(), 0);
        let mut cursor = Cursor { buf: &mut out[start..], pos: 0 };
        self.write_fields(&mut cursor);
        let written = cursor.pos;
        out.truncate(start + written);
    }

    fn write_fields(&self, out: &mut Cursor<'_>) {
        out.plain_str(first_key!("type"), self.kind.as_bytes());
        out.uint(key!("schema_version"), self.schema_version);
        out.uint(key!("flow_id"), self.flow_id);
        out.plain_str(key!("reason"), self.reason.as_str().as_bytes());
        out.plain_str(key!("start"), self.start.as_bytes());
        out.plain_str(key!("end"), self.end.as_bytes());
        out.float(key!("duration"), self.duration);
        out.escaped_str(key!("interface"), self.interface);
        out.uint(key!("ifindex"), self.ifindex);
        out.uint(key!("vlan"), self.vlan);
        out.uint(key!("inner_vlan"), self.inner_vlan);
        out.uint(key!("proto"), self.proto);
        out.ip(key!("src_ip"), self.src_ip);
        out.uint(key!("src_port"), self.src_port);
        out.ip(key!("dst_ip"), self.dst_ip);
        out.uint(key!("dst_port"), self.dst_port);
        out.plain_str(key!("orig_direction"), self.orig_direction.as_bytes());
        out.uint(key!("orig_packets"), self.orig_packets);
        out.uint(key!("orig_bytes"), self.orig_bytes);
        out.uint(key!("resp_packets"), self.resp_packets);
        out.uint(key!("resp_bytes"), self.resp_bytes);
        out.plain_str(key!("tcp_flags"), self.tcp_flags.as_bytes());
        out.fixed(key!("orig").as_bytes());
        self.orig.write_json(out);
        out.fixed(key!("resp").as_bytes());
        self.resp.write_json(out);
        if let Some(score) = self.score {
            out.float(key!("score"), score);
        }
        if let Some(anomaly) = self.anomaly {
            out.fixed(key!("anomaly").as_bytes());
            out.short(if anomaly { b"true" } else { b"false" });
        }
        out.byte(b'}');
    }
}

impl DirectionStats {
    fn write_json(&self, out: &mut Cursor<'_>) {
        out.plain_str(first_key!("tcp_flags"), self.tcp_flags.as_bytes());
        out.uint(key!("syn"), self.syn);
        out.uint(key!("fin"), self.fin);
        out.uint(key!("rst"), self.rst);
        out.uint(key!("len_min"), self.len_min);
        out.uint(key!("len_max"), self.len_max);
        out.float(key!("len_mean"), self.len_mean);
        out.float(key!("len_stddev"), self.len_stddev);
        out.float(key!("iat_min_ms"), self.iat_min_ms);
        out.float(key!("iat_max_ms"), self.iat_max_ms);
        out.float(key!("iat_mean_ms"), self.iat_mean_ms);
        out.float(key!("iat_stddev_ms"), self.iat_stddev_ms);
        out.fixed(key!("flags").as_bytes());
        write_flag_names(out, self.flags);
        out.byte(b'}');
    }
}

fn write_flag_names(out: &mut Cursor<'_>, flags: PacketFlagNames) {
    out.byte(b'[');
    for (n, name) in flags.names().enumerate() {
        if n > 0 {
            out.byte(b',');
        }
        out.byte(b'"');
        out.short(name.as_bytes());
        out.byte(b'"');
    }
    out.byte(b']');
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

    /// Integers of up to `bits` bits and of every decimal width (`any`
    /// gives nearly only the widest).
    fn any_width(bits: u32) -> impl Strategy<Value = u64> {
        (any::<u64>(), 0..bits).prop_map(move |(n, drop)| n >> (64 - bits) >> drop)
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
        let counts = proptest::collection::vec(any_width(32).prop_map(|n| n as u32), 5);
        (any::<(u8, u8)>(), counts, proptest::collection::vec(float(), 6)).prop_map(|((tcp, pkt), n, f)| {
            DirectionStats {
                tcp_flags: TcpFlagLetters::new(tcp),
                syn: n[0],
                fin: n[1],
                rst: n[2],
                len_min: n[3],
                len_max: n[4],
                len_mean: f[0],
                len_stddev: f[1],
                iat_min_ms: f[2],
                iat_max_ms: f[3],
                iat_mean_ms: f[4],
                iat_stddev_ms: f[5],
                flags: PacketFlagNames(pkt),
            }
        })
    }

    /// Interface names as a capture file may carry them, quotes, control characters and all.
    fn interface() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9.-]{1,15}", any::<String>()]
    }

    proptest! {
        #[test]
        fn encodes_exactly_like_serde_json(
            (flow_id, ifindex) in (any_width(64), any_width(32).prop_map(|n| n as u32)),
            (vlan, inner_vlan, proto, src_port, dst_port) in any::<(u16, u16, u8, u16, u16)>(),
            counts in proptest::collection::vec(any_width(64), 4),
            times in any::<(u64, u64)>(),
            (reason, egress, tcp) in (0u8..3, any::<bool>(), any::<u8>()),
            (src_ip, dst_ip) in (ip(), ip()),
            duration in float(),
            (orig, resp) in (direction(), direction()),
            score in proptest::option::of(float()),
            anomaly in proptest::option::of(any::<bool>()),
            interface in interface(),
        ) {
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
                orig_packets: counts[0],
                orig_bytes: counts[1],
                resp_packets: counts[2],
                resp_bytes: counts[3],
                tcp_flags: TcpFlagLetters::new(tcp),
                orig,
                resp,
                score,
                anomaly,
            };
            prop_assert_eq!(encoded(&record), serde_json::to_string(&record).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
    }

    /// What `write` puts in a cursor.
    fn written(write: impl FnOnce(&mut Cursor<'_>)) -> String {
        let mut buf = [0; 64];
        let mut cursor = Cursor { buf: &mut buf, pos: 0 };
        write(&mut cursor);
        let len = cursor.pos;
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }

    #[test]
    fn whole_numbers_print_as_zmij_prints_them() {
        let limit = WHOLE_SHORTCUT_LIMIT as u64;
        for n in (0..1_000).chain([limit - 1, limit, limit + 1, 1 << 53]) {
            let value = n as f64;
            assert_eq!(written(|out| out.f64(value)), zmij::Buffer::new().format_finite(value), "{n}");
        }
        assert_eq!(written(|out| out.f64(-0.0)), "-0.0");
    }

    /// Every width, at both ends: 10^k - 1, 10^k and 10^k + 1, up to `u64::MAX`.
    #[test]
    fn digits_are_itoas() {
        let powers = (0..20).map(|k| 10u64.pow(k));
        let around = powers.flat_map(|p| [p - 1, p, p + 1]);
        for n in around.chain([u64::from(u32::MAX), u64::MAX - 1, u64::MAX]) {
            assert_eq!(written(|out| out.digits(n)), itoa::Buffer::new().format(n), "{n}");
        }
    }

    /// Every length through each of the copy's cases, and past them.
    #[test]
    fn short_copies_are_whole() {
        let text: Vec<u8> = (0..40).map(|n| b'a' + n % 26).collect();
        for len in 0..=text.len() {
            let bytes = &text[..len];
            assert_eq!(written(|out| out.short(bytes)).as_bytes(), bytes, "{len}");
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

    /// Every field at its widest at once fits the space reserved per record
    /// (the cursor panics past it), which random records rarely reach.
    #[test]
    fn the_widest_record_fits() {
        // zmij's longest: 17 significant digits, a sign and a three-digit exponent.
        let widest_float = -2.2250738585072014e-308;
        let widest_direction = DirectionStats {
            tcp_flags: TcpFlagLetters::new(u8::MAX),
            syn: u32::MAX,
            fin: u32::MAX,
            rst: u32::MAX,
            len_min: u32::MAX,
            len_max: u32::MAX,
            len_mean: widest_float,
            len_stddev: widest_float,
            iat_min_ms: widest_float,
            iat_max_ms: widest_float,
            iat_mean_ms: widest_float,
            iat_stddev_ms: widest_float,
            flags: PacketFlagNames(u8::MAX),
        };
        let widest_ip = IpAddr::V6(Ipv6Addr::new(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 0x8888));
        let mut timestamps = Rfc3339Formatter::default();
        let record = FlowRecord {
            flow_id: u64::MAX,
            reason: EmitReason::Shutdown,
            // Outside years 0–9999: the `@<ns>ns` fallback, longer than any date.
            start: timestamps.format(i128::MIN),
            end: timestamps.format(i128::MIN),
            duration: widest_float,
            ifindex: u32::MAX,
            vlan: u16::MAX,
            inner_vlan: u16::MAX,
            proto: u8::MAX,
            src_ip: widest_ip,
            src_port: u16::MAX,
            dst_ip: widest_ip,
            dst_port: u16::MAX,
            orig_direction: "ingress",
            orig_packets: u64::MAX,
            orig_bytes: u64::MAX,
            resp_packets: u64::MAX,
            resp_bytes: u64::MAX,
            tcp_flags: TcpFlagLetters::new(u8::MAX),
            orig: widest_direction.clone(),
            resp: widest_direction,
            score: Some(widest_float),
            anomaly: Some(false),
            ..crate::sink::test_support::flow_record()
        };
        let json = encoded(&record);
        assert_eq!(json, serde_json::to_string(&record).expect("a record encodes"));
        let without_name = json.len() - record.interface.len();
        assert!(without_name <= RECORD_CAPACITY, "{without_name} bytes besides the name, {RECORD_CAPACITY} reserved");
    }
}
