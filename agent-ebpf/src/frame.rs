//! [`PacketBytes`] over the frames the hooks see.

use agent_common::parse::{PacketBytes, ParseError, ParsedPacket, parse_ethernet};
use aya_ebpf::programs::{TcContext, XdpContext};

/// Largest offset the parser can produce (Ethernet + two tags + IPv6 with six
/// maximal extension headers); masking with it gives the verifier a bound.
const MAX_PARSE_OFFSET: usize = 0x3fff;

/// Direct packet access to `[data, data_end)`, bounds-checked against
/// `data_end` before every read so the verifier can prove it. For XDP that
/// is the whole frame; for TC, the skb's linear part, where the headers
/// nearly always are.
pub struct DirectFrame {
    start: usize,
    end: usize,
}

impl DirectFrame {
    #[inline(always)]
    pub fn xdp(ctx: &XdpContext) -> Self {
        Self { start: ctx.data(), end: ctx.data_end() }
    }

    #[inline(always)]
    pub fn skb_linear(ctx: &TcContext) -> Self {
        Self { start: ctx.data(), end: ctx.data_end() }
    }

    /// Bytes readable directly: the whole frame for XDP, the linear part of an skb.
    #[inline(always)]
    pub fn frame_len(&self) -> u32 {
        (self.end - self.start) as u32
    }
}

impl PacketBytes for DirectFrame {
    #[inline(always)]
    fn load<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let ptr = self.start + (offset & MAX_PARSE_OFFSET);
        if ptr + N > self.end {
            return None;
        }
        // SAFETY: the range [ptr, ptr + N) was checked against data_end above.
        Some(unsafe { core::ptr::read_unaligned(ptr as *const [u8; N]) })
    }
}

/// TC: the whole skb through `bpf_skb_load_bytes`, which also reads headers
/// in its non-linear part (possible on egress with GSO). A helper call per
/// read, so only for frames [`DirectFrame::skb_linear`] cannot parse.
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

/// Parses a TC frame from the skb's linear part and, only when a header runs
/// past it into the non-linear part, again through [`SkbFrame`]. Two parser
/// copies the verifier walks one after the other: a fallback inside every
/// read instead would multiply its paths past the 1M-instruction limit.
#[inline(always)]
pub fn parse_skb(ctx: &TcContext, skb_len: u32, metadata_vlan: Option<u16>) -> Result<ParsedPacket, ParseError> {
    let linear = DirectFrame::skb_linear(ctx);
    match parse_ethernet(&linear, metadata_vlan) {
        Err(ParseError::Truncated) if linear.frame_len() < skb_len => {
            parse_ethernet(&SkbFrame::new(ctx), metadata_vlan)
        }
        parsed => parsed,
    }
}
