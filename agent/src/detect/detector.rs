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

    /// Entities tracked now.
    fn tracked(&self) -> usize;

    /// Entities forgotten because a table was full.
    fn evicted(&self) -> u64 {
        0
    }
}
