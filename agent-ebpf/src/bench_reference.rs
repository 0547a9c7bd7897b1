//! Reference programs for `cargo xtask bench`: the cost floor (a program
//! that does nothing) and a minimal 5-tuple per-CPU LRU counter, each as an
//! XDP program and as a TC program, so the flowwatch programs' per-packet
//! cost is compared with the same hook on the same machine and in the same
//! run rather than against absolute numbers; and four ablations
//! that each add one part of flowwatch's work, so the bench shows what each
//! part costs.
#![no_std]
#![no_main]

use agent_common::{
    counters::Hook,
    flow::{FlowKey, FlowStats, PacketSample},
    parse::{ParsedPacket, parse_ethernet},
};
use agent_ebpf::{frame::DirectFrame, record::prefetch_lines};
use aya_ebpf::{
    bindings::{TC_ACT_PIPE, xdp_action},
    helpers::bpf_ktime_get_ns,
    macros::{classifier, map, xdp},
    maps::{LruPerCpuHashMap, PerCpuArray},
    programs::{TcContext, XdpContext},
};

#[repr(C)]
#[derive(Clone, Copy)]
struct FiveTuple {
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    _pad: [u8; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Count {
    packets: u64,
    bytes: u64,
}

/// Packets, and the time of the last one: the clock ablation's value, the
/// size of [`Count`], so that ablation differs from the key ablation only in
/// reading the clock.
#[repr(C)]
#[derive(Clone, Copy)]
struct Stamp {
    packets: u64,
    last_seen_ns: u64,
}

/// A per-CPU map value that one packet updates in place.
trait PacketValue: Copy {
    /// What the program knows of one packet.
    type Packet;
    /// The value of a new entry whose first packet this is.
    fn first(packet: &Self::Packet) -> Self;
    fn add(&mut self, packet: &Self::Packet);
}

impl PacketValue for Count {
    type Packet = u64;
    #[inline(always)]
    fn first(bytes: &u64) -> Self {
        Count { packets: 1, bytes: *bytes }
    }
    #[inline(always)]
    fn add(&mut self, bytes: &u64) {
        self.packets += 1;
        self.bytes += *bytes;
    }
}

impl PacketValue for Stamp {
    type Packet = u64;
    #[inline(always)]
    fn first(now_ns: &u64) -> Self {
        Stamp { packets: 1, last_seen_ns: *now_ns }
    }
    #[inline(always)]
    fn add(&mut self, now_ns: &u64) {
        self.packets += 1;
        self.last_seen_ns = *now_ns;
    }
}

impl PacketValue for FlowStats {
    type Packet = PacketSample;
    #[inline(always)]
    fn first(sample: &Self::Packet) -> Self {
        FlowStats::first(sample)
    }
    #[inline(always)]
    fn add(&mut self, sample: &Self::Packet) {
        self.record(sample)
    }
}

/// One packet under `key`: added in place to this CPU's value of the entry,
/// or a new entry. Every LRU program here counts this way, so they differ
/// only in their keys, their values and what `packet` reads. `packet` runs
/// after the lookup, where flowwatch reads its clock; `prefetch` starts
/// loading the value's cache lines before it, as flowwatch does before
/// its clock read.
#[inline(always)]
fn count_packet<K, V: PacketValue>(
    map: &LruPerCpuHashMap<K, V>,
    key: &K,
    prefetch: bool,
    packet: impl FnOnce() -> V::Packet,
) {
    let Some(value) = map.get_ptr_mut(key) else {
        let _ = map.insert(key, V::first(&packet()), 0);
        return;
    };
    if prefetch {
        prefetch_lines(value);
    }
    let packet = packet();
    // SAFETY: a per-CPU value, written only by this program on this CPU.
    unsafe { (*value).add(&packet) }
}

#[map(name = "REF_FLOWS")]
static REF_FLOWS: LruPerCpuHashMap<FiveTuple, Count> = LruPerCpuHashMap::with_max_entries(65536, 0);

/// The TC counter's map, apart so neither counter finds the other's entries.
#[map(name = "REF_FLOWS_TC")]
static REF_FLOWS_TC: LruPerCpuHashMap<FiveTuple, Count> = LruPerCpuHashMap::with_max_entries(65536, 0);

/// Ablation: flowwatch's 48-byte key, counting packets and bytes only. Every
/// LRU map here is resized at load to the size of flowwatch's flow map.
#[map(name = "ABLATION_FLOWS")]
static ABLATION_FLOWS: LruPerCpuHashMap<FlowKey, Count> = LruPerCpuHashMap::with_max_entries(65536, 0);

/// Ablation: the key ablation plus the clock read every packet.
#[map(name = "ABLATION_CLOCKED")]
static ABLATION_CLOCKED: LruPerCpuHashMap<FlowKey, Stamp> = LruPerCpuHashMap::with_max_entries(65536, 0);

/// Ablation: flowwatch's parser, key, clock and 104-byte statistics; what
/// flowwatch ingress does less its hook counters and freeze check.
#[map(name = "ABLATION_STATISTICS")]
static ABLATION_STATISTICS: LruPerCpuHashMap<FlowKey, FlowStats> = LruPerCpuHashMap::with_max_entries(65536, 0);

#[map(name = "ABLATION_PARSED")]
static ABLATION_PARSED: PerCpuArray<Count> = PerCpuArray::with_max_entries(1, 0);

#[xdp]
pub fn reference_empty(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn reference_counter(ctx: XdpContext) -> u32 {
    count_five_tuple(&REF_FLOWS, ctx.data(), ctx.data_end());
    xdp_action::XDP_PASS
}

/// The egress floor: a TC program that does nothing.
#[classifier]
pub fn reference_empty_tc(_ctx: TcContext) -> i32 {
    TC_ACT_PIPE
}

/// The minimal counter as a TC program, the like-for-like reference for
/// flowwatch's TC egress program (the same flood, through the qdisc path).
#[classifier]
pub fn reference_counter_tc(ctx: TcContext) -> i32 {
    count_five_tuple(&REF_FLOWS_TC, ctx.data(), ctx.data_end());
    TC_ACT_PIPE
}

/// The minimal counter: the 5-tuple of an IPv4 frame without options at
/// fixed offsets in `[start, end)` (direct packet access), counted in `map`.
#[inline(always)]
fn count_five_tuple(map: &LruPerCpuHashMap<FiveTuple, Count>, start: usize, end: usize) {
    // Ethernet (14) + IPv4 without options (20) + ports (4), IPv4 only.
    if start + 38 > end {
        return;
    }
    // SAFETY: 38 bytes were bounds-checked above.
    let (ethertype, proto, ihl, src, dst, sport, dport) = unsafe {
        let p = start as *const u8;
        (
            u16::from_be_bytes([*p.add(12), *p.add(13)]),
            *p.add(23),
            *p.add(14) & 0x0f,
            core::ptr::read_unaligned(p.add(26) as *const u32),
            core::ptr::read_unaligned(p.add(30) as *const u32),
            core::ptr::read_unaligned(p.add(34) as *const u16),
            core::ptr::read_unaligned(p.add(36) as *const u16),
        )
    };
    if ethertype != 0x0800 || ihl != 5 {
        return;
    }
    let key = FiveTuple { src, dst, sport, dport, proto, _pad: [0; 3] };
    let bytes = (end - start) as u64;
    count_packet(map, &key, false, || bytes);
}

/// Ablation: flowwatch's parser, then one per-CPU counter (no flow map).
/// It sums the parsed header lengths so the parse cannot be optimised away;
/// copies of fields it does not use (the addresses) may be.
#[xdp]
pub fn ablation_parse_only(ctx: XdpContext) -> u32 {
    let frame = DirectFrame::xdp(&ctx);
    if let (Ok(parsed), Some(count)) = (parse_ethernet(&frame, None), ABLATION_PARSED.get_ptr_mut(0)) {
        // SAFETY: a per-CPU value, written only by this program on this CPU.
        unsafe { (*count).add(&(parsed.header_len as u64)) }
    }
    xdp_action::XDP_PASS
}

/// Parses the frame and counts it under flowwatch's key in `map`, with
/// what `packet` takes from it: the keyed ablations differ only in that
/// (and in `prefetch`, see [`count_packet`]).
#[inline(always)]
fn count_keyed<V: PacketValue>(
    ctx: &XdpContext,
    map: &LruPerCpuHashMap<FlowKey, V>,
    prefetch: bool,
    packet: impl FnOnce(&DirectFrame, &ParsedPacket) -> V::Packet,
) -> u32 {
    let frame = DirectFrame::xdp(ctx);
    if let Ok(parsed) = parse_ethernet(&frame, None) {
        let key = parsed.flow_key(ctx.ingress_ifindex() as u32, Hook::Ingress.direction());
        count_packet(map, &key, prefetch, || packet(&frame, &parsed));
    }
    xdp_action::XDP_PASS
}

/// Ablation: flowwatch's parser and 48-byte flow key in a per-CPU LRU map,
/// counting packets and bytes only (no clock, no statistics, no hook counters).
#[xdp]
pub fn ablation_parse_and_key(ctx: XdpContext) -> u32 {
    count_keyed(&ctx, &ABLATION_FLOWS, false, |frame, _| frame.frame_len() as u64)
}

/// Ablation: the key ablation plus `bpf_ktime_get_ns` on every packet, kept
/// in a value as large as the key ablation's.
#[xdp]
pub fn ablation_clock(ctx: XdpContext) -> u32 {
    // SAFETY: helper without preconditions.
    count_keyed(&ctx, &ABLATION_CLOCKED, true, |_, _| unsafe { bpf_ktime_get_ns() })
}

/// Ablation: flowwatch's per-flow statistics (`FlowStats::record`, the
/// 104-byte value), without the hook counters and the freeze check.
#[xdp]
pub fn ablation_statistics(ctx: XdpContext) -> u32 {
    count_keyed(&ctx, &ABLATION_STATISTICS, true, |frame, parsed| {
        // SAFETY: helper without preconditions.
        parsed.sample(frame.frame_len(), 1, unsafe { bpf_ktime_get_ns() })
    })
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
