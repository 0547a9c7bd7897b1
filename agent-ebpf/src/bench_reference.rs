//! Reference programs for `cargo xtask bench`: the cost floor (an XDP program
//! that does nothing) and a minimal 5-tuple per-CPU LRU counter, so the
//! flowwatch programs' per-packet cost is compared on the same machine and
//! in the same run rather than against absolute numbers; and two ablations
//! that do part of flowwatch's work, so the bench shows what each part costs.
#![no_std]
#![no_main]

use agent_common::{counters::Hook, flow::FlowKey, parse::parse_ethernet};
use agent_ebpf::frame::XdpFrame;
use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::{LruPerCpuHashMap, PerCpuArray},
    programs::XdpContext,
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

impl Count {
    #[inline(always)]
    fn add(&mut self, bytes: u64) {
        self.packets += 1;
        self.bytes += bytes;
    }
}

/// One packet of `bytes` under `key`: added in place to this CPU's value of
/// the entry, or a new entry. The minimal counter and the key ablation count
/// alike, so the two differ only in their keys.
#[inline(always)]
fn count_packet<K>(map: &LruPerCpuHashMap<K, Count>, key: &K, bytes: u64) {
    match map.get_ptr_mut(key) {
        // SAFETY: a per-CPU value, written only by this program on this CPU.
        Some(count) => unsafe { (*count).add(bytes) },
        None => {
            let _ = map.insert(key, Count { packets: 1, bytes }, 0);
        }
    }
}

#[map(name = "REF_FLOWS")]
static REF_FLOWS: LruPerCpuHashMap<FiveTuple, Count> = LruPerCpuHashMap::with_max_entries(65536, 0);

/// Ablation: flowwatch's 48-byte key, counting packets and bytes only. This map
/// and REF_FLOWS are resized at load to the size of flowwatch's flow map.
#[map(name = "ABLATION_FLOWS")]
static ABLATION_FLOWS: LruPerCpuHashMap<FlowKey, Count> = LruPerCpuHashMap::with_max_entries(65536, 0);

#[map(name = "ABLATION_PARSED")]
static ABLATION_PARSED: PerCpuArray<Count> = PerCpuArray::with_max_entries(1, 0);

#[xdp]
pub fn reference_empty(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn reference_counter(ctx: XdpContext) -> u32 {
    let start = ctx.data();
    let end = ctx.data_end();
    // Ethernet (14) + IPv4 without options (20) + ports (4), IPv4 only.
    if start + 38 > end {
        return xdp_action::XDP_PASS;
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
        return xdp_action::XDP_PASS;
    }
    let key = FiveTuple { src, dst, sport, dport, proto, _pad: [0; 3] };
    count_packet(&REF_FLOWS, &key, (end - start) as u64);
    xdp_action::XDP_PASS
}

/// Ablation: flowwatch's parser, then one per-CPU counter (no flow map).
/// It sums the parsed header lengths so the parse cannot be optimised away;
/// copies of fields it does not use (the addresses) may be.
#[xdp]
pub fn ablation_parse_only(ctx: XdpContext) -> u32 {
    let frame = XdpFrame::new(&ctx);
    if let (Ok(parsed), Some(count)) = (parse_ethernet(&frame, None), ABLATION_PARSED.get_ptr_mut(0)) {
        // SAFETY: a per-CPU value, written only by this program on this CPU.
        unsafe { (*count).add(parsed.header_len as u64) }
    }
    xdp_action::XDP_PASS
}

/// Ablation: flowwatch's parser and 48-byte flow key in a per-CPU LRU map,
/// counting packets and bytes only (no clock, no statistics, no hook counters).
#[xdp]
pub fn ablation_parse_and_key(ctx: XdpContext) -> u32 {
    let frame = XdpFrame::new(&ctx);
    let Ok(parsed) = parse_ethernet(&frame, None) else {
        return xdp_action::XDP_PASS;
    };
    let key = parsed.flow_key(ctx.ingress_ifindex() as u32, Hook::Ingress.direction());
    count_packet(&ABLATION_FLOWS, &key, frame.frame_len() as u64);
    xdp_action::XDP_PASS
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
