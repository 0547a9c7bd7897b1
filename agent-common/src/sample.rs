//! `-w` on live capture: packets the kernel programs copy to userspace
//! through a perf event array, each as a [`SampleHeader`] followed by the
//! first `cap_len` bytes of the frame.

/// Global (`.rodata`) set at load time: 0 turns sampling off, and as a
/// load-time constant it lets the verifier drop the sampling code entirely;
/// otherwise the most bytes copied per packet.
pub const SAMPLE_SNAPLEN_GLOBAL: &str = "SAMPLE_SNAPLEN";
/// TC egress program that samples (attached only with `-w`).
pub const EGRESS_SAMPLE_PROGRAM: &str = "flowwatch_egress_sample";
/// Perf event array the samples go to (one buffer per CPU).
pub const SAMPLES_MAP: &str = "SAMPLES";
/// Per-CPU array of one `u64`: samples the kernel could not output (the
/// CPU's buffer was full, or not open), so a missing packet is never silent.
pub const SAMPLE_DROPS_MAP: &str = "SAMPLE_DROPS";

/// Largest snaplen live sampling supports: a perf record's size is a `u16`,
/// and it also holds the perf header (8 bytes), the raw-data size (4), the
/// [`SampleHeader`] (16) and up to 7 bytes of alignment padding.
pub const MAX_LIVE_SNAPLEN: u32 = 65_000;

/// Precedes every sampled frame. Plain integers, no implicit padding. Only
/// what the pcap record needs: the file has one link type and no interface
/// or direction field, so neither is sent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleHeader {
    /// `bpf_ktime_get_ns` (`CLOCK_MONOTONIC`) when the hook ran.
    pub timestamp_ns: u64,
    /// Frame length as the hook saw it (a GSO buffer on egress: all its segments).
    pub frame_len: u32,
    /// Frame bytes following the header (`min(frame_len, snaplen)`).
    pub cap_len: u32,
}

impl SampleHeader {
    pub const SIZE: usize = core::mem::size_of::<Self>();

    /// Reads a header written by the kernel on this machine (native byte order).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let u64_at = |at: usize| Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        Some(Self { timestamp_ns: u64_at(0)?, frame_len: u32_at(8)?, cap_len: u32_at(12)? })
    }
}
