//! Bidirectional flows with idle and active timeouts.

use agent_common::flow::{FlowKey, FlowStats};
use rustc_hash::FxHashMap;

use super::{
    conversation::{ConversationKey, is_originator_direction},
    record::EmitReason,
};

/// One conversation: the originator is the side seen first (as in Zeek's
/// conn.log and IPFIX biflows). Per-direction counters cover the current
/// record only; they are reset when an interim (active-timeout) record is cut.
#[derive(Clone, Debug)]
struct Biflow {
    id: u64,
    originator: FlowKey,
    orig: FlowStats,
    resp: FlowStats,
    /// Map entries feeding this flow, deleted from the source when it ends.
    members: Vec<FlowKey>,
    record_start_ns: u64,
    last_seen_ns: u64,
}

/// A record's worth of one flow, handed out when a timeout fires.
#[derive(Clone, Debug, PartialEq)]
pub struct Expired {
    pub flow_id: u64,
    pub reason: EmitReason,
    /// Key of the originator's direction (its `direction` says which hook saw it).
    pub originator: FlowKey,
    pub orig: FlowStats,
    pub resp: FlowStats,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Map entries of a flow that ended (idle or shutdown); empty for interim records.
    pub members: Vec<FlowKey>,
}

impl Expired {
    pub fn packets(&self) -> u64 {
        self.orig.packets + self.resp.packets
    }

    /// Folds in packets that reached the map after the last drain (read
    /// when the flow's entries were deleted).
    pub fn add_tail(&mut self, key: &FlowKey, tail: &FlowStats) {
        if is_originator_direction(&self.originator, key) {
            self.orig.merge(tail);
        } else {
            self.resp.merge(tail);
        }
        self.end_ns = self.end_ns.max(tail.last_seen_ns);
    }

    /// A flow that ended with nothing since its last interim record.
    pub fn is_empty(&self) -> bool {
        self.packets() == 0
    }
}

#[derive(Debug, Default)]
pub struct BiflowTable {
    flows: FxHashMap<ConversationKey, Biflow>,
    next_id: u64,
}

impl BiflowTable {
    /// Adds one drain's deltas. Deltas are applied oldest first so that the
    /// originator is the direction whose first packet came first even when
    /// both directions arrive in the same drain.
    pub fn apply(&mut self, mut deltas: Vec<(FlowKey, FlowStats)>) {
        deltas.sort_unstable_by_key(|(key, stats)| (stats.first_seen_ns, *key));
        for (key, delta) in deltas {
            self.apply_one(key, &delta);
        }
    }

    fn apply_one(&mut self, key: FlowKey, delta: &FlowStats) {
        let conversation = ConversationKey::of(&key);
        let flow = self.flows.entry(conversation).or_insert_with(|| {
            self.next_id += 1;
            Biflow {
                id: self.next_id,
                originator: key,
                orig: FlowStats::default(),
                resp: FlowStats::default(),
                members: Vec::with_capacity(2),
                record_start_ns: delta.first_seen_ns,
                last_seen_ns: delta.last_seen_ns,
            }
        });
        if !flow.members.contains(&key) {
            flow.members.push(key);
        }
        if is_originator_direction(&flow.originator, &key) {
            flow.orig.merge(delta);
        } else {
            flow.resp.merge(delta);
        }
        flow.last_seen_ns = flow.last_seen_ns.max(delta.last_seen_ns);
    }

    /// Cuts records for flows idle for `idle_ns` (removed) and for flows
    /// whose current record is older than `active_ns` (kept, counters reset).
    pub fn expire(&mut self, now_ns: u64, idle_ns: u64, active_ns: u64) -> Vec<Expired> {
        let mut out = Vec::new();
        self.flows.retain(|_, flow| {
            if now_ns.saturating_sub(flow.last_seen_ns) >= idle_ns {
                out.push(finish(flow, EmitReason::Idle));
                return false;
            }
            let has_packets = flow.orig.packets + flow.resp.packets > 0;
            if has_packets && now_ns.saturating_sub(flow.record_start_ns) >= active_ns {
                out.push(interim(flow));
            }
            true
        });
        out
    }

    /// Ends every flow (shutdown).
    pub fn drain_all(&mut self, reason: EmitReason) -> Vec<Expired> {
        let mut out: Vec<Expired> = self
            .flows
            .drain()
            .filter(|(_, flow)| flow.orig.packets + flow.resp.packets > 0)
            .map(|(_, mut flow)| finish(&mut flow, reason))
            .collect();
        out.sort_by_key(|e| e.flow_id);
        out
    }

    /// Packets held in flows that have not been emitted yet.
    pub fn pending_packets(&self) -> u64 {
        self.flows.values().map(|f| f.orig.packets + f.resp.packets).sum()
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

fn finish(flow: &mut Biflow, reason: EmitReason) -> Expired {
    Expired {
        flow_id: flow.id,
        reason,
        originator: flow.originator,
        orig: flow.orig,
        resp: flow.resp,
        start_ns: flow.record_start_ns,
        end_ns: flow.last_seen_ns,
        members: std::mem::take(&mut flow.members),
    }
}

/// An active-timeout record; the next one starts where this one ends.
fn interim(flow: &mut Biflow) -> Expired {
    let record = Expired {
        flow_id: flow.id,
        reason: EmitReason::Active,
        originator: flow.originator,
        orig: flow.orig,
        resp: flow.resp,
        start_ns: flow.record_start_ns,
        end_ns: flow.last_seen_ns,
        members: Vec::new(),
    };
    flow.orig = FlowStats::default();
    flow.resp = FlowStats::default();
    flow.record_start_ns = flow.last_seen_ns;
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_common::{
        flow::PacketSample,
        parse::{IPPROTO_UDP, ipv4_mapped},
    };

    fn key(src: u8, sport: u16, dst: u8, dport: u16) -> FlowKey {
        FlowKey {
            src_addr: ipv4_mapped([10, 0, 0, src]),
            dst_addr: ipv4_mapped([10, 0, 0, dst]),
            src_port: sport,
            dst_port: dport,
            protocol: IPPROTO_UDP,
            ..FlowKey::default()
        }
    }

    fn packets(count: u64, first_ns: u64, gap_ns: u64) -> FlowStats {
        let mut stats = FlowStats::default();
        for i in 0..count {
            stats.record(&PacketSample {
                frame_len: 100,
                segments: 1,
                header_len: 42,
                now_ns: first_ns + i * gap_ns,
                tcp_flags: 0,
                pkt_flags: 0,
            });
        }
        stats
    }

    #[test]
    fn merges_directions_with_first_seen_as_originator() {
        let mut table = BiflowTable::default();
        // The reply direction is listed first but started later.
        table.apply(vec![(key(2, 53, 1, 5000), packets(2, 200, 10)), (key(1, 5000, 2, 53), packets(3, 100, 10))]);
        let out = table.drain_all(EmitReason::Shutdown);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].originator, key(1, 5000, 2, 53));
        assert_eq!((out[0].orig.packets, out[0].resp.packets), (3, 2));
        assert_eq!((out[0].start_ns, out[0].end_ns), (100, 210));
        assert_eq!(out[0].members.len(), 2);
    }

    #[test]
    fn idle_flows_end_and_active_flows_are_split() {
        let mut table = BiflowTable::default();
        table.apply(vec![(key(1, 1, 2, 2), packets(1, 0, 0)), (key(3, 1, 4, 2), packets(1, 0, 0))]);
        table.apply(vec![(key(3, 1, 4, 2), packets(1, 900, 0))]);
        // idle 500: flow 1 (last seen 0) ends; flow 2 (last seen 900) is
        // interim-cut by active 800 (record started at 0).
        let out = table.expire(1000, 500, 800);
        assert_eq!(out.len(), 2);
        let idle = out.iter().find(|e| e.reason == EmitReason::Idle).expect("idle record");
        let active = out.iter().find(|e| e.reason == EmitReason::Active).expect("active record");
        assert_eq!(idle.originator, key(1, 1, 2, 2));
        assert_eq!(active.orig.packets, 2);
        assert!(active.members.is_empty());
        assert_eq!(table.len(), 1);
        assert_eq!(table.pending_packets(), 0);
        // No new packets: no second interim record, then idle end.
        assert!(table.expire(1500, 1000, 100).is_empty());
        // Idle end after an interim record: nothing new to report, but the
        // record still carries the members so their map entries get deleted.
        let ended = table.expire(2000, 1000, 100);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].packets(), 0);
        assert_eq!(ended[0].members, vec![key(3, 1, 4, 2)]);
        assert!(table.is_empty());
    }
}
