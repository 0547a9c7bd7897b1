//! The benchmark's reference programs (agent-ebpf/src/bench_reference.rs):
//! an empty XDP program, a minimal 5-tuple counter and two ablations that
//! do part of flowwatch's work, loaded from the embedded object so the bench
//! compares like with like on this machine.

use aya::{
    Ebpf, EbpfLoader,
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

/// The per-CPU LRU maps of the minimal counter and of the key ablation.
const LRU_MAPS: [&str; 2] = ["REF_FLOWS", "ABLATION_FLOWS"];

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
}
