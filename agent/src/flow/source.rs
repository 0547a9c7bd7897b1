//! Where cumulative flow counters come from.

use agent_common::{
    counters::HookCounters,
    flow::{FlowKey, FlowStats},
    freeze::FreezeAges,
};

#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct SourceError {
    pub context: &'static str,
    pub message: String,
}

/// Which entries a [`FlowMapSource::snapshot`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotScope {
    /// Every entry in the map, so an entry missing from it was evicted (the
    /// kernel map). The engine deletes ([`FlowMapSource::retire`]) entries
    /// that `ages` says are retirable when read: the source guarantees
    /// nothing changes such an entry after that read (the kernel's freeze
    /// protocol, `agent_common::freeze`), so its last snapshot is final.
    AllEntries { ages: FreezeAges },
    /// Only the entries whose counters changed since the previous snapshot
    /// (so each gained packets: the engine applies the list as it is),
    /// each with what it gained since then (as [`super::delta_since`]
    /// computes it: additive fields as differences, the rest cumulative),
    /// from a source that never evicts (replay): a missing entry is
    /// unchanged, every entry the source inserted is in the next snapshot,
    /// and [`FlowMapSource::release`] deletes the entries of a flow that
    /// ended. The engine keeps no copy of such a source's counters, so a
    /// poll costs in proportion to the traffic since the last one, not to
    /// the number of live flows.
    ChangedDeltas,
}

/// A map of per-direction cumulative counters, drained by the engine: the
/// kernel's per-CPU LRU map live, an in-process table in replay.
pub trait FlowMapSource {
    /// Entries (all, or the changed ones: see [`FlowMapSource::snapshot_scope`])
    /// with their cumulative counters merged across CPUs. Replaces `out`'s contents.
    fn snapshot(&mut self, out: &mut Vec<(FlowKey, FlowStats)>) -> Result<(), SourceError>;

    /// What [`FlowMapSource::snapshot`] returns, and how entries leave the map.
    fn snapshot_scope(&self) -> SnapshotScope;

    /// [`SnapshotScope::ChangedDeltas`] sources: deletes the entries of the
    /// conversation whose originator direction is `originator`, which
    /// ended. The engine calls it in the poll that took the snapshot, with
    /// the source borrowed throughout, so the entries hold nothing that
    /// snapshot did not. Entries already gone are skipped.
    fn release(&mut self, _originator: &FlowKey) -> Result<(), SourceError> {
        Err(SourceError { context: "deleting an ended flow", message: "this source retires entries by age".into() })
    }

    /// [`SnapshotScope::AllEntries`] sources: deletes entries the engine
    /// retired (their last snapshot is final). Entries already gone (evicted
    /// since the snapshot, with nothing new in them) are skipped.
    fn retire(&mut self, _keys: &[FlowKey]) -> Result<(), SourceError> {
        Err(SourceError {
            context: "retiring idle entries",
            message: "this source deletes entries as flows end".into(),
        })
    }

    /// Totals per hook: `[ingress, egress]`.
    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError>;
}
