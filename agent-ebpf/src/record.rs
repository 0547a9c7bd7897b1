//! The per-packet work both hooks share: parse, budget, count, update the flow.

use agent_common::{
    counters::{HOOK_COUNT, Hook, HookCounters},
    flow::{FlowKey, FlowStats, PKT_FRAGMENT, PacketSample},
    names::DEFAULT_FLOW_MAP_ENTRIES,
    parse::{PacketBytes, ParseError, parse_ethernet},
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
            counters.packets += segments as u64;
            counters.bytes += obs.frame_len as u64;
            match err {
                ParseError::NonIp => counters.non_ip += segments as u64,
                ParseError::Truncated => counters.malformed_truncated += segments as u64,
                ParseError::BadHeader => counters.malformed_header += segments as u64,
                ParseError::TooDeep => counters.malformed_too_deep += segments as u64,
            }
            return;
        }
    };

    let sample = PacketSample {
        frame_len: obs.frame_len,
        segments,
        header_len: parsed.header_len,
        // SAFETY: helper without preconditions.
        now_ns: unsafe { bpf_ktime_get_ns() },
        tcp_flags: parsed.tcp_flags,
        pkt_flags: parsed.pkt_flags,
    };
    counters.packets += segments as u64;
    counters.bytes += sample.wire_bytes();
    if parsed.pkt_flags & PKT_FRAGMENT != 0 {
        counters.fragments += segments as u64;
    }

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
