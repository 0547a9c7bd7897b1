//! The benchmark's reference programs (agent-ebpf/src/bench_reference.rs):
//! an empty XDP program, a minimal 5-tuple counter and two ablations that
//! do part of flowwatch's work, loaded from the embedded object so the bench
//! compares like with like on this machine.

use agent_common::flow::FlowKey;
use aya::{
    Ebpf, EbpfLoader,
    maps::{MapError, PerCpuArray, PerCpuHashMap},
    programs::{Xdp, XdpMode},
};

use super::{BENCH_REFERENCE_OBJECT, CaptureError, ProgramStats, attach::program_mut, program_stats};

pub const REFERENCE_EMPTY: &str = "reference_empty";
pub const REFERENCE_COUNTER: &str = "reference_counter";
/// flowwatch's parser, then one per-CPU counter.
pub const ABLATION_PARSE_ONLY: &str = "ablation_parse_only";
/// flowwatch's parser and 48-byte key in a per-CPU LRU map, packets and bytes only.
pub const ABLATION_PARSE_AND_KEY: &str = "ablation_parse_and_key";

const ALL: [&str; 4] = [REFERENCE_EMPTY, REFERENCE_COUNTER, ABLATION_PARSE_ONLY, ABLATION_PARSE_AND_KEY];

/// The key ablation's per-CPU LRU map: [`FlowKey`] → [`Count`].
const ABLATION_FLOWS: &str = "ABLATION_FLOWS";
/// The parse-only ablation's one per-CPU [`Count`].
const ABLATION_PARSED: &str = "ABLATION_PARSED";

/// The per-CPU LRU maps of the minimal counter and of the key ablation.
const LRU_MAPS: [&str; 2] = ["REF_FLOWS", ABLATION_FLOWS];

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
unsafe impl aya::Pod for Count {}

fn packets<'a>(per_cpu: impl IntoIterator<Item = &'a Count>) -> u64 {
    per_cpu.into_iter().map(|count| count.packets).sum()
}

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
        for name in ALL {
            program_mut::<Xdp>(&mut ebpf, name)?
                .load()
                .map_err(|source| CaptureError::Verify { program: name, source })?;
        }
        Ok(Self { ebpf })
    }

    /// Attaches one reference program (driver mode) to an interface.
    pub fn attach(&mut self, program: &'static str, interface: &str) -> Result<(), CaptureError> {
        program_mut::<Xdp>(&mut self.ebpf, program)?
            .attach(interface, XdpMode::Driver)
            .map_err(|source| CaptureError::Attach { program, interface: interface.to_owned(), source })?;
        Ok(())
    }

    pub fn stats(&self) -> Vec<ProgramStats> {
        program_stats(&self.ebpf, &ALL)
    }

    /// Packets the parse-only ablation parsed, over every CPU (its cost per
    /// packet means something only if it parsed what it was sent).
    pub fn parsed_packets(&self) -> Result<u64, CaptureError> {
        let map_error = |source: MapError| CaptureError::Map { map: ABLATION_PARSED, source };
        let map = self.ebpf.map(ABLATION_PARSED).ok_or(CaptureError::MissingMap { map: ABLATION_PARSED })?;
        let per_cpu = PerCpuArray::<_, Count>::try_from(map).map_err(map_error)?.get(&0, 0).map_err(map_error)?;
        Ok(packets(per_cpu.iter()))
    }

    /// The key ablation's entries: each flow key with its packets over every CPU.
    pub fn keyed_packets(&self) -> Result<Vec<(FlowKey, u64)>, CaptureError> {
        let map_error = |source: MapError| CaptureError::Map { map: ABLATION_FLOWS, source };
        let map = self.ebpf.map(ABLATION_FLOWS).ok_or(CaptureError::MissingMap { map: ABLATION_FLOWS })?;
        PerCpuHashMap::<_, FlowKey, Count>::try_from(map)
            .map_err(map_error)?
            .iter()
            .map(|entry| entry.map(|(key, per_cpu)| (key, packets(per_cpu.iter()))).map_err(map_error))
            .collect()
    }
}
