//! `-w` on live capture: a copy of each frame for userspace, through a perf
//! event array. The kernel appends the frame bytes itself (the context
//! length in the helper's flags), so no copy loop runs in the program.
//!
//! Kept apart from the counting path (`record.rs`) on purpose. XDP ingress
//! calls [`sample_frame`] once, before counting; when `-w` is off the
//! load-time constant [`SAMPLE_SNAPLEN`] is 0, so the verifier proves the
//! body dead and removes it — no cost at all. Egress samples from a TC
//! program of its own (`flowwatch_egress_sample`), attached only with `-w`.

use core::ffi::c_void;

use agent_common::sample::SampleHeader;
use aya_ebpf::{
    EbpfContext,
    bindings::BPF_F_CURRENT_CPU,
    helpers::{bpf_ktime_get_ns, bpf_perf_event_output},
    macros::map,
    maps::{PerCpuArray, PerfEventArray},
};

/// Set by userspace at load time (`agent_common::sample::SAMPLE_SNAPLEN_GLOBAL`);
/// lives in `.rodata`, which aya freezes, so the verifier knows its value.
#[unsafe(no_mangle)]
static SAMPLE_SNAPLEN: u32 = 0;

/// One perf buffer per CPU (aya sizes the array to the CPU count).
#[map(name = "SAMPLES")]
static SAMPLES: PerfEventArray<SampleHeader> = PerfEventArray::new(0);

#[map(name = "SAMPLE_DROPS")]
static SAMPLE_DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Where the header is built: the counting path already uses most of the
/// 512-byte BPF stack, so the header lives in a per-CPU slot instead.
#[map(name = "SAMPLE_SCRATCH")]
static SAMPLE_SCRATCH: PerCpuArray<SampleHeader> = PerCpuArray::with_max_entries(1, 0);

/// Sends the frame's first `min(frame_len, SAMPLE_SNAPLEN)` bytes, or counts
/// a drop when the CPU's buffer cannot take them.
#[inline(always)]
pub fn sample_frame<C: EbpfContext>(ctx: &C, frame_len: u32) {
    // SAFETY: a read of an immutable global; volatile so the compiler keeps
    // the load instead of folding the 0 the object was built with.
    let snaplen = unsafe { core::ptr::read_volatile(&SAMPLE_SNAPLEN) };
    if snaplen == 0 {
        return;
    }
    let Some(header) = SAMPLE_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    let cap_len = if frame_len < snaplen { frame_len } else { snaplen };
    // SAFETY: per-CPU slot, only this CPU uses it while this program runs.
    unsafe {
        *header = SampleHeader { timestamp_ns: bpf_ktime_get_ns(), frame_len, cap_len };
    }
    // Upper 32 bits: how many bytes of the packet the kernel appends (BPF_F_CTX_LEN_MASK).
    let flags = (u64::from(cap_len) << 32) | BPF_F_CURRENT_CPU;
    // SAFETY: `SAMPLES` is `#[repr(transparent)]` over its map definition, so
    // its address is the map pointer the helper expects (the same pointer
    // `PerfEventArray::output` passes, which cannot report failure); the
    // header points into a map value of the given size.
    let result = unsafe {
        bpf_perf_event_output(
            ctx.as_ptr(),
            core::ptr::from_ref(&SAMPLES).cast_mut().cast::<c_void>(),
            flags,
            header.cast::<c_void>(),
            SampleHeader::SIZE as u64,
        )
    };
    if result < 0
        && let Some(drops) = SAMPLE_DROPS.get_ptr_mut(0)
    {
        // SAFETY: per-CPU slot, only this CPU writes it while this program runs.
        unsafe { *drops += 1 };
    }
}
