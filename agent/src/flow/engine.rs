//! One drain cycle: snapshot → deltas → biflows → timeouts → cleanup.

use std::time::Duration;

use agent_common::{
    counters::HookCounters,
    flow::{FlowKey, FlowStats},
};

use super::{
    accounting::Accounting,
    delta::DeltaTracker,
    record::{EmitReason, StatsRecord},
    source::{FlowMapSource, SnapshotScope, SourceError},
    table::{BiflowTable, Expired},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// A flow with no packets for this long ends (NetFlow's inactive timeout).
    pub idle_timeout: Duration,
    /// A flow running longer than this gets an interim record (NetFlow's active timeout).
    pub active_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(30), active_timeout: Duration::from_secs(300) }
    }
}

/// What one poll produced.
#[derive(Debug, Default)]
pub struct PollOutput {
    pub records: Vec<Expired>,
    pub hooks: [HookCounters; 2],
    /// The poll's time (source time, as the records' timestamps).
    pub now_ns: u64,
}

fn flows_inserted(hooks: &[HookCounters; 2]) -> u64 {
    hooks.iter().map(|h| h.flows_inserted).sum()
}

#[derive(Debug)]
pub struct FlowEngine {
    tracker: DeltaTracker,
    table: BiflowTable,
    accounting: Accounting,
    snapshot: Vec<(FlowKey, FlowStats)>,
    last_hooks: [HookCounters; 2],
}

impl FlowEngine {
    pub fn new(config: EngineConfig) -> Self {
        Self {
            tracker: DeltaTracker::default(),
            table: BiflowTable::new(config.idle_timeout, config.active_timeout),
            accounting: Accounting::default(),
            snapshot: Vec::new(),
            last_hooks: Default::default(),
        }
    }

    /// Drains `source` and returns the records whose timeouts fired at `now_ns`
    /// (in the source's time domain).
    pub fn poll(&mut self, source: &mut dyn FlowMapSource, now_ns: u64) -> Result<PollOutput, SourceError> {
        // Counters first: every packet in the snapshot was counted by then,
        // so "hooks ≥ flows" holds for the accounting identity.
        let hooks = source.hook_counters()?;
        // New entries of a source that computes its own deltas: it lists
        // every entry it inserted in the next snapshot.
        let inserted = flows_inserted(&hooks).wrapping_sub(flows_inserted(&self.last_hooks));
        self.last_hooks = hooks;
        source.snapshot(&mut self.snapshot)?;
        match source.snapshot_scope() {
            SnapshotScope::AllEntries => {
                let mut drained = self.tracker.drain(&self.snapshot);
                self.accounting.note_drain(&drained);
                self.table.apply(&mut drained.deltas);
            }
            // The snapshot is the deltas, applied where they are (no copy per
            // poll). Such a source never evicts and lists what it inserted.
            SnapshotScope::ChangedDeltas => {
                self.accounting.entries_seen += inserted;
                self.table.apply(&mut self.snapshot);
            }
        }
        let mut records = self.table.expire(now_ns);
        self.release_ended(source, &mut records)?;
        // Flows that idled out right after an interim record have nothing to report.
        records.retain(|r| !r.is_empty());
        self.accounting.note_emitted(&records);
        Ok(PollOutput { records, hooks, now_ns })
    }

    /// Final drain, then every remaining flow with reason `shutdown`.
    pub fn finish(&mut self, source: &mut dyn FlowMapSource, now_ns: u64) -> Result<PollOutput, SourceError> {
        let mut out = self.poll(source, now_ns)?;
        let rest = self.table.drain_all(EmitReason::Shutdown);
        self.accounting.note_emitted(&rest);
        out.records.extend(rest);
        Ok(out)
    }

    /// Deletes the map entries of flows that ended so the map stays small,
    /// folding any packets that arrived since the snapshot into the record.
    fn release_ended(&mut self, source: &mut dyn FlowMapSource, records: &mut [Expired]) -> Result<(), SourceError> {
        for record in records.iter_mut() {
            for key in std::mem::take(&mut record.members) {
                let Some(last) = source.take(&key)? else {
                    // Evicted after the snapshot: counted at the next drain.
                    continue;
                };
                // The tracker holds no entries of a `ChangedDeltas` source:
                // what `take` returned is the tail as it is.
                let (tail, evicted) = self.tracker.settle(&key, &last);
                if evicted {
                    self.accounting.flows_evicted += 1;
                }
                if let Some(tail) = tail {
                    record.add_tail(&key, &tail);
                }
            }
        }
        Ok(())
    }

    pub fn stats_record(&self, time: String, is_final: bool) -> StatsRecord {
        self.accounting.stats_record(
            &self.last_hooks,
            self.table.pending_packets(),
            self.table.len() as u64,
            time,
            is_final,
        )
    }

    pub fn accounting(&self) -> &Accounting {
        &self.accounting
    }

    /// Total packets the hooks counted, as of the last poll.
    pub fn hook_packets(&self) -> u64 {
        self.last_hooks.iter().map(|h| h.packets).sum()
    }

    pub fn active_flows(&self) -> usize {
        self.table.len()
    }
}
