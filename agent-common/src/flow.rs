//! The flow map's key and value, and the per-packet update both the kernel
//! programs and offline replay apply, so a packet counts the same either way.

/// Direction value for packets seen by the XDP (ingress) hook.
pub const DIRECTION_INGRESS: u8 = 0;
/// Direction value for packets seen by the TC egress hook.
pub const DIRECTION_EGRESS: u8 = 1;

/// `FlowStats::pkt_flags`: a non-first IP fragment (no ports).
pub const PKT_FRAGMENT: u8 = 1 << 0;
/// `FlowStats::pkt_flags`: the first fragment of a fragmented datagram.
pub const PKT_FIRST_FRAGMENT: u8 = 1 << 1;
/// `FlowStats::pkt_flags`: IPv4 options or IPv6 extension headers present.
pub const PKT_IP_OPTIONS: u8 = 1 << 2;
/// `FlowStats::pkt_flags`: two VLAN tags (802.1ad + 802.1Q).
pub const PKT_QINQ: u8 = 1 << 3;
/// `FlowStats::pkt_flags`: a segmentation-offload buffer counted as several wire packets.
pub const PKT_GSO: u8 = 1 << 4;

/// One direction of a conversation as a hook sees it.
///
/// Addresses are IPv6; IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`) so one
/// key type serves both. For ICMP and ICMPv6, `src_port` holds the type and
/// `dst_port` the code, as Zeek does. Ports are in host byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub ifindex: u32,
    /// Outer VLAN id (12 bits), 0 when untagged.
    pub vlan_id: u16,
    /// Inner VLAN id of a QinQ frame, 0 otherwise.
    pub inner_vlan_id: u16,
    /// IP protocol number (IPv6: the upper-layer protocol after extension headers).
    pub protocol: u8,
    /// [`DIRECTION_INGRESS`] or [`DIRECTION_EGRESS`].
    pub direction: u8,
    /// 0 or 1: which of the two entries a direction may have (see
    /// [`crate::freeze`]). Not part of the flow's identity: userspace folds
    /// both generations into the same flow.
    pub generation: u8,
    pub _pad: u8,
}

/// Counters for one [`FlowKey`] on one CPU, cumulative since the entry was created.
///
/// Timestamps are `CLOCK_MONOTONIC` nanoseconds (`bpf_ktime_get_ns`) live,
/// and capture nanoseconds since the Unix epoch in replay.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Wire packets. A GSO/TSO buffer seen on egress counts as its `gso_segs`.
    pub packets: u64,
    /// Wire bytes: the frame length as the hook (and tcpdump) sees it,
    /// Ethernet header included. A GSO buffer adds its headers once per extra segment.
    pub bytes: u64,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Sum of squared per-packet frame lengths (for the variance).
    pub len_sum_sq: u64,
    /// Inter-arrival statistics between consecutive packets on this CPU.
    pub iat_min_ns: u64,
    pub iat_max_ns: u64,
    pub iat_sum_ns: u64,
    /// Sum of squared inter-arrival times in microseconds², saturating.
    pub iat_sum_sq_us: u64,
    pub len_min: u32,
    pub len_max: u32,
    pub syn_count: u32,
    pub fin_count: u32,
    pub rst_count: u32,
    /// Number of inter-arrival gaps in the `iat_*` fields.
    pub iat_count: u32,
    /// OR of all TCP flags seen.
    pub tcp_flags: u8,
    /// OR of the `PKT_*` flags.
    pub pkt_flags: u8,
    pub _pad: [u8; 6],
}

/// TCP flag bits as they appear in byte 13 of the TCP header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// What one hook invocation observed, after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSample {
    /// Frame length as seen at the hook (for a GSO buffer: the whole buffer).
    pub frame_len: u32,
    /// Wire packets this sample stands for (1 unless GSO).
    pub segments: u32,
    /// Bytes of headers repeated on each extra GSO segment (Ethernet to L4 header end).
    pub header_len: u32,
    pub now_ns: u64,
    pub tcp_flags: u8,
    pub pkt_flags: u8,
}

impl PacketSample {
    /// Wire bytes this sample stands for.
    #[inline(always)]
    pub fn wire_bytes(&self) -> u64 {
        let extra = self.segments.saturating_sub(1) as u64;
        self.frame_len as u64 + extra * self.header_len as u64
    }

    /// Per-wire-packet length used for the length statistics.
    #[inline(always)]
    fn per_packet_len(&self) -> u32 {
        if self.segments > 1 { (self.wire_bytes() / self.segments as u64) as u32 } else { self.frame_len }
    }
}

/// `ns / 1000`, capped at `u32::MAX`. Gaps under 2^32 ns (4.3 s, nearly all
/// of them) take a multiply and a shift instead of the division: BPF's
/// division is a real 64-bit `div` on x86, tens of cycles on every packet.
/// ceil(2^38 / 1000) = 274,877,907 overshoots 2^38 / 1000 by 56/1000, and
/// 56 ≤ 2^(38 - 32), so the product shifted right by 38 is exact for every
/// 32-bit dividend (Granlund and Montgomery's bound; what compilers emit for
/// a 32-bit `x / 1000`).
#[inline(always)]
pub fn micros_capped(ns: u64) -> u64 {
    if ns <= u32::MAX as u64 { (ns * 274_877_907) >> 38 } else { (ns / 1_000).min(u32::MAX as u64) }
}

impl FlowStats {
    /// Counters for a flow whose first packet is `sample`.
    #[inline(always)]
    pub fn first(sample: &PacketSample) -> FlowStats {
        let mut stats = FlowStats {
            first_seen_ns: sample.now_ns,
            last_seen_ns: sample.now_ns,
            iat_min_ns: u64::MAX,
            len_min: u32::MAX,
            ..FlowStats::default()
        };
        stats.record_counts(sample);
        stats
    }

    /// Adds a later packet of the same flow.
    #[inline(always)]
    pub fn record(&mut self, sample: &PacketSample) {
        if self.packets > 0 {
            // Out-of-order timestamps (replay of merged captures, or another
            // CPU's clock read) count as a zero gap rather than wrapping.
            let gap = sample.now_ns.saturating_sub(self.last_seen_ns);
            if gap < self.iat_min_ns {
                self.iat_min_ns = gap;
            }
            if gap > self.iat_max_ns {
                self.iat_max_ns = gap;
            }
            self.iat_sum_ns = self.iat_sum_ns.wrapping_add(gap);
            // Capped at u32::MAX µs (71 min) so the square fits in u64 without
            // a 128-bit multiply, which BPF cannot do.
            let gap_us = micros_capped(gap);
            self.iat_sum_sq_us = self.iat_sum_sq_us.saturating_add(gap_us * gap_us);
            self.iat_count = self.iat_count.wrapping_add(1);
        } else {
            self.first_seen_ns = sample.now_ns;
            self.iat_min_ns = u64::MAX;
            self.len_min = u32::MAX;
        }
        if sample.now_ns > self.last_seen_ns {
            self.last_seen_ns = sample.now_ns;
        }
        // An out-of-order sample older than the first one seen moves
        // `first_seen_ns` back, so it stays the earliest timestamp (as `merge`
        // treats it) and the flow's duration is not understated.
        if sample.now_ns < self.first_seen_ns {
            self.first_seen_ns = sample.now_ns;
        }
        self.record_counts(sample);
    }

    #[inline(always)]
    fn record_counts(&mut self, sample: &PacketSample) {
        let segments = if sample.segments == 0 { 1 } else { sample.segments };
        let len = sample.per_packet_len();
        self.packets = self.packets.wrapping_add(segments as u64);
        self.bytes = self.bytes.wrapping_add(sample.wire_bytes());
        // len < 2^17 and segments < 2^16 (GSO limit), so this cannot overflow
        // and needs no 128-bit multiply (which BPF cannot do).
        let len = len.min(u16::MAX as u32 * 2);
        let len_sq = (len as u64) * (len as u64);
        self.len_sum_sq = self.len_sum_sq.saturating_add(len_sq * (segments.min(u16::MAX as u32) as u64));
        if len < self.len_min {
            self.len_min = len;
        }
        if len > self.len_max {
            self.len_max = len;
        }
        let flags = sample.tcp_flags;
        self.tcp_flags |= flags;
        self.pkt_flags |= sample.pkt_flags;
        if segments > 1 {
            self.pkt_flags |= PKT_GSO;
        }
        if flags & tcp_flags::SYN != 0 {
            self.syn_count = self.syn_count.wrapping_add(1);
        }
        if flags & tcp_flags::FIN != 0 {
            self.fin_count = self.fin_count.wrapping_add(1);
        }
        if flags & tcp_flags::RST != 0 {
            self.rst_count = self.rst_count.wrapping_add(1);
        }
    }

    /// Folds another CPU's counters for the same key into this one.
    pub fn merge(&mut self, other: &FlowStats) {
        if other.packets == 0 {
            return;
        }
        if self.packets == 0 {
            *self = *other;
            return;
        }
        self.packets = self.packets.wrapping_add(other.packets);
        self.bytes = self.bytes.wrapping_add(other.bytes);
        self.first_seen_ns = self.first_seen_ns.min(other.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(other.last_seen_ns);
        self.len_sum_sq = self.len_sum_sq.saturating_add(other.len_sum_sq);
        self.iat_min_ns = self.iat_min_ns.min(other.iat_min_ns);
        self.iat_max_ns = self.iat_max_ns.max(other.iat_max_ns);
        self.iat_sum_ns = self.iat_sum_ns.wrapping_add(other.iat_sum_ns);
        self.iat_sum_sq_us = self.iat_sum_sq_us.saturating_add(other.iat_sum_sq_us);
        self.len_min = self.len_min.min(other.len_min);
        self.len_max = self.len_max.max(other.len_max);
        self.syn_count = self.syn_count.wrapping_add(other.syn_count);
        self.fin_count = self.fin_count.wrapping_add(other.fin_count);
        self.rst_count = self.rst_count.wrapping_add(other.rst_count);
        self.iat_count = self.iat_count.wrapping_add(other.iat_count);
        self.tcp_flags |= other.tcp_flags;
        self.pkt_flags |= other.pkt_flags;
    }
}

#[cfg(feature = "user")]
// SAFETY: repr(C), integer fields only, explicit padding (pinned by tests/layout.rs).
unsafe impl aya::Pod for FlowKey {}
#[cfg(feature = "user")]
// SAFETY: repr(C), integer fields only, explicit padding (pinned by tests/layout.rs).
unsafe impl aya::Pod for FlowStats {}
