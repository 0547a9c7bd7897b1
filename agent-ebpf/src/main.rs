//! The flowwatch kernel programs. Both are thin wrappers: they describe the
//! frame and hand it to [`agent_ebpf::record::record_frame`]. They never drop
//! or modify traffic.
#![no_std]
#![no_main]

use agent_common::counters::Hook;
use agent_common::parse::parse_ethernet;
use agent_ebpf::{
    frame::{DirectFrame, parse_skb},
    record::{Observation, record_frame},
    sample::sample_frame,
};
use aya_ebpf::{
    bindings::{TC_ACT_PIPE, TC_ACT_UNSPEC, xdp_action},
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};

#[xdp]
pub fn flowwatch_ingress(ctx: XdpContext) -> u32 {
    let frame = DirectFrame::xdp(&ctx);
    let obs = Observation {
        hook: Hook::Ingress,
        ifindex: ctx.ingress_ifindex() as u32,
        frame_len: frame.frame_len(),
        segments: 1,
    };
    // -w: packet sampling (agent-ebpf/src/sample.rs); removed by the verifier when off.
    sample_frame(&ctx, obs.frame_len);
    record_frame(parse_ethernet(&frame, None), &obs);
    xdp_action::XDP_PASS
}

#[classifier]
pub fn flowwatch_egress(ctx: TcContext) -> i32 {
    // SAFETY: the context pointer is valid for the program's run.
    let skb = unsafe { &*ctx.skb.skb };
    let metadata_vlan = if skb.vlan_present != 0 { Some(skb.vlan_tci as u16) } else { None };
    let obs = Observation { hook: Hook::Egress, ifindex: skb.ifindex, frame_len: skb.len, segments: skb.gso_segs };
    record_frame(parse_skb(&ctx, skb.len, metadata_vlan), &obs);
    TC_ACT_PIPE
}

/// `-w` on egress (agent-ebpf/src/sample.rs): attached ahead of
/// [`flowwatch_egress`] only when sampling is on. A program of its own
/// because any call added to the counting program pushes its stack past
/// the 512-byte limit. Returns "unspecified", so the next program (the
/// counting one) runs.
#[classifier]
pub fn flowwatch_egress_sample(ctx: TcContext) -> i32 {
    // SAFETY: the context pointer is valid for the program's run.
    let skb = unsafe { &*ctx.skb.skb };
    sample_frame(&ctx, skb.len);
    TC_ACT_UNSPEC
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
