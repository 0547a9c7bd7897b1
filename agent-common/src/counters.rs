//! Per-CPU counters for everything a hook saw, including everything it could
//! not turn into a flow update, so that no packet is silently unaccounted.

use crate::{
    flow::{PKT_FRAGMENT, PacketSample},
    parse::ParseError,
};

/// Index of a hook in the counters map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Ingress = 0,
    Egress = 1,
}

impl Hook {
    pub const ALL: [Hook; 2] = [Hook::Ingress, Hook::Egress];

    /// The value stored in [`crate::flow::FlowKey::direction`].
    pub const fn direction(self) -> u8 {
        self as u8
    }

    pub const fn index(self) -> u32 {
        self as u32
    }

    pub const fn name(self) -> &'static str {
        match self {
            Hook::Ingress => "ingress",
            Hook::Egress => "egress",
        }
    }
}

/// Number of slots in the counters map.
pub const HOOK_COUNT: u32 = 2;

/// What one hook counted on one CPU. Every packet the hook ran for lands in
/// `packets`, and then in exactly one of: a flow update, `non_ip`,
/// `malformed_*` or `map_update_failed`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(serde::Serialize, serde::Deserialize), serde(default))]
pub struct HookCounters {
    /// Wire packets seen (a GSO buffer counts as its `gso_segs`).
    pub packets: u64,
    /// Wire bytes seen (see `FlowStats::bytes`).
    pub bytes: u64,
    /// Frames that are not IPv4/IPv6 (ARP, LLDP, …).
    pub non_ip: u64,
    /// Frames cut short inside a header the parser needed.
    pub malformed_truncated: u64,
    /// Headers with impossible values (IPv4 IHL < 5, wrong IP version, TCP data offset < 5).
    pub malformed_header: u64,
    /// IPv6 extension-header chains longer than the parser walks, or more than two VLAN tags.
    pub malformed_too_deep: u64,
    /// Flow-map inserts that failed for a reason other than a racing insert.
    pub map_update_failed: u64,
    /// New flow entries created in the flow map.
    pub flows_inserted: u64,
    /// IP fragments other than the first (counted into a port-less flow).
    pub fragments: u64,
    /// Packets added to a flow entry past its freeze age because both of the
    /// direction's entries were frozen (`crate::freeze`): the agent is behind
    /// in deleting idle entries. Counted, never lost silently: such a packet
    /// is lost only if the agent deletes that entry at the same moment.
    pub frozen_writes: u64,
}

impl HookCounters {
    /// Adds another CPU's (or another snapshot's) counters to this one.
    pub fn accumulate(&mut self, other: &HookCounters) {
        self.packets = self.packets.wrapping_add(other.packets);
        self.bytes = self.bytes.wrapping_add(other.bytes);
        self.non_ip = self.non_ip.wrapping_add(other.non_ip);
        self.malformed_truncated = self.malformed_truncated.wrapping_add(other.malformed_truncated);
        self.malformed_header = self.malformed_header.wrapping_add(other.malformed_header);
        self.malformed_too_deep = self.malformed_too_deep.wrapping_add(other.malformed_too_deep);
        self.map_update_failed = self.map_update_failed.wrapping_add(other.map_update_failed);
        self.flows_inserted = self.flows_inserted.wrapping_add(other.flows_inserted);
        self.fragments = self.fragments.wrapping_add(other.fragments);
        self.frozen_writes = self.frozen_writes.wrapping_add(other.frozen_writes);
    }

    /// Several counters (CPUs' slots, or both hooks) added up.
    pub fn total<'a>(counters: impl IntoIterator<Item = &'a HookCounters>) -> HookCounters {
        let mut total = HookCounters::default();
        counters.into_iter().for_each(|counters| total.accumulate(counters));
        total
    }

    /// Counts a frame the parser refused: it becomes no flow update.
    /// `segments` wire packets, `frame_len` bytes as the hook saw them.
    #[inline(always)]
    pub fn count_refused(&mut self, err: ParseError, segments: u32, frame_len: u32) {
        let segments = segments as u64;
        self.packets += segments;
        self.bytes += frame_len as u64;
        match err {
            ParseError::NonIp => self.non_ip += segments,
            ParseError::Truncated => self.malformed_truncated += segments,
            ParseError::BadHeader => self.malformed_header += segments,
            ParseError::TooDeep => self.malformed_too_deep += segments,
        }
    }

    /// Counts a frame that updates a flow.
    #[inline(always)]
    pub fn count_parsed(&mut self, sample: &PacketSample) {
        let segments = sample.segments as u64;
        self.packets += segments;
        self.bytes += sample.wire_bytes();
        if sample.pkt_flags & PKT_FRAGMENT != 0 {
            self.fragments += segments;
        }
    }

    pub fn malformed(&self) -> u64 {
        self.malformed_truncated + self.malformed_header + self.malformed_too_deep
    }
}

#[cfg(feature = "user")]
// SAFETY: repr(C), only u64 fields, no padding.
unsafe impl aya::Pod for HookCounters {}
