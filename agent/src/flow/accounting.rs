//! Running totals that prove nothing was lost silently.

use agent_common::counters::HookCounters;

use super::{
    delta::Drained,
    record::{SCHEMA_VERSION, StatsRecord},
    table::Expired,
};

#[derive(Debug, Default, Clone)]
pub struct Accounting {
    pub flows_emitted: u64,
    pub flow_packets: u64,
    pub flows_evicted: u64,
    pub entries_seen: u64,
}

impl Accounting {
    pub fn note_drain(&mut self, drained: &Drained) {
        self.flows_evicted += drained.evicted;
        self.entries_seen += drained.new_entries;
    }

    pub fn note_emitted(&mut self, records: &[Expired]) {
        self.flows_emitted += records.len() as u64;
        self.flow_packets += records.iter().map(Expired::packets).sum::<u64>();
    }

    /// `pending_packets`: packets in flows not yet emitted.
    pub fn stats_record(
        &self,
        hooks: &[HookCounters; 2],
        pending_packets: u64,
        flows_active: u64,
        time: String,
        is_final: bool,
    ) -> StatsRecord {
        let total = HookCounters::total(hooks);
        let explained =
            total.non_ip + total.malformed() + total.map_update_failed + self.flow_packets + pending_packets;
        StatsRecord {
            kind: "stats",
            schema_version: SCHEMA_VERSION,
            time,
            is_final,
            ingress: hooks[0],
            egress: hooks[1],
            flows_emitted: self.flows_emitted,
            flow_packets: self.flow_packets,
            flows_active,
            flows_evicted: self.flows_evicted,
            flows_unseen: total.flows_inserted.saturating_sub(self.entries_seen),
            packets_unaccounted: total.packets.saturating_sub(explained),
            filter: None,
            write: None,
        }
    }
}
