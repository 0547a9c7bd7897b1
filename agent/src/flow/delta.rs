//! Turns successive cumulative snapshots into per-drain deltas, and notices
//! entries that the kernel's LRU evicted before they were drained.

use agent_common::flow::{FlowKey, FlowStats};
use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

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
    /// Entries idle long enough to delete (their counters are final); the
    /// tracker has already forgotten them.
    pub retired: Vec<FlowKey>,
}

/// Last cumulative counters per entry, and the drain that last saw it.
#[derive(Debug, Default)]
pub struct DeltaTracker {
    previous: FxHashMap<FlowKey, Seen>,
    generation: u64,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    stats: FlowStats,
    generation: u64,
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
    /// Compares `snapshot` (every entry of the map: [`super::SnapshotScope::AllEntries`])
    /// with the previous one, into `drained`, whose buffers are reused (a
    /// poll of many flows allocates, and faults in, nothing new). Updates
    /// entries in place (one hash lookup per entry) and sweeps the ones not
    /// seen this time. Entries `is_retirable` accepts are listed in
    /// [`Drained::retired`] and forgotten, so their deletion is not taken
    /// for an eviction.
    pub fn drain(
        &mut self,
        snapshot: &[(FlowKey, FlowStats)],
        is_retirable: impl Fn(&FlowStats) -> bool,
        drained: &mut Drained,
    ) {
        self.generation += 1;
        let generation = self.generation;
        drained.deltas.clear();
        drained.retired.clear();
        drained.evicted = 0;
        drained.new_entries = 0;
        for (key, current) in snapshot {
            let retire = is_retirable(current);
            match self.previous.entry(*key) {
                Entry::Occupied(mut slot) => {
                    let seen = slot.get_mut();
                    if is_same_entry(current, &seen.stats) {
                        if current.packets > seen.stats.packets {
                            drained.deltas.push((*key, delta_since(current, &seen.stats)));
                        }
                    } else {
                        // Evicted and re-created between drains.
                        drained.evicted += 1;
                        drained.new_entries += 1;
                        drained.deltas.push((*key, *current));
                    }
                    if retire {
                        slot.remove();
                        drained.retired.push(*key);
                    } else {
                        *seen = Seen { stats: *current, generation };
                    }
                }
                Entry::Vacant(slot) => {
                    drained.new_entries += 1;
                    if current.packets > 0 {
                        drained.deltas.push((*key, *current));
                    }
                    if retire {
                        drained.retired.push(*key);
                    } else {
                        slot.insert(Seen { stats: *current, generation });
                    }
                }
            }
        }
        // Entries not in this snapshot that the engine did not delete itself:
        // the kernel evicted them.
        let before = self.previous.len();
        self.previous.retain(|_, seen| seen.generation == generation);
        drained.evicted += (before - self.previous.len()) as u64;
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

    /// One drain; entries last written at or before `retire_up_to` retire.
    fn drain(tracker: &mut DeltaTracker, snapshot: &[(FlowKey, FlowStats)], retire_up_to: Option<u64>) -> Drained {
        let mut drained = Drained::default();
        tracker.drain(snapshot, |stats| retire_up_to.is_some_and(|up_to| stats.last_seen_ns <= up_to), &mut drained);
        drained
    }

    fn key(port: u16) -> FlowKey {
        FlowKey { src_port: port, ..FlowKey::default() }
    }

    fn stats(packets: u32, first: u64) -> FlowStats {
        let mut s = FlowStats::default();
        for i in 0..packets {
            let sample = PacketSample {
                frame_len: 100,
                segments: 1,
                header_len: 42,
                now_ns: first + i as u64 * 10,
                tcp_flags: 0,
                pkt_flags: 0,
            };
            s.record(&sample);
        }
        s
    }

    #[test]
    fn deltas_sum_to_cumulative_totals() {
        let mut tracker = DeltaTracker::default();
        let first = drain(&mut tracker, &[(key(1), stats(3, 0))], None);
        assert_eq!(first.deltas[0].1.packets, 3);
        assert_eq!(first.new_entries, 1);
        let second = drain(&mut tracker, &[(key(1), stats(5, 0))], None);
        assert_eq!(second.deltas[0].1.packets, 2);
        assert_eq!(second.deltas[0].1.bytes, 200);
        assert_eq!(second.deltas[0].1.iat_count, 2);
        let third = drain(&mut tracker, &[(key(1), stats(5, 0))], None);
        assert!(third.deltas.is_empty());
        assert_eq!(third.evicted, 0);
    }

    #[test]
    fn vanished_and_recreated_entries_count_as_evicted() {
        let mut tracker = DeltaTracker::default();
        drain(&mut tracker, &[(key(1), stats(3, 0)), (key(2), stats(3, 0))], None);
        // key 1 vanished, key 2 was re-created (new first_seen).
        let drained = drain(&mut tracker, &[(key(2), stats(1, 500))], None);
        assert_eq!(drained.evicted, 2);
        assert_eq!(drained.deltas, vec![(key(2), stats(1, 500))]);
    }

    #[test]
    fn retired_entries_keep_their_last_delta_and_are_not_evictions() {
        let mut tracker = DeltaTracker::default();
        // 3 packets at 0, 10, 20 ns; a second entry still live.
        drain(&mut tracker, &[(key(1), stats(3, 0)), (key(2), stats(1, 1_000))], None);
        // key 1 gained 2 packets (last at 40 ns) and is idle past the cutoff.
        let drained = drain(&mut tracker, &[(key(1), stats(5, 0)), (key(2), stats(2, 1_000))], Some(40));
        assert_eq!(drained.retired, vec![key(1)]);
        assert_eq!(drained.deltas.iter().map(|(k, d)| (k.src_port, d.packets)).collect::<Vec<_>>(), [(1, 2), (2, 1)]);
        // Gone from the next snapshot because the engine deleted it: no eviction.
        let next = drain(&mut tracker, &[(key(2), stats(2, 1_000))], Some(40));
        assert_eq!((next.evicted, next.retired.len()), (0, 0));
    }

    #[test]
    fn an_entry_first_seen_already_idle_is_reported_whole_and_retired() {
        let mut tracker = DeltaTracker::default();
        let drained = drain(&mut tracker, &[(key(7), stats(4, 0))], Some(30));
        assert_eq!(drained.deltas, vec![(key(7), stats(4, 0))]);
        assert_eq!((drained.new_entries, drained.retired.clone()), (1, vec![key(7)]));
        // A new entry under the same key later is new, not a re-creation.
        let later = drain(&mut tracker, &[(key(7), stats(1, 5_000))], Some(30));
        assert_eq!((later.new_entries, later.evicted, later.retired.len()), (1, 0, 0));
    }

    /// Replay's map takes a never-drained entry's delta against zero counters
    /// as the whole entry: every field, the min/max and first/last seen ones too.
    #[test]
    fn the_delta_since_zero_counters_is_the_counters() {
        let full = FlowStats {
            packets: u64::MAX,
            bytes: 2,
            first_seen_ns: 3,
            last_seen_ns: 4,
            len_sum_sq: 5,
            iat_min_ns: 6,
            iat_max_ns: 7,
            iat_sum_ns: 8,
            iat_sum_sq_us: 9,
            len_min: 10,
            len_max: 11,
            syn_count: 12,
            fin_count: 13,
            rst_count: 14,
            iat_count: 15,
            tcp_flags: 16,
            pkt_flags: 17,
            _pad: [0; 6],
        };
        for current in [full, stats(3, 100), FlowStats::default()] {
            assert_eq!(delta_since(&current, &FlowStats::default()), current);
        }
    }
}
