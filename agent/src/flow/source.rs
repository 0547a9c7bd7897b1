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

    /// Atomically reads and deletes the entry of a flow that ended, returning
    /// its final cumulative counters (merged across CPUs), or `None` if it is
    /// already gone. Packets that arrived after the last snapshot are in the
    /// returned value, so ending a flow never loses them.
    fn take(&mut self, key: &FlowKey) -> Result<Option<FlowStats>, SourceError>;

    /// Totals per hook: `[ingress, egress]`.
    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError>;
}
