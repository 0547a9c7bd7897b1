//! The per-packet work both hooks share: parse, budget, count, update the flow.

use agent_common::{
    counters::{HOOK_COUNT, Hook, HookCounters},
    flow::{FlowKey, FlowStats, PacketSample},
    names::DEFAULT_FLOW_MAP_ENTRIES,
    parse::{PacketBytes, parse_ethernet},
};
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{LruPerCpuHashMap, PerCpuArray},
};

/// Resized at load time by userspace (`--map-size`).
#[map(name = "FLOWS")]
static FLOWS: LruPerCpuHashMap<FlowKey, FlowStats> = LruPerCpuHashMap::with_max_entries(DEFAULT_FLOW_MAP_ENTRIES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<HookCounters> = PerCpuArray::with_max_entries(HOOK_COUNT, 0);

/// One hook invocation: the frame, where it was seen, and its GSO shape.
pub struct Observation {
    pub hook: Hook,
    pub ifindex: u32,
    pub frame_len: u32,
    pub segments: u32,
    pub metadata_vlan: Option<u16>,
}

/// Counts one frame. Never fails: anything that cannot become a flow update
/// is counted in [`HookCounters`] instead.
#[inline(always)]
pub fn record_frame<P: PacketBytes>(frame: &P, obs: &Observation) {
    let Some(counters) = COUNTERS.get_ptr_mut(obs.hook.index()) else {
        return;
    };
    // SAFETY: per-CPU slot, only this CPU writes it while this program runs.
    let counters = unsafe { &mut *counters };
    let segments = if obs.segments == 0 { 1 } else { obs.segments };

    let parsed = match parse_ethernet(frame, obs.metadata_vlan) {
        Ok(parsed) => parsed,
        Err(err) => {
            counters.count_refused(err, segments, obs.frame_len);
            return;
        }
    };
    // SAFETY: helper without preconditions.
    let sample = parsed.sample(obs.frame_len, segments, unsafe { bpf_ktime_get_ns() });
    counters.count_parsed(&sample);

    let key = parsed.flow_key(obs.ifindex, obs.hook.direction());
    if update_existing(&key, &sample) {
        return;
    }
    #[expect(
        clippy::needless_borrows_for_generic_args,
        reason = "by reference keeps one copy of the 48+104 bytes on the 512-byte BPF stack"
    )]
    let inserted = FLOWS.insert(&key, &FlowStats::first(&sample), BPF_NOEXIST as u64);
    match inserted {
        Ok(()) => counters.flows_inserted += 1,
        // Another CPU created the entry between our lookup and insert.
        Err(_) if update_existing(&key, &sample) => {}
        Err(_) => counters.map_update_failed += segments as u64,
    }
}

#[inline(always)]
fn update_existing(key: &FlowKey, sample: &PacketSample) -> bool {
    match FLOWS.get_ptr_mut(key) {
        Some(stats) => {
            // SAFETY: per-CPU value, written only by this CPU.
            unsafe { (*stats).record(sample) };
            true
        }
        None => false,
    }
}
