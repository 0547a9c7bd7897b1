//! What the engine asks of every rule detector, so it runs them as one list.

use super::{facts::FlowFacts, finding::Finding};

pub trait RuleDetector: Send {
    /// The detector's name in the analysis stats (its config table's name).
    fn name(&self) -> &'static str;

    /// One flow; findings go to `out`.
    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>);

    /// Forgets state idle since before `now_ns` (detectors without
    /// time-bounded state keep it).
    fn expire(&mut self, _now_ns: u64) {}

    /// Findings held back until later flows could rule them out or complete
    /// them, that are due at `now_ns` (`u64::MAX`: end of input, all of them).
    fn deferred(&mut self, _now_ns: u64, _out: &mut Vec<Finding>) {}

    /// Entities tracked now.
    fn tracked(&self) -> usize;

    /// Entities forgotten because a table was full.
    fn evicted(&self) -> u64 {
        0
    }
}
