//! Where cumulative flow counters come from.

use agent_common::{
    counters::HookCounters,
    flow::{FlowKey, FlowStats},
};

#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct SourceError {
    pub context: &'static str,
    pub message: String,
}

/// A map of per-direction cumulative counters, drained by the engine: the
/// kernel's per-CPU LRU map live, an in-process table in replay.
pub trait FlowMapSource {
    /// Every entry with its counters merged across CPUs. Replaces `out`'s contents.
    fn snapshot(&mut self, out: &mut Vec<(FlowKey, FlowStats)>) -> Result<(), SourceError>;

    /// Deletes an idle entry, unless it changed since the engine last read
    /// it (`seen_packets` differs): then it is kept and `false` returned so
    /// the new packets are picked up by the next drain instead of lost.
    fn remove_if_unchanged(&mut self, key: &FlowKey, seen_packets: u64) -> Result<bool, SourceError>;

    /// Totals per hook: `[ingress, egress]`.
    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError>;
}
