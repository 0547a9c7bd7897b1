//! Bidirectional flows with idle and active timeouts.

use std::{hash::BuildHasher, time::Duration};

use agent_common::flow::{FlowKey, FlowStats};
use hashbrown::{HashTable, hash_table::Entry};
use rustc_hash::FxBuildHasher;
use slab::Slab;

use super::{
    conversation::{ConversationKey, is_originator_direction},
    deadline::DeadlineQueue,
    record::EmitReason,
};
use crate::duration::saturating_ns;

/// One conversation: the originator is the side seen first (as in Zeek's
/// conn.log and IPFIX biflows). Per-direction counters cover the current
/// record only; they are reset when an interim (active-timeout) record is cut.
#[derive(Clone, Debug)]
struct Biflow {
    id: u64,
    /// The key of the direction seen first. The flow's table key is derived
    /// from it ([`Biflow::conversation`]) whenever the index needs it (a
    /// lookup's comparison, a rehash, the flow's end), not stored.
    originator: FlowKey,
    orig: FlowStats,
    resp: FlowStats,
    record_start_ns: u64,
    last_seen_ns: u64,
    /// Due time of this flow's current entry in the table's timer queue.
    queued_due: u128,
}

impl Biflow {
    /// The table's key of this flow.
    fn conversation(&self) -> ConversationKey {
        ConversationKey::of(&self.originator)
    }

    fn has_packets(&self) -> bool {
        self.orig.packets + self.resp.packets > 0
    }
}

/// Idle and active timeouts in nanoseconds, and when they fire for a flow.
/// Due times are `u128` so that `since + timeout` cannot saturate: a
/// timeout has fired at `now` exactly when `due <= now`.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    idle_ns: u64,
    active_ns: u64,
}

impl Timeouts {
    /// When `timeout` after `since` has passed: as `now - since >= timeout`
    /// with a saturating subtraction, so a zero timeout fires at once, even
    /// for a `since` later than `now`.
    fn due(since: u64, timeout: u64) -> u128 {
        if timeout == 0 { 0 } else { u128::from(since) + u128::from(timeout) }
    }

    fn idle_due(&self, flow: &Biflow) -> u128 {
        Self::due(flow.last_seen_ns, self.idle_ns)
    }

    /// `None` while the current record has no packets: nothing to report yet.
    fn active_due(&self, flow: &Biflow) -> Option<u128> {
        flow.has_packets().then(|| Self::due(flow.record_start_ns, self.active_ns))
    }

    fn next_due(&self, flow: &Biflow) -> u128 {
        self.idle_due(flow).min(self.active_due(flow).unwrap_or(u128::MAX))
    }
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
}

impl Expired {
    pub fn packets(&self) -> u64 {
        self.orig.packets + self.resp.packets
    }

    /// A flow that ended with nothing since its last interim record.
    pub fn is_empty(&self) -> bool {
        self.packets() == 0
    }
}

/// Flows keyed by conversation, and a timer queue that holds, for every
/// flow, a time at or before its next timeout: polls visit only the flows
/// whose timers are due, not every live flow. The queue is lazy: a flow's
/// timeouts only move later as packets arrive, except when the first
/// packets of a record start its active timeout, which queues it again.
///
/// Flows live in a slab; the index and the timers hold their slot. That
/// keeps the index's buckets and the timer entries small (attack traffic
/// keeps hundreds of thousands of one-packet flows live, and every one is
/// looked up, queued and dequeued once), and a due timer reaches its flow
/// without a hash lookup.
#[derive(Debug)]
pub struct BiflowTable {
    slots: ConversationIndex,
    flows: Slab<Biflow>,
    /// Entries name a flow by slot and id (a slot is reused by later flows).
    timers: DeadlineQueue<usize>,
    timeouts: Timeouts,
    next_id: u64,
    /// Scratch buffers reused by every drain: the order deltas are applied
    /// in, and the flows whose timers came due.
    apply_order: Vec<(u64, u32)>,
    due_flows: Vec<(u64, usize)>,
}

impl BiflowTable {
    /// A flow with no packets for `idle_timeout` ends; one running longer
    /// than `active_timeout` gets an interim record.
    pub fn new(idle_timeout: Duration, active_timeout: Duration) -> Self {
        Self {
            slots: ConversationIndex::default(),
            flows: Slab::new(),
            timers: DeadlineQueue::default(),
            timeouts: Timeouts { idle_ns: saturating_ns(idle_timeout), active_ns: saturating_ns(active_timeout) },
            next_id: 0,
            apply_order: Vec::new(),
            due_flows: Vec::new(),
        }
    }

    /// Adds one drain's deltas, oldest first, so that the originator is the
    /// direction whose first packet came first even when both directions
    /// arrive in the same drain. Ties keep the source's order: replay lists
    /// new entries in packet order, which decides between two packets with
    /// the same (microsecond) timestamp as the capture file does. What is
    /// sorted is a list of (first seen, index) pairs: sorting the 152-byte
    /// deltas themselves would move each of them about log n times, and
    /// comparing their keys on ties reaches all over the list.
    pub fn apply(&mut self, deltas: &[(FlowKey, FlowStats)]) {
        let mut order = std::mem::take(&mut self.apply_order);
        order.clear();
        order.extend(deltas.iter().enumerate().map(|(index, (_, stats))| (stats.first_seen_ns, index as u32)));
        order.sort_unstable();
        for &(_, index) in &order {
            let (key, delta) = &deltas[index as usize];
            self.apply_one(*key, delta);
        }
        self.apply_order = order;
    }

    fn apply_one(&mut self, key: FlowKey, delta: &FlowStats) {
        let (slot, flow) = self.slots.find_or_insert(ConversationKey::of(&key), &mut self.flows, || {
            self.next_id += 1;
            Biflow {
                id: self.next_id,
                originator: key,
                orig: FlowStats::default(),
                resp: FlowStats::default(),
                record_start_ns: delta.first_seen_ns,
                last_seen_ns: delta.last_seen_ns,
                queued_due: u128::MAX,
            }
        });
        let had_packets = flow.has_packets();
        if is_originator_direction(&flow.originator, &key) {
            flow.orig.merge(delta);
        } else {
            flow.resp.merge(delta);
        }
        flow.last_seen_ns = flow.last_seen_ns.max(delta.last_seen_ns);
        // A later last packet only delays the idle timeout; the first packets
        // of a record start the active one, which may come sooner.
        if !had_packets {
            let due = self.timeouts.next_due(flow);
            if due < flow.queued_due {
                flow.queued_due = due;
                self.timers.push(due, flow.id, slot);
            }
        }
    }

    /// Cuts records for flows idle for the idle timeout (removed) and for
    /// flows whose current record is older than the active timeout (kept,
    /// counters reset), and appends them to `out` in flow-id order. `out`
    /// is the caller's, reused from poll to poll: a poll that ends 100,000
    /// flows would otherwise map and fault in 40 MB of fresh memory.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Expired>) {
        let now = u128::from(now_ns);
        let Self { flows, slots, timers, timeouts, due_flows, .. } = self;
        // The due flows first, then their records in flow-id order: sorting
        // (id, slot) pairs, not the records (hundreds of bytes each).
        due_flows.clear();
        timers.take_due(now, |(due, id, slot)| {
            // Skips entries superseded by an earlier timer or left by an ended flow.
            if flows.get(slot).is_some_and(|flow| flow.id == id && flow.queued_due == due) {
                due_flows.push((id, slot));
            }
        });
        due_flows.sort_unstable();
        out.reserve(due_flows.len());
        for &(id, slot) in due_flows.iter() {
            let Some(flow) = flows.get_mut(slot) else {
                continue;
            };
            if timeouts.idle_due(flow) <= now {
                let flow = flows.remove(slot);
                slots.remove(&flow, slot);
                out.push(finish(&flow, EmitReason::Idle));
                continue;
            }
            if timeouts.active_due(flow).is_some_and(|active| active <= now) {
                out.push(interim(flow));
            }
            // Both timeouts are now in the future.
            flow.queued_due = timeouts.next_due(flow);
            timers.push(flow.queued_due, id, slot);
        }
    }

    /// Ends every flow (shutdown), appending their records to `out` in flow-id order.
    pub fn drain_all(&mut self, reason: EmitReason, out: &mut Vec<Expired>) {
        self.timers.clear();
        self.slots.clear();
        let start = out.len();
        out.extend(self.flows.drain().filter(|flow| flow.has_packets()).map(|flow| finish(&flow, reason)));
        out[start..].sort_unstable_by_key(|e| e.flow_id);
    }

    /// Packets held in flows that have not been emitted yet.
    pub fn pending_packets(&self) -> u64 {
        self.flows.iter().map(|(_, f)| f.orig.packets + f.resp.packets).sum()
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// The live flows' slab slots, found by conversation. The buckets hold
/// only the slot, not the 48-byte key: a lookup compares against the flow
/// itself, which it goes on to update anyway, and the ending of a flow
/// finds its bucket by slot without comparing keys. A bucket is 9 bytes
/// (slot and control byte) where a map from key to slot takes 57, and the
/// drain of 100,000 ended flows spent most of its table time missing the
/// cache in that map.
#[derive(Debug, Default)]
struct ConversationIndex {
    slots: HashTable<usize>,
}

fn hash(conversation: ConversationKey) -> u64 {
    FxBuildHasher.hash_one(conversation)
}

impl ConversationIndex {
    /// The slot of `conversation`'s flow and the flow, a new one from `new`
    /// if it has none.
    fn find_or_insert<'f>(
        &mut self,
        conversation: ConversationKey,
        flows: &'f mut Slab<Biflow>,
        new: impl FnOnce() -> Biflow,
    ) -> (usize, &'f mut Biflow) {
        let entry = self.slots.entry(
            hash(conversation),
            |&slot| flows.get(slot).is_some_and(|flow| flow.conversation() == conversation),
            |&slot| flows.get(slot).map_or(0, |flow| hash(flow.conversation())),
        );
        let slot = match entry {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => *entry.insert(flows.insert(new())).get(),
        };
        // Every slot in the index holds a flow.
        (slot, &mut flows[slot])
    }

    /// Forgets `flow`, which was in `slot`.
    fn remove(&mut self, flow: &Biflow, slot: usize) {
        if let Ok(entry) = self.slots.find_entry(hash(flow.conversation()), |&s| s == slot) {
            entry.remove();
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

fn finish(flow: &Biflow, reason: EmitReason) -> Expired {
    Expired {
        flow_id: flow.id,
        reason,
        originator: flow.originator,
        orig: flow.orig,
        resp: flow.resp,
        start_ns: flow.record_start_ns,
        end_ns: flow.last_seen_ns,
    }
}

/// An active-timeout record; the next one starts where this one ends.
fn interim(flow: &mut Biflow) -> Expired {
    let record = finish(flow, EmitReason::Active);
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
    use proptest::prelude::*;

    fn expire(table: &mut BiflowTable, now_ns: u64) -> Vec<Expired> {
        let mut out = Vec::new();
        table.expire(now_ns, &mut out);
        out
    }

    fn drain_all(table: &mut BiflowTable) -> Vec<Expired> {
        let mut out = Vec::new();
        table.drain_all(EmitReason::Shutdown, &mut out);
        out
    }

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
        let mut table = BiflowTable::new(Duration::from_secs(30), Duration::from_secs(300));
        // The reply direction is listed first but started later.
        table.apply(&[(key(2, 53, 1, 5000), packets(2, 200, 10)), (key(1, 5000, 2, 53), packets(3, 100, 10))]);
        let out = drain_all(&mut table);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].originator, key(1, 5000, 2, 53));
        assert_eq!((out[0].orig.packets, out[0].resp.packets), (3, 2));
        assert_eq!((out[0].start_ns, out[0].end_ns), (100, 210));
    }

    /// Both directions first seen at the same time: the one the source
    /// listed first (in replay, the one whose packet came first) originates.
    #[test]
    fn ties_keep_the_sources_order() {
        let (request, reply) = (key(1, 5000, 2, 53), key(2, 53, 1, 5000));
        for order in [[request, reply], [reply, request]] {
            let mut table = BiflowTable::new(Duration::from_secs(30), Duration::from_secs(300));
            table.apply(&order.map(|k| (k, packets(1, 100, 0))));
            assert_eq!(drain_all(&mut table)[0].originator, order[0]);
        }
    }

    fn table(idle_ns: u64, active_ns: u64) -> BiflowTable {
        BiflowTable::new(Duration::from_nanos(idle_ns), Duration::from_nanos(active_ns))
    }

    #[test]
    fn idle_flows_end_and_active_flows_are_split() {
        let mut table = table(500, 800);
        table.apply(&[(key(1, 1, 2, 2), packets(1, 0, 0)), (key(3, 1, 4, 2), packets(1, 0, 0))]);
        table.apply(&[(key(3, 1, 4, 2), packets(1, 900, 0))]);
        // Flow 1 (last seen 0) is idle; flow 2 (last seen 900) is cut by the
        // active timeout (its record started at 0).
        let out = expire(&mut table, 1000);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].reason, out[0].originator), (EmitReason::Idle, key(1, 1, 2, 2)));
        assert_eq!((out[1].reason, out[1].orig.packets), (EmitReason::Active, 2));
        assert_eq!(table.len(), 1);
        assert_eq!(table.pending_packets(), 0);
        // No new packets: no second interim record, then idle end.
        assert!(expire(&mut table, 1399).is_empty());
        // Idle end after an interim record: nothing new to report, but the
        // record still comes out, so that a source that deletes a flow's
        // entries when it ends (replay) hears of it.
        let ended = expire(&mut table, 1400);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].packets(), 0);
        assert_eq!((ended[0].reason, ended[0].originator), (EmitReason::Idle, key(3, 1, 4, 2)));
        assert!(table.is_empty());
    }

    /// The first packets after an interim record start the active timeout
    /// again, sooner than the idle timer the flow was queued with.
    #[test]
    fn packets_after_an_interim_record_restart_the_active_timeout() {
        let mut table = table(1_000, 100);
        table.apply(&[(key(1, 1, 2, 2), packets(1, 0, 0))]);
        assert_eq!(expire(&mut table, 150).iter().map(|e| e.reason).collect::<Vec<_>>(), vec![EmitReason::Active]);
        table.apply(&[(key(1, 1, 2, 2), packets(1, 160, 0))]);
        // The record started at the cut (last seen 0): due at 100, so at 170 already.
        let out = expire(&mut table, 170);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].reason, out[0].start_ns, out[0].end_ns), (EmitReason::Active, 0, 160));
    }

    /// A zero idle timeout ends every flow at the next poll, even one whose
    /// last packet is stamped after the poll time (kernel clock read later).
    #[test]
    fn zero_idle_timeout_ends_flows_at_once() {
        let mut table = table(0, 300);
        table.apply(&[(key(1, 1, 2, 2), packets(1, 10_000, 0))]);
        let out = expire(&mut table, 5);
        assert_eq!((out.len(), out[0].reason), (1, EmitReason::Idle));
    }

    /// Before the timer queue, every poll scanned every flow with these
    /// rules; the queue must give the same records.
    fn expire_by_scan(table: &mut BiflowTable, now_ns: u64) -> Vec<Expired> {
        let Timeouts { idle_ns, active_ns } = table.timeouts;
        let mut out = Vec::new();
        let slots = &mut table.slots;
        table.flows.retain(|slot, flow| {
            if now_ns.saturating_sub(flow.last_seen_ns) >= idle_ns {
                out.push(finish(flow, EmitReason::Idle));
                slots.remove(flow, slot);
                return false;
            }
            if flow.has_packets() && now_ns.saturating_sub(flow.record_start_ns) >= active_ns {
                out.push(interim(flow));
            }
            true
        });
        out.sort_unstable_by_key(|record| record.flow_id);
        out
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Packets of flow `flow` (0..6: three conversations, both directions).
        Packets { flow: u8, count: u64, gap_ns: u64 },
        /// Time moves on, then a poll.
        Poll { advance_ns: u64 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..6, 1u64..4, 0u64..300).prop_map(|(flow, count, gap_ns)| Step::Packets { flow, count, gap_ns }),
            (0u64..700).prop_map(|advance_ns| Step::Poll { advance_ns }),
        ]
    }

    proptest! {
        #[test]
        /// Times in units of `unit` ns: 1 keeps everything within one of
        /// the timer queue's buckets (about a second), 2^28 spreads it over many.
        fn timer_queue_expires_exactly_like_a_full_scan(
            idle in 0u64..600,
            active in 0u64..900,
            steps in proptest::collection::vec(step(), 1..60),
            unit in prop_oneof![Just(1u64), Just(1 << 28)],
        ) {
            let mut queued = table(idle * unit, active * unit);
            let mut scanned = table(idle * unit, active * unit);
            let mut now = 0u64;
            for step in steps {
                match step {
                    Step::Packets { flow, count, gap_ns } => {
                        let (a, b) = (flow / 2, 10 + flow / 2);
                        let k = if flow % 2 == 0 { key(a, 1000, b, 53) } else { key(b, 53, a, 1000) };
                        let delta = packets(count, now, gap_ns * unit);
                        queued.apply(&[(k, delta)]);
                        scanned.apply(&[(k, delta)]);
                    }
                    Step::Poll { advance_ns } => {
                        now += advance_ns * unit;
                        prop_assert_eq!(expire(&mut queued, now), expire_by_scan(&mut scanned, now));
                    }
                }
                // The index forgets every ended flow and knows every live one.
                for table in [&queued, &scanned] {
                    prop_assert_eq!(table.slots.len(), table.flows.len());
                }
            }
            prop_assert_eq!(drain_all(&mut queued), drain_all(&mut scanned));
        }
    }
}
