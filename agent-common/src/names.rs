//! Map, program and global names, shared so a rename cannot break loading.

/// Per-CPU LRU hash: [`crate::flow::FlowKey`] → [`crate::flow::FlowStats`].
pub const FLOWS_MAP: &str = "FLOWS";
/// Per-CPU array indexed by [`crate::counters::Hook`]: [`crate::counters::HookCounters`].
pub const COUNTERS_MAP: &str = "COUNTERS";
/// XDP program counting ingress frames.
pub const INGRESS_PROGRAM: &str = "flowwatch_ingress";
/// TC (clsact egress) program counting egress frames.
pub const EGRESS_PROGRAM: &str = "flowwatch_egress";
/// Default number of flow slots in [`FLOWS_MAP`]; overridable at load time.
pub const DEFAULT_FLOW_MAP_ENTRIES: u32 = 131_072;
