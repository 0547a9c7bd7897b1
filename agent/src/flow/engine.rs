//! One drain cycle: snapshot → deltas → biflows → timeouts → cleanup.

use std::time::Duration;

use agent_common::{
    counters::HookCounters,
    flow::{FlowKey, FlowStats},
    freeze::FreezeAges,
};

use crate::duration::saturating_ns;

use super::{
    accounting::Accounting,
    delta::{DeltaTracker, Drained},
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

impl EngineConfig {
    /// The kernel's freeze ages (`agent_common::freeze`) for this table.
    pub fn freeze_ages(&self) -> FreezeAges {
        FreezeAges::new(saturating_ns(self.idle_timeout))
    }
}

/// What one poll produced. Kept by the caller and handed to every poll,
/// which replaces its contents: the records' buffer is reused, so a poll
/// that ends many flows does not map and fault in fresh memory each time.
#[derive(Debug, Default)]
pub struct PollOutput {
    pub records: Vec<Expired>,
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
    /// Buffers reused by every poll.
    snapshot: Vec<(FlowKey, FlowStats)>,
    drained: Drained,
    last_hooks: [HookCounters; 2],
}

impl FlowEngine {
    pub fn new(config: EngineConfig) -> Self {
        Self {
            tracker: DeltaTracker::default(),
            table: BiflowTable::new(config.idle_timeout, config.active_timeout),
            accounting: Accounting::default(),
            snapshot: Vec::new(),
            drained: Drained::default(),
            last_hooks: Default::default(),
        }
    }

    /// Drains `source` and puts the records whose timeouts fired at `now_ns`
    /// (in the source's time domain) in `out`, replacing what it held.
    pub fn poll(
        &mut self,
        source: &mut dyn FlowMapSource,
        now_ns: u64,
        out: &mut PollOutput,
    ) -> Result<(), SourceError> {
        out.records.clear();
        out.now_ns = now_ns;
        // Counters first: every packet in the snapshot was counted by then,
        // so "hooks ≥ flows" holds for the accounting identity.
        let hooks = source.hook_counters()?;
        // New entries of a source that computes its own deltas: it lists
        // every entry it inserted in the next snapshot.
        let inserted = flows_inserted(&hooks).wrapping_sub(flows_inserted(&self.last_hooks));
        self.last_hooks = hooks;
        source.snapshot(&mut self.snapshot)?;
        let scope = source.snapshot_scope();
        match scope {
            SnapshotScope::AllEntries { ages } => {
                // `now_ns` was read before the snapshot, as the freeze
                // protocol requires of the retirement age's reference.
                let drained = &mut self.drained;
                self.tracker.drain(&self.snapshot, |stats| ages.is_retirable(stats.last_seen_ns, now_ns), drained);
                self.accounting.note_drain(drained);
                self.table.apply(&drained.deltas);
                source.retire(&drained.retired)?;
            }
            // The snapshot is the deltas, applied where they are (no copy per
            // poll). Such a source never evicts and lists what it inserted.
            SnapshotScope::ChangedDeltas => {
                self.accounting.entries_seen += inserted;
                self.table.apply(&self.snapshot);
            }
        }
        let records = &mut out.records;
        self.table.expire(now_ns, records);
        if scope == SnapshotScope::ChangedDeltas {
            // Such a source's entries of flows that ended: deleted so the map stays small.
            for record in records.iter().filter(|record| record.reason == EmitReason::Idle) {
                source.release(&record.originator)?;
            }
        }
        // Flows that idled out right after an interim record have nothing to report.
        records.retain(|r| !r.is_empty());
        self.accounting.note_emitted(records);
        Ok(())
    }

    /// Final drain, then every remaining flow with reason `shutdown`.
    pub fn finish(
        &mut self,
        source: &mut dyn FlowMapSource,
        now_ns: u64,
        out: &mut PollOutput,
    ) -> Result<(), SourceError> {
        self.poll(source, now_ns, out)?;
        let start = out.records.len();
        self.table.drain_all(EmitReason::Shutdown, &mut out.records);
        self.accounting.note_emitted(&out.records[start..]);
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
