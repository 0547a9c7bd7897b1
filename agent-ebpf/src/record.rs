//! The per-packet work both hooks share: parse, budget, count, update the flow.

use core::ffi::c_void;

use agent_common::{
    counters::{HOOK_COUNT, Hook, HookCounters},
    flow::{FlowKey, FlowStats},
    freeze::{MAX_CPUS, is_frozen},
    names::DEFAULT_FLOW_MAP_ENTRIES,
    parse::{ParseError, ParsedPacket},
};
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_ktime_get_ns, bpf_map_lookup_percpu_elem},
    macros::map,
    maps::{LruPerCpuHashMap, PerCpuArray},
};

/// Resized at load time by userspace (`--map-size`).
#[map(name = "FLOWS")]
static FLOWS: LruPerCpuHashMap<FlowKey, FlowStats> = LruPerCpuHashMap::with_max_entries(DEFAULT_FLOW_MAP_ENTRIES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<HookCounters> = PerCpuArray::with_max_entries(HOOK_COUNT, 0);

/// Where a new entry's first value is built before the insert copies it:
/// the counting path already uses most of the 512-byte BPF stack.
#[map(name = "NEW_FLOW_SCRATCH")]
static NEW_FLOW_SCRATCH: PerCpuArray<FlowStats> = PerCpuArray::with_max_entries(1, 0);

/// Freeze age (`agent_common::freeze`), set by userspace at load time. In
/// `.rodata`, which aya freezes, so the verifier knows it. The built-in
/// value never freezes anything.
#[unsafe(no_mangle)]
static FREEZE_AFTER_NS: u64 = u64::MAX;

/// Possible CPUs (the flow map's per-CPU slots), set by userspace at load time.
#[unsafe(no_mangle)]
static POSSIBLE_CPUS: u32 = 0;

/// One hook invocation: where the frame was seen, its length and GSO shape.
pub struct Observation {
    pub hook: Hook,
    pub ifindex: u32,
    pub frame_len: u32,
    pub segments: u32,
}

/// Counts one frame, given what the parser made of it. Never fails:
/// anything that cannot become a flow update is counted in [`HookCounters`]
/// instead.
#[inline(always)]
pub fn record_frame(parsed: Result<ParsedPacket, ParseError>, obs: &Observation) {
    let Some(counters) = COUNTERS.get_ptr_mut(obs.hook.index()) else {
        return;
    };
    // SAFETY: per-CPU slot, only this CPU writes it while this program runs.
    let counters = unsafe { &mut *counters };
    let segments = if obs.segments == 0 { 1 } else { obs.segments };

    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            counters.count_refused(err, segments, obs.frame_len);
            return;
        }
    };
    let mut key = parsed.flow_key(obs.ifindex, obs.hook.direction());
    // SAFETY: a read of an immutable global; volatile so the compiler keeps
    // the load instead of folding the value the object was built with.
    let freeze_after_ns = unsafe { core::ptr::read_volatile(&FREEZE_AFTER_NS) };
    let found = flow_entry(&key);
    // The clock after the lookup, with the value's cache lines already on
    // their way: the clocksource read ends in `rdtscp` (or `lfence; rdtsc`),
    // which waits for every earlier load, so the value's cache misses resolve
    // during the helper call instead of after it. The freeze protocol only
    // needs the clock read between the lookup and the write.
    if let Some(stats) = found {
        prefetch_lines(stats);
    }
    // SAFETY: helper without preconditions.
    let sample = parsed.sample(obs.frame_len, segments, unsafe { bpf_ktime_get_ns() });
    counters.count_parsed(&sample);

    if let Some(stats) = found {
        // SAFETY: per-CPU value, written only by this CPU.
        if !entry_is_frozen(unsafe { &*stats }, &key, sample.now_ns, freeze_after_ns) {
            // SAFETY: as above.
            unsafe { (*stats).record(&sample) };
            return;
        }
        // Frozen: the agent may be deleting it. Use the direction's other entry.
        key.generation = 1;
        if let Some(stats) = flow_entry(&key) {
            // SAFETY: as above.
            if entry_is_frozen(unsafe { &*stats }, &key, sample.now_ns, freeze_after_ns) {
                // Both frozen: the agent is behind. Count it, never drop it.
                counters.frozen_writes += segments as u64;
            }
            // SAFETY: as above.
            unsafe { (*stats).record(&sample) };
            return;
        }
    }
    let Some(first) = NEW_FLOW_SCRATCH.get_ptr_mut(0) else {
        counters.map_update_failed += segments as u64;
        return;
    };
    // SAFETY: per-CPU slot, only this CPU uses it while this program runs.
    let first = unsafe {
        *first = FlowStats::first(&sample);
        &*first
    };
    #[expect(
        clippy::needless_borrows_for_generic_args,
        reason = "by reference keeps one copy of the 48-byte key on the 512-byte BPF stack"
    )]
    let inserted = FLOWS.insert(&key, first, BPF_NOEXIST as u64);
    match inserted {
        Ok(()) => counters.flows_inserted += 1,
        // Another CPU created the entry between our lookup and insert; it
        // was written just now, so it is not frozen.
        Err(_) => match flow_entry(&key) {
            // SAFETY: per-CPU value, written only by this CPU.
            Some(stats) => unsafe { (*stats).record(&sample) },
            None => counters.map_update_failed += segments as u64,
        },
    }
}

/// Loads one byte of every cache line `*value` spans (one per 64 bytes,
/// and its last byte), so that their misses are in flight together before
/// a helper call that waits for earlier loads; the reads themselves are
/// discarded. The pointer must come from a map lookup for a value of `T`.
#[inline(always)]
pub fn prefetch_lines<T>(value: *const T) {
    const CACHE_LINE: usize = 64;
    let bytes = value.cast::<u8>();
    let size = core::mem::size_of::<T>();
    let mut offset = 0;
    while offset < size {
        // SAFETY: `offset < size`, inside the map value; volatile so the
        // otherwise unused load is kept.
        unsafe { core::ptr::read_volatile(bytes.add(offset)) };
        offset += CACHE_LINE;
    }
    // SAFETY: the value's last byte (the steps above may stop a line short of it).
    unsafe { core::ptr::read_volatile(bytes.add(size - 1)) };
}

/// This CPU's slot of the entry for `key`. Takes the key by reference so
/// it is not copied again on the 512-byte BPF stack.
#[inline(always)]
fn flow_entry(key: &FlowKey) -> Option<*mut FlowStats> {
    FLOWS.get_ptr_mut(key)
}

/// Whether the agent may be deleting this entry (`agent_common::freeze`).
/// `own` is this CPU's slot. When it is recent the entry is live: no other
/// lookup. When it is empty or idle, another CPU may have written the
/// entry since, so every CPU's slot is read (once per idle period per CPU,
/// not per packet) and the newest write decides.
#[inline(always)]
fn entry_is_frozen(own: &FlowStats, key: &FlowKey, now_ns: u64, freeze_after_ns: u64) -> bool {
    if own.packets != 0 && !is_frozen(own.last_seen_ns, now_ns, freeze_after_ns) {
        return false;
    }
    is_frozen(newest_write_ns(key), now_ns, freeze_after_ns)
}

/// The newest `last_seen_ns` over every CPU's slot of the entry, 0 when
/// there is none. A function of its own (a BPF subprogram): inlined, its
/// loop pushes the egress program's stack past the 512-byte limit.
#[inline(never)]
fn newest_write_ns(key: &FlowKey) -> u64 {
    // SAFETY: a read of an immutable global (see FREEZE_AFTER_NS).
    let cpus = unsafe { core::ptr::read_volatile(&POSSIBLE_CPUS) };
    if cpus > MAX_CPUS {
        // Slots this program cannot read: treat the entry as frozen (safe).
        return 0;
    }
    let map = core::ptr::from_ref(&FLOWS).cast_mut().cast::<c_void>();
    let mut newest = 0u64;
    for cpu in 0..MAX_CPUS {
        if cpu >= cpus {
            break;
        }
        // SAFETY: `FLOWS` is `#[repr(transparent)]` over its map definition,
        // so its address is the map pointer the helper expects; the key
        // points at a whole `FlowKey`.
        let slot = unsafe { bpf_map_lookup_percpu_elem(map, core::ptr::from_ref(key).cast::<c_void>(), cpu) };
        if !slot.is_null() {
            // SAFETY: a non-null result points at that CPU's `FlowStats`.
            let last = unsafe { (*slot.cast::<FlowStats>()).last_seen_ns };
            if last > newest {
                newest = last;
            }
        }
    }
    newest
}
