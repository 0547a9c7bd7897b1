//! [`PacketBytes`] over the two kinds of frame the hooks see.

use agent_common::parse::PacketBytes;
use aya_ebpf::programs::{TcContext, XdpContext};

/// XDP: direct packet access, bounds-checked against `data_end` before every
/// read so the verifier can prove it.
pub struct XdpFrame {
    start: usize,
    end: usize,
}

impl XdpFrame {
    #[inline(always)]
    pub fn new(ctx: &XdpContext) -> Self {
        Self { start: ctx.data(), end: ctx.data_end() }
    }

    #[inline(always)]
    pub fn frame_len(&self) -> u32 {
        (self.end - self.start) as u32
    }
}

/// Largest offset the parser can produce (Ethernet + two tags + IPv6 with six
/// maximal extension headers); masking with it gives the verifier a bound.
const MAX_PARSE_OFFSET: usize = 0x3fff;

impl PacketBytes for XdpFrame {
    #[inline(always)]
    fn load<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let offset = offset & MAX_PARSE_OFFSET;
        let ptr = self.start + offset;
        if ptr + N > self.end {
            return None;
        }
        // SAFETY: the range [ptr, ptr + N) was checked against data_end above.
        Some(unsafe { core::ptr::read_unaligned(ptr as *const [u8; N]) })
    }
}

/// TC: `bpf_skb_load_bytes`, which also reads headers that sit in the
/// non-linear part of an skb (common on egress with GSO).
pub struct SkbFrame<'a> {
    ctx: &'a TcContext,
}

impl<'a> SkbFrame<'a> {
    #[inline(always)]
    pub fn new(ctx: &'a TcContext) -> Self {
        Self { ctx }
    }
}

impl PacketBytes for SkbFrame<'_> {
    #[inline(always)]
    fn load<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let offset = offset & MAX_PARSE_OFFSET;
        self.ctx.load::<[u8; N]>(offset).ok()
    }
}
