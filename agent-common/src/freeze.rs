//! The freeze protocol: how the agent deletes idle flow entries in batches
//! without losing a packet that a kernel program is writing into them.
//!
//! Deleting an entry after reading it loses whatever a program adds in
//! between. An atomic lookup-and-delete per entry narrows that window, but
//! it costs one syscall per ended flow, and a program that already holds
//! the entry's value pointer can still write after the entry is unlinked.
//!
//! Instead, the kernel programs stop writing into an entry once it has
//! been idle for `freeze_after_ns` ([`is_frozen`]): a later packet of that
//! direction goes to a second entry, the same key with the other
//! [`crate::flow::FlowKey::generation`]. The agent deletes only entries
//! that had been idle for `retire_after_ns` (the freeze age plus
//! [`RETIRE_MARGIN_NS`]) when it read them. Nothing can change such an
//! entry after that read, so its last snapshot is final and any number of
//! them can go in one `BPF_MAP_DELETE_BATCH`.
//!
//! Why the margin: a program reads the clock before it writes. One that
//! found an entry writable read the clock less than `freeze_after_ns`
//! after the entry's last write. To write after the agent's read of an
//! entry idle for `retire_after_ns`, it would have to run for longer than
//! the margin between reading the clock and writing.
//!
//! Per-CPU values: a program sees only its own CPU's slot. When that slot
//! is empty or idle, it reads every CPU's slot and decides on the newest
//! write, as the agent does on the merged value.

/// Global (`.rodata`, set at load time): the freeze age in nanoseconds.
pub const FREEZE_AFTER_GLOBAL: &str = "FREEZE_AFTER_NS";
/// Global (`.rodata`, set at load time): the number of possible CPUs, the
/// per-CPU slots a program reads when its own slot is empty or idle.
pub const POSSIBLE_CPUS_GLOBAL: &str = "POSSIBLE_CPUS";
/// Bound of the kernel's loop over CPU slots (the verifier walks only the
/// possible CPUs, a load-time constant). A machine with more possible CPUs
/// than this would see every idle entry as frozen: safe, never lossy.
pub const MAX_CPUS: u32 = 8192;
/// How much longer than the freeze age an entry must have been idle before
/// the agent deletes it: far longer than any program runs between reading
/// the clock and writing.
pub const RETIRE_MARGIN_NS: u64 = 1_000_000_000;

/// Whether a program at `now_ns` must leave alone an entry (or CPU slot)
/// last written at `last_seen_ns`. A `last_seen_ns` after `now_ns` (another
/// CPU's clock read a moment later) is not idle.
#[inline(always)]
pub fn is_frozen(last_seen_ns: u64, now_ns: u64, freeze_after_ns: u64) -> bool {
    now_ns.saturating_sub(last_seen_ns) >= freeze_after_ns
}

/// The protocol's ages for one agent configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreezeAges {
    /// Programs stop writing into an entry idle this long.
    pub freeze_after_ns: u64,
}

impl FreezeAges {
    /// Ages for a flow table with this idle timeout: an entry freezes when
    /// its direction could have ended a flow, so a packet after that starts
    /// a fresh entry (and a fresh record) rather than adding to one whose
    /// flow was reported. Needs `idle_timeout_ns >= min_idle_timeout_ns(poll)`.
    pub fn new(idle_timeout_ns: u64) -> Self {
        Self { freeze_after_ns: idle_timeout_ns }
    }

    /// The agent deletes entries idle this long when it read them: a
    /// margin after they froze.
    pub fn retire_after_ns(&self) -> u64 {
        self.freeze_after_ns.saturating_add(RETIRE_MARGIN_NS)
    }

    /// The shortest idle timeout the protocol works with when the agent
    /// drains every `poll_interval_ns`: a poll plus two margins. An entry is
    /// deleted by one poll after `retire_after_ns()`, so then a direction's
    /// second entry cannot freeze before its first one is gone, and a packet
    /// never finds both frozen while the agent keeps up
    /// (`HookCounters::frozen_writes` counts the ones that do).
    pub fn min_idle_timeout_ns(poll_interval_ns: u64) -> u64 {
        poll_interval_ns.saturating_add(2 * RETIRE_MARGIN_NS)
    }

    /// Whether the agent may delete an entry whose newest write (over all
    /// CPUs) was `last_seen_ns`, given a clock reading `read_ns` taken
    /// before the entry was read.
    pub fn is_retirable(&self, last_seen_ns: u64, read_ns: u64) -> bool {
        read_ns.saturating_sub(last_seen_ns) >= self.retire_after_ns()
    }
}
