//! Turns successive cumulative snapshots into per-drain deltas, and notices
//! entries that the kernel's LRU evicted before they were drained.

use std::collections::HashMap;

use agent_common::flow::{FlowKey, FlowStats};

/// What one drain found.
#[derive(Debug, Default)]
pub struct Drained {
    /// Counters added since the previous drain. Additive fields (packets,
    /// bytes, sums, flag counts) are deltas; min/max fields and first/last
    /// seen are the entry's cumulative values.
    pub deltas: Vec<(FlowKey, FlowStats)>,
    /// Entries that disappeared (or were re-created) without the engine
    /// deleting them: the kernel evicted them, and packets they received
    /// after the previous drain are lost.
    pub evicted: u64,
    /// Entries seen for the first time.
    pub new_entries: u64,
}

#[derive(Debug, Default)]
pub struct DeltaTracker {
    previous: HashMap<FlowKey, FlowStats>,
}

/// `current - previous` for additive fields, `current` for the rest.
pub fn delta_since(current: &FlowStats, previous: &FlowStats) -> FlowStats {
    FlowStats {
        packets: current.packets - previous.packets,
        bytes: current.bytes.wrapping_sub(previous.bytes),
        len_sum_sq: current.len_sum_sq.saturating_sub(previous.len_sum_sq),
        iat_sum_ns: current.iat_sum_ns.wrapping_sub(previous.iat_sum_ns),
        iat_sum_sq_us: current.iat_sum_sq_us.saturating_sub(previous.iat_sum_sq_us),
        iat_count: current.iat_count.wrapping_sub(previous.iat_count),
        syn_count: current.syn_count.wrapping_sub(previous.syn_count),
        fin_count: current.fin_count.wrapping_sub(previous.fin_count),
        rst_count: current.rst_count.wrapping_sub(previous.rst_count),
        ..*current
    }
}

impl DeltaTracker {
    /// Compares `snapshot` with the previous one. Consumes the snapshot's order.
    pub fn drain(&mut self, snapshot: &[(FlowKey, FlowStats)]) -> Drained {
        let mut drained = Drained { deltas: Vec::with_capacity(snapshot.len()), ..Drained::default() };
        let mut next = HashMap::with_capacity(snapshot.len());
        for (key, current) in snapshot {
            match self.previous.remove(key) {
                Some(previous) if is_same_entry(current, &previous) => {
                    if current.packets > previous.packets {
                        drained.deltas.push((*key, delta_since(current, &previous)));
                    }
                }
                Some(_) => {
                    // Evicted and re-created between drains.
                    drained.evicted += 1;
                    drained.new_entries += 1;
                    drained.deltas.push((*key, *current));
                }
                None => {
                    drained.new_entries += 1;
                    if current.packets > 0 {
                        drained.deltas.push((*key, *current));
                    }
                }
            }
            next.insert(*key, *current);
        }
        // Whatever is left was neither in the snapshot nor deleted by us.
        drained.evicted += self.previous.len() as u64;
        self.previous = next;
        drained
    }

    /// Forgets an entry the engine deleted itself.
    pub fn forget(&mut self, key: &FlowKey) {
        self.previous.remove(key);
    }

    /// Packets of `key` as of the last drain.
    pub fn seen_packets(&self, key: &FlowKey) -> Option<u64> {
        self.previous.get(key).map(|s| s.packets)
    }

    pub fn len(&self) -> usize {
        self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.previous.is_empty()
    }
}

/// Same kernel entry as before (not evicted and re-created in between).
fn is_same_entry(current: &FlowStats, previous: &FlowStats) -> bool {
    current.packets >= previous.packets && current.first_seen_ns == previous.first_seen_ns
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_common::flow::PacketSample;

    fn key(port: u16) -> FlowKey {
        FlowKey { src_port: port, ..FlowKey::default() }
    }

    fn stats(packets: u32, first: u64) -> FlowStats {
        let mut s = FlowStats::default();
        for i in 0..packets {
            let sample = PacketSample { frame_len: 100, segments: 1, header_len: 42, now_ns: first + i as u64 * 10, tcp_flags: 0, pkt_flags: 0 };
            s.record(&sample);
        }
        s
    }

    #[test]
    fn deltas_sum_to_cumulative_totals() {
        let mut tracker = DeltaTracker::default();
        let first = tracker.drain(&[(key(1), stats(3, 0))]);
        assert_eq!(first.deltas[0].1.packets, 3);
        assert_eq!(first.new_entries, 1);
        let second = tracker.drain(&[(key(1), stats(5, 0))]);
        assert_eq!(second.deltas[0].1.packets, 2);
        assert_eq!(second.deltas[0].1.bytes, 200);
        assert_eq!(second.deltas[0].1.iat_count, 2);
        let third = tracker.drain(&[(key(1), stats(5, 0))]);
        assert!(third.deltas.is_empty());
        assert_eq!(third.evicted, 0);
    }

    #[test]
    fn vanished_and_recreated_entries_count_as_evicted() {
        let mut tracker = DeltaTracker::default();
        tracker.drain(&[(key(1), stats(3, 0)), (key(2), stats(3, 0))]);
        // key 1 vanished, key 2 was re-created (new first_seen).
        let drained = tracker.drain(&[(key(2), stats(1, 500))]);
        assert_eq!(drained.evicted, 2);
        assert_eq!(drained.deltas, vec![(key(2), stats(1, 500))]);
    }

    #[test]
    fn forgotten_entries_are_not_evictions() {
        let mut tracker = DeltaTracker::default();
        tracker.drain(&[(key(1), stats(3, 0))]);
        tracker.forget(&key(1));
        assert_eq!(tracker.drain(&[]).evicted, 0);
    }
}
