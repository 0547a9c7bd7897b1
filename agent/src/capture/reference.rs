//! The benchmark's reference programs (agent-ebpf/src/bench_reference.rs):
//! an empty program and a minimal 5-tuple counter, as XDP programs and as
//! TC programs (for egress), and four ablations that each add one part of
//! flowwatch's work, loaded from the embedded object so the bench compares
//! like with like on this machine.

use agent_common::flow::{FlowKey, FlowStats};
use aya::{
    Ebpf, EbpfLoader, Pod,
    maps::{MapError, PerCpuArray, PerCpuHashMap},
    programs::{SchedClassifier, Xdp, XdpMode},
};

use super::{
    BENCH_REFERENCE_OBJECT, CaptureError, ProgramStats,
    attach::{attach_tc_egress, program_mut},
    program_stats, test_run_ns,
};

pub const REFERENCE_EMPTY: &str = "reference_empty";
pub const REFERENCE_COUNTER: &str = "reference_counter";
/// The empty program and the minimal counter as TC programs, the references
/// for flowwatch's TC egress program.
pub const REFERENCE_EMPTY_TC: &str = "reference_empty_tc";
pub const REFERENCE_COUNTER_TC: &str = "reference_counter_tc";
/// flowwatch's parser, then one per-CPU counter.
pub const ABLATION_PARSE_ONLY: &str = "ablation_parse_only";

/// The ablations that count each flow under flowwatch's 48-byte key in a
/// per-CPU LRU map, each adding one part of flowwatch's work to the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedAblation {
    /// flowwatch's parser and key, packets and bytes only.
    Key,
    /// … and the clock read on every packet.
    Clock,
    /// … and flowwatch's per-flow statistics (`FlowStats::record`, the
    /// 104-byte value): flowwatch ingress less its hook counters and freeze check.
    Statistics,
}

impl KeyedAblation {
    pub const ALL: [Self; 3] = [Self::Key, Self::Clock, Self::Statistics];

    pub const fn program(self) -> &'static str {
        match self {
            Self::Key => "ablation_parse_and_key",
            Self::Clock => "ablation_clock",
            Self::Statistics => "ablation_statistics",
        }
    }

    const fn map(self) -> &'static str {
        match self {
            Self::Key => "ABLATION_FLOWS",
            Self::Clock => "ABLATION_CLOCKED",
            Self::Statistics => "ABLATION_STATISTICS",
        }
    }
}

const XDP_PROGRAMS: [&str; 6] = [
    REFERENCE_EMPTY,
    REFERENCE_COUNTER,
    ABLATION_PARSE_ONLY,
    KeyedAblation::Key.program(),
    KeyedAblation::Clock.program(),
    KeyedAblation::Statistics.program(),
];

const TC_PROGRAMS: [&str; 2] = [REFERENCE_EMPTY_TC, REFERENCE_COUNTER_TC];

/// The parse-only ablation's one per-CPU [`Count`].
const ABLATION_PARSED: &str = "ABLATION_PARSED";

/// Every per-CPU LRU map: the minimal counter's and the keyed ablations'.
const LRU_MAPS: [&str; 5] = [
    "REF_FLOWS",
    "REF_FLOWS_TC",
    KeyedAblation::Key.map(),
    KeyedAblation::Clock.map(),
    KeyedAblation::Statistics.map(),
];

/// `Count` of bench_reference.rs: packets, and bytes (frame bytes in the
/// LRU maps, parsed header bytes in `ABLATION_PARSED`). aya checks the size
/// against the map's value size when the map is opened.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct Count {
    packets: u64,
    bytes: u64,
}

// SAFETY: repr(C), two u64 fields, no padding.
unsafe impl Pod for Count {}

/// `Stamp` of bench_reference.rs: packets, and the last packet's time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct Stamp {
    packets: u64,
    last_seen_ns: u64,
}

// SAFETY: repr(C), two u64 fields, no padding.
unsafe impl Pod for Stamp {}

pub struct ReferencePrograms {
    ebpf: Ebpf,
}

impl ReferencePrograms {
    /// Loads every reference program. Their LRU maps get `lru_entries`
    /// slots: give them the flow map's size, so the comparison is between
    /// maps of the same type, flags (none) and size — a larger map spreads
    /// the same flows over more hash buckets and costs more cache and TLB
    /// misses per lookup.
    pub fn load(lru_entries: u32) -> Result<Self, CaptureError> {
        let mut loader = EbpfLoader::new();
        for map in LRU_MAPS {
            loader.map_max_entries(map, lru_entries);
        }
        let mut ebpf = loader.load(BENCH_REFERENCE_OBJECT).map_err(CaptureError::Load)?;
        for name in XDP_PROGRAMS {
            program_mut::<Xdp>(&mut ebpf, name)?
                .load()
                .map_err(|source| CaptureError::Verify { program: name, source })?;
        }
        for name in TC_PROGRAMS {
            program_mut::<SchedClassifier>(&mut ebpf, name)?
                .load()
                .map_err(|source| CaptureError::Verify { program: name, source })?;
        }
        Ok(Self { ebpf })
    }

    /// Attaches one reference program to an interface: an XDP program in
    /// driver mode, a TC program on egress.
    pub fn attach(&mut self, program: &'static str, interface: &str) -> Result<(), CaptureError> {
        if TC_PROGRAMS.contains(&program) {
            return attach_tc_egress(program_mut::<SchedClassifier>(&mut self.ebpf, program)?, program, interface);
        }
        program_mut::<Xdp>(&mut self.ebpf, program)?
            .attach(interface, XdpMode::Driver)
            .map_err(|source| CaptureError::Attach { program, interface: interface.to_owned(), source })?;
        Ok(())
    }

    pub fn stats(&self) -> Vec<ProgramStats> {
        let all: Vec<&'static str> = XDP_PROGRAMS.into_iter().chain(TC_PROGRAMS).collect();
        program_stats(&self.ebpf, &all)
    }

    /// A reference program run `repeat` times on `frame` in the kernel's
    /// test harness: mean nanoseconds per run (see [`super::LiveCapture::test_run_ns`]).
    pub fn test_run_ns(&self, program: &'static str, frame: &[u8], repeat: u32) -> Result<f64, CaptureError> {
        test_run_ns(&self.ebpf, program, frame, repeat)
    }

    /// Packets the parse-only ablation parsed, over every CPU (its cost per
    /// packet means something only if it parsed what it was sent).
    pub fn parsed_packets(&self) -> Result<u64, CaptureError> {
        let map_error = |source: MapError| CaptureError::Map { map: ABLATION_PARSED, source };
        let map = self.ebpf.map(ABLATION_PARSED).ok_or(CaptureError::MissingMap { map: ABLATION_PARSED })?;
        let per_cpu = PerCpuArray::<_, Count>::try_from(map).map_err(map_error)?.get(&0, 0).map_err(map_error)?;
        Ok(per_cpu.iter().map(|count| count.packets).sum())
    }

    /// A keyed ablation's entries: each flow key with its packets over every CPU.
    pub fn keyed_packets(&self, ablation: KeyedAblation) -> Result<Vec<(FlowKey, u64)>, CaptureError> {
        match ablation {
            KeyedAblation::Key => self.flows::<Count>(ablation.map(), |count| count.packets),
            KeyedAblation::Clock => self.flows::<Stamp>(ablation.map(), |stamp| stamp.packets),
            KeyedAblation::Statistics => self.flows::<FlowStats>(ablation.map(), |stats| stats.packets),
        }
    }

    /// The entries of the per-CPU map `name` of [`FlowKey`] → `V`, with the
    /// packets `packets` reads from each value summed over every CPU.
    fn flows<V: Pod>(&self, name: &'static str, packets: fn(&V) -> u64) -> Result<Vec<(FlowKey, u64)>, CaptureError> {
        let map_error = |source: MapError| CaptureError::Map { map: name, source };
        let map = self.ebpf.map(name).ok_or(CaptureError::MissingMap { map: name })?;
        PerCpuHashMap::<_, FlowKey, V>::try_from(map)
            .map_err(map_error)?
            .iter()
            .map(|entry| entry.map(|(key, per_cpu)| (key, per_cpu.iter().map(packets).sum())).map_err(map_error))
            .collect()
    }
}
