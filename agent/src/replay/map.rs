//! The replay counterpart of the kernel's flow map and hook counters.

use std::collections::hash_map;

use agent_common::{
    counters::{Hook, HookCounters},
    flow::{FlowKey, FlowStats},
};
use rustc_hash::FxHashMap;
use slab::Slab;

use super::reader::Packet;
use crate::flow::{FlowMapSource, SnapshotScope, SourceError, conversation_keys, delta_since};

/// Every replayed packet is treated as seen by the ingress hook.
const HOOK: Hook = Hook::Ingress;

/// Per-direction counters keyed like the kernel map, filled by
/// [`ReplayFlowMap::record`]. Unbounded: the engine releases ended flows,
/// so it holds the flows live at the current capture time. Unlike the
/// kernel map it knows which entries changed and what they held at the
/// last snapshot, so a snapshot lists only the changed entries, each with
/// what it gained since ([`SnapshotScope::ChangedDeltas`]), and the engine
/// keeps no copy of the counters of its own.
///
/// Entries live in a slab and the hash map holds their index: a snapshot
/// walks the changed indices with no hash lookups, which matters in attack
/// captures where almost every packet starts a flow.
#[derive(Debug, Default)]
pub struct ReplayFlowMap {
    index: FxHashMap<FlowKey, usize>,
    entries: Slab<Entry>,
    /// Indices of the entries changed since the last snapshot. An index is
    /// listed when its entry's `changed` becomes true; one left behind by a
    /// released entry is skipped (or, when its slot was reused, still listed once).
    changed: Vec<usize>,
    hooks: [HookCounters; 2],
}

#[derive(Debug)]
struct Entry {
    key: FlowKey,
    /// Cumulative, as the kernel map holds them.
    stats: FlowStats,
    /// `stats` as of the last snapshot that listed this entry; zero before
    /// the first, and `delta_since` against zero is the whole of `stats`.
    drained: FlowStats,
    changed: bool,
}

impl Entry {
    /// What the entry gained since the last snapshot that listed it (all of
    /// it before the first), as [`crate::flow::DeltaTracker`] computes it.
    fn since_drained(&self) -> FlowStats {
        delta_since(&self.stats, &self.drained)
    }
}

impl ReplayFlowMap {
    /// Parse → count → update for one packet, through the same
    /// `HookCounters`/`ParsedPacket` helpers as `agent-ebpf/src/record.rs`, with the capture's timestamp as the clock, the
    /// original wire length as the frame length (also when the capture's
    /// snaplen cut the frame), one segment per packet, and the interface
    /// number + 1 as the ifindex.
    pub fn record(&mut self, packet: &Packet<'_>) {
        let counters = &mut self.hooks[HOOK.index() as usize];
        let frame_len = packet.orig_len;
        let parsed = match packet.link.parse(packet.data) {
            Ok(parsed) => parsed,
            Err(err) => {
                counters.count_refused(err, 1, frame_len);
                return;
            }
        };
        let sample = parsed.sample(frame_len, 1, packet.timestamp_ns);
        counters.count_parsed(&sample);
        let key = parsed.flow_key(packet.interface.saturating_add(1), HOOK.direction());
        match self.index.entry(key) {
            hash_map::Entry::Occupied(slot) => {
                let index = *slot.get();
                // Every indexed entry is in the slab.
                if let Some(entry) = self.entries.get_mut(index) {
                    entry.stats.record(&sample);
                    if !entry.changed {
                        entry.changed = true;
                        self.changed.push(index);
                    }
                }
            }
            hash_map::Entry::Vacant(slot) => {
                let entry =
                    Entry { key, stats: FlowStats::first(&sample), drained: FlowStats::default(), changed: true };
                let index = self.entries.insert(entry);
                slot.insert(index);
                self.changed.push(index);
                counters.flows_inserted += 1;
            }
        }
    }

    /// Entries not yet deleted by the engine.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

impl FlowMapSource for ReplayFlowMap {
    fn snapshot(&mut self, out: &mut Vec<(FlowKey, FlowStats)>) -> Result<(), SourceError> {
        out.clear();
        for index in self.changed.drain(..) {
            // Skips indices of entries released since they changed, and repeats.
            let Some(entry) = self.entries.get_mut(index).filter(|entry| entry.changed) else {
                continue;
            };
            entry.changed = false;
            out.push((entry.key, entry.since_drained()));
            entry.drained = entry.stats;
        }
        Ok(())
    }

    fn snapshot_scope(&self) -> SnapshotScope {
        SnapshotScope::ChangedDeltas
    }

    /// Every key of the conversation is among `conversation_keys`: all of
    /// this map's keys are ingress, generation 0.
    fn release(&mut self, originator: &FlowKey) -> Result<(), SourceError> {
        for key in conversation_keys(originator) {
            if let Some(index) = self.index.remove(&key) {
                self.entries.try_remove(index);
            }
        }
        Ok(())
    }

    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError> {
        Ok(self.hooks)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::replay::LinkType;

    fn udp_frame(payload: usize) -> Vec<u8> {
        let total = (28 + payload) as u16;
        let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 8, 0, 0]);
        ip.resize(total as usize, 0);
        ip
    }

    /// The reply to [`udp_frame`]: addresses and ports swapped.
    fn udp_reply_frame() -> Vec<u8> {
        let mut reply = udp_frame(0);
        reply[12..20].copy_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        reply[20..24].copy_from_slice(&[0, 53, 0x13, 0x88]);
        reply
    }

    /// [`udp_frame`] to destination port 54 instead of 53: another flow.
    fn udp_frame_to_port_54() -> Vec<u8> {
        let mut other = udp_frame(0);
        other[23] = 54;
        other
    }

    fn packet(link: LinkType, data: &[u8], orig_len: u32, timestamp_ns: u64) -> Packet<'_> {
        Packet { timestamp_ns, orig_len, data, link, interface: 0 }
    }

    #[test]
    fn counts_like_the_kernel() -> Result<(), SourceError> {
        let mut map = ReplayFlowMap::default();
        let frame = udp_frame(100);
        map.record(&packet(LinkType::RawIp, &frame, 128, 1_000));
        // Cut by the snaplen: still counts its original length.
        map.record(&packet(LinkType::RawIp, &frame[..40], 1_500, 2_000));
        map.record(&packet(LinkType::RawIp, &[0x45, 0, 0], 3, 3_000));
        map.record(&packet(LinkType::Ethernet, &[0; 60], 60, 4_000));
        let hooks = map.hook_counters()?;
        let ingress = hooks[0];
        assert_eq!((ingress.packets, ingress.bytes), (4, 128 + 1_500 + 3 + 60));
        assert_eq!((ingress.malformed_truncated, ingress.non_ip, ingress.flows_inserted), (1, 1, 1));
        assert_eq!(hooks[1], HookCounters::default());
        let mut snapshot = Vec::new();
        map.snapshot(&mut snapshot)?;
        assert_eq!(snapshot.len(), 1);
        let (key, stats) = snapshot[0];
        assert_eq!((key.ifindex, key.direction, key.src_port), (1, 0, 5000));
        assert_eq!((stats.packets, stats.bytes, stats.first_seen_ns, stats.last_seen_ns), (2, 1_628, 1_000, 2_000));
        Ok(())
    }

    #[test]
    fn snapshots_hold_what_changed_entries_gained_since_the_previous_one() -> Result<(), SourceError> {
        let mut map = ReplayFlowMap::default();
        let frame = udp_frame(0);
        let other = udp_frame_to_port_54();
        map.record(&packet(LinkType::RawIp, &frame, 28, 1));
        map.record(&packet(LinkType::RawIp, &other, 28, 2));
        map.record(&packet(LinkType::RawIp, &frame, 28, 3));
        let mut snapshot = Vec::new();
        map.snapshot(&mut snapshot)?;
        let ports_and_packets = |s: &[(FlowKey, FlowStats)]| -> Vec<(u16, u64)> {
            s.iter().map(|(k, v)| (k.dst_port, v.packets)).collect()
        };
        assert_eq!(ports_and_packets(&snapshot), vec![(53, 2), (54, 1)]);
        map.snapshot(&mut snapshot)?;
        assert!(snapshot.is_empty());
        map.record(&packet(LinkType::RawIp, &other, 28, 4));
        map.snapshot(&mut snapshot)?;
        assert_eq!(ports_and_packets(&snapshot), vec![(54, 1)]);
        // The delta keeps the entry's first and last packet times and its
        // inter-arrival gap from the packet before the snapshot.
        let delta = snapshot[0].1;
        assert_eq!((delta.bytes, delta.first_seen_ns, delta.last_seen_ns), (28, 2, 4));
        assert_eq!((delta.iat_count, delta.iat_sum_ns, delta.iat_min_ns), (1, 2, 2));
        // Changed, then released before the snapshot: not listed.
        map.record(&packet(LinkType::RawIp, &frame, 28, 5));
        let key = FlowKey { dst_port: 53, ..snapshot[0].0 };
        map.release(&key)?;
        map.snapshot(&mut snapshot)?;
        assert!(snapshot.is_empty());
        assert_eq!(map.len(), 1);
        // The released entry's slot is reused by the next new flow, listed once.
        map.record(&packet(LinkType::RawIp, &frame, 28, 6));
        map.record(&packet(LinkType::RawIp, &frame, 28, 7));
        map.snapshot(&mut snapshot)?;
        assert_eq!(ports_and_packets(&snapshot), vec![(53, 2)]);
        assert_eq!(map.hook_counters()?[0].flows_inserted, 3);
        Ok(())
    }

    fn icmp_frame(src: [u8; 4], dst: [u8; 4], icmp_type: u8) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&[icmp_type, 0, 0, 0, 0, 0, 0, 0]);
        ip
    }

    /// The engine releases every entry of a flow that ended, also of an
    /// ICMP conversation whose four keys (both sides pinging) differ in
    /// addresses and type.
    #[test]
    fn ended_flows_leave_no_entries_behind() -> Result<(), SourceError> {
        use crate::flow::{EngineConfig, FlowEngine, PollOutput};
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let frames = [
            icmp_frame(a, b, 8),
            icmp_frame(b, a, 0),
            icmp_frame(b, a, 8),
            icmp_frame(a, b, 0),
            udp_frame(0),
            udp_reply_frame(),
        ];
        let mut map = ReplayFlowMap::default();
        for (n, frame) in frames.iter().enumerate() {
            map.record(&packet(LinkType::RawIp, frame, 28, n as u64 + 1));
        }
        let second = 1_000_000_000;
        let mut engine = FlowEngine::new(EngineConfig { idle_timeout: Duration::from_secs(1), ..Default::default() });
        let mut out = PollOutput::default();
        engine.poll(&mut map, 10, &mut out)?;
        assert!(out.records.is_empty());
        assert_eq!(map.len(), 6);
        engine.poll(&mut map, 2 * second, &mut out)?;
        assert_eq!(out.records.iter().map(|r| (r.orig.packets, r.resp.packets)).collect::<Vec<_>>(), [(2, 2), (1, 1)]);
        assert!(map.is_empty(), "{} entries left", map.len());
        Ok(())
    }

    #[test]
    fn release_removes_both_directions_of_the_conversation() -> Result<(), SourceError> {
        let mut map = ReplayFlowMap::default();
        let (request, reply, other) = (udp_frame(0), udp_reply_frame(), udp_frame_to_port_54());
        for (n, frame) in [&request, &reply, &other].into_iter().enumerate() {
            map.record(&packet(LinkType::RawIp, frame, 28, n as u64 + 1));
        }
        let mut snapshot = Vec::new();
        map.snapshot(&mut snapshot)?;
        assert_eq!(map.len(), 3);
        let originator = snapshot[0].0;
        map.release(&originator)?;
        assert_eq!(map.len(), 1);
        // Releasing it again skips what is gone.
        map.release(&originator)?;
        assert_eq!(map.len(), 1);
        // Both directions were deleted (their next packets start new
        // entries); the other conversation was not.
        for frame in [&request, &reply, &other] {
            map.record(&packet(LinkType::RawIp, frame, 28, 10));
        }
        assert_eq!(map.hook_counters()?[0].flows_inserted, 5);
        Ok(())
    }
}
