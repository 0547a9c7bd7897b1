//! `-w` on live capture, userspace side: the egress sampling program
//! attached beside the counting one, one perf buffer per CPU, and the
//! kernel's count of samples it could not hand over.

use std::task::Poll;

use agent_common::sample::{EGRESS_SAMPLE_PROGRAM, SAMPLE_DROPS_MAP, SAMPLES_MAP, SampleHeader};
use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray, PerfEventArray, perf::PerfEvent, perf::PerfEventArrayBuffer},
    programs::{
        LinkOrder, SchedClassifier, TcAttachType,
        tc::{NlOptions, TcAttachOptions},
    },
    util::KernelVersion,
};
use tokio::io::{Interest, unix::AsyncFd};

use super::{CaptureError, attach::program_mut};

/// Pages per CPU buffer (4 MiB with 4 KiB pages): about 40,000 minimum-size
/// samples, so a 1 s stall of the agent at a few tens of thousands of
/// packets per second and CPU loses nothing.
const PAGES_PER_CPU: usize = 1024;

/// Loads the egress sampling program (once; attached per interface).
pub(super) fn load_egress_sampler(ebpf: &mut Ebpf) -> Result<(), CaptureError> {
    program_mut::<SchedClassifier>(ebpf, EGRESS_SAMPLE_PROGRAM)?
        .load()
        .map_err(|source| CaptureError::Verify { program: EGRESS_SAMPLE_PROGRAM, source })
}

/// Attaches the egress sampler ahead of the counting program: a TC program
/// that returns anything but "next" (the counting one returns `TC_ACT_PIPE`)
/// ends the chain, so the sampler runs first and returns `TC_ACT_UNSPEC`.
pub(super) fn attach_egress_sampler(ebpf: &mut Ebpf, interface: &str) -> Result<(), CaptureError> {
    let tcx = KernelVersion::current().is_ok_and(|version| version >= KernelVersion::new(6, 6, 0));
    let order = if tcx {
        TcAttachOptions::TcxOrder(LinkOrder::first())
    } else {
        // Priority 0: the kernel picks one ahead of the filters already there.
        TcAttachOptions::Netlink(NlOptions::default())
    };
    program_mut::<SchedClassifier>(ebpf, EGRESS_SAMPLE_PROGRAM)?
        .attach_with_options(interface, TcAttachType::Egress, order)
        .map_err(|source| CaptureError::Attach {
            program: EGRESS_SAMPLE_PROGRAM,
            interface: interface.to_owned(),
            source,
        })?;
    Ok(())
}

/// One sampled frame: the kernel's header and the captured bytes.
#[derive(Debug)]
pub struct Sample<'a> {
    pub header: SampleHeader,
    pub data: &'a [u8],
}

/// The per-CPU perf buffers the kernel programs write samples to.
pub struct PacketSampler {
    buffers: Vec<AsyncFd<PerfEventArrayBuffer<MapData>>>,
    drops: PerCpuArray<MapData, u64>,
    /// Samples the kernel reported lost inside the perf buffer itself.
    lost: u64,
    /// A sample split across the ring's end is joined here.
    joined: Vec<u8>,
}

impl std::fmt::Debug for PacketSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketSampler").field("buffers", &self.buffers.len()).finish_non_exhaustive()
    }
}

fn map_error(map: &'static str) -> impl Fn(aya::maps::MapError) -> CaptureError {
    move |source| CaptureError::Map { map, source }
}

impl PacketSampler {
    /// Opens a buffer on every online CPU. Needs a tokio runtime (the
    /// buffers are watched with `AsyncFd`).
    pub(super) fn open(ebpf: &mut Ebpf) -> Result<Self, CaptureError> {
        let samples = ebpf.take_map(SAMPLES_MAP).ok_or(CaptureError::MissingMap { map: SAMPLES_MAP })?;
        let mut samples = PerfEventArray::try_from(samples).map_err(map_error(SAMPLES_MAP))?;
        let drops = ebpf.take_map(SAMPLE_DROPS_MAP).ok_or(CaptureError::MissingMap { map: SAMPLE_DROPS_MAP })?;
        let drops = PerCpuArray::try_from(drops).map_err(map_error(SAMPLE_DROPS_MAP))?;
        let cpus = aya::util::online_cpus()
            .map_err(|(context, e)| CaptureError::KernelUnsupported { detail: format!("{context}: {e}") })?;
        let mut buffers = Vec::with_capacity(cpus.len());
        for cpu in cpus {
            let buffer = samples
                .open(cpu, Some(PAGES_PER_CPU))
                .map_err(|e| CaptureError::Sampling { detail: format!("opening the perf buffer of CPU {cpu}: {e}") })?;
            // SAFETY: the buffer owns its perf event descriptor and keeps it
            // open, unchanged, until it is dropped — with the AsyncFd that owns it.
            let buffer = unsafe { AsyncFd::register_with_interest(buffer, Interest::READABLE) }.map_err(|e| {
                CaptureError::Sampling { detail: format!("watching the perf buffer of CPU {cpu}: {e}") }
            })?;
            buffers.push(buffer);
        }
        Ok(Self { buffers, drops, lost: 0, joined: Vec::new() })
    }

    /// Waits until some CPU's buffer has samples.
    pub async fn readable(&mut self) {
        std::future::poll_fn(|cx| {
            let mut ready = false;
            for fd in &self.buffers {
                if let Poll::Ready(Ok(mut guard)) = fd.poll_read_ready(cx) {
                    // Everything is drained after this wake-up, so the next
                    // sample wakes the task again.
                    guard.clear_ready();
                    ready = true;
                }
            }
            if ready { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
    }

    /// Hands every sample waiting in every buffer to `visit`.
    pub fn drain(&mut self, mut visit: impl FnMut(Sample<'_>)) {
        let (joined, lost) = (&mut self.joined, &mut self.lost);
        for buffer in &mut self.buffers {
            buffer.get_mut().for_each(|event| match event {
                PerfEvent::Sample { head, tail } => {
                    let bytes = if tail.is_empty() {
                        head
                    } else {
                        joined.clear();
                        joined.extend_from_slice(head);
                        joined.extend_from_slice(tail);
                        joined.as_slice()
                    };
                    if let Some(sample) = decode(bytes) {
                        visit(sample);
                    }
                }
                PerfEvent::Lost { count } => *lost += count,
            });
        }
    }

    /// Samples the kernel could not output (counted by the programs when the
    /// helper failed), or lost in a full buffer as perf reported, whichever
    /// is larger: both count the same drops, from two places.
    pub fn drops(&self) -> Result<u64, CaptureError> {
        let per_cpu = self.drops.get(&0, 0).map_err(map_error(SAMPLE_DROPS_MAP))?;
        Ok(per_cpu.iter().sum::<u64>().max(self.lost))
    }
}

/// A raw perf sample: the header, then `cap_len` frame bytes (then padding).
fn decode(bytes: &[u8]) -> Option<Sample<'_>> {
    let header = SampleHeader::decode(bytes)?;
    let data = bytes.get(SampleHeader::SIZE..SampleHeader::SIZE.checked_add(header.cap_len as usize)?)?;
    Some(Sample { header, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(header: &SampleHeader, frame: &[u8], padding: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&header.timestamp_ns.to_ne_bytes());
        for field in [header.frame_len, header.cap_len] {
            bytes.extend_from_slice(&field.to_ne_bytes());
        }
        bytes.extend_from_slice(frame);
        bytes.resize(bytes.len() + padding, 0);
        bytes
    }

    #[test]
    fn decode_strips_the_perf_padding() -> Result<(), String> {
        let header = SampleHeader { timestamp_ns: 5, frame_len: 1500, cap_len: 3 };
        let bytes = raw(&header, &[7, 8, 9], 5);
        let sample = decode(&bytes).ok_or("not decoded")?;
        assert_eq!((sample.header, sample.data), (header, &[7u8, 8, 9][..]));
        Ok(())
    }

    #[test]
    fn decode_refuses_a_sample_shorter_than_its_cap_len() {
        let header = SampleHeader { timestamp_ns: 5, frame_len: 60, cap_len: 60 };
        assert!(decode(&raw(&header, &[0; 59], 0)).is_none());
    }
}
