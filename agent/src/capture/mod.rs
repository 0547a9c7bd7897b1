//! Live capture: the kernel programs loaded from the binary, attached to
//! interfaces, and their maps read as a [`crate::flow::FlowMapSource`].

mod attach;
mod error;
mod maps;
mod privileges;
pub mod reference;
mod sampling;
mod syscall;

pub use attach::{AttachedInterface, XdpModeChoice};
pub use error::CaptureError;
pub use maps::KernelFlowMap;
pub use sampling::{PacketSampler, Sample};

use agent_common::{
    freeze::{FREEZE_AFTER_GLOBAL, FreezeAges, POSSIBLE_CPUS_GLOBAL},
    names::{DEFAULT_FLOW_MAP_ENTRIES, EGRESS_PROGRAM, FLOWS_MAP, INGRESS_PROGRAM},
    sample::SAMPLE_SNAPLEN_GLOBAL,
};
use aya::{
    Ebpf, EbpfLoader,
    programs::{Program, TestRun, TestRunOptions},
};

use crate::flow::EngineConfig;

/// The kernel object built by `build.rs`, embedded so the agent never loads
/// programs from a path at run time.
static KERNEL_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/flowwatch"));

/// The reference programs used by `cargo xtask bench` (see agent-ebpf/src/bench_reference.rs).
pub static BENCH_REFERENCE_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bench-reference"));

#[derive(Clone, Debug)]
pub struct CaptureConfig {
    pub interfaces: Vec<String>,
    pub map_entries: u32,
    pub xdp_mode: XdpModeChoice,
    /// `-w`: bytes of each packet the kernel copies to userspace
    /// ([`LiveCapture::take_sampler`]); 0 = no sampling, and no cost.
    pub sample_snaplen: u32,
    /// When programs stop writing into idle entries and the agent deletes
    /// them (`agent_common::freeze`); from the flow table's timeouts.
    pub freeze: FreezeAges,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            map_entries: DEFAULT_FLOW_MAP_ENTRIES,
            xdp_mode: XdpModeChoice::Auto,
            sample_snaplen: 0,
            freeze: EngineConfig::default().freeze_ages(),
        }
    }
}

/// Loaded and attached programs. Dropping it detaches everything (aya
/// releases the links), so every exit path — error, signal, `-c` — cleans up.
pub struct LiveCapture {
    // Field order matters for drop: the map handle goes before the object.
    flow_map: KernelFlowMap,
    attached: Vec<AttachedInterface>,
    sampler: Option<PacketSampler>,
    ebpf: Ebpf,
}

/// Kernel run statistics of one program (needs `kernel.bpf_stats_enabled=1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramStats {
    pub name: &'static str,
    pub run_time_ns: u64,
    pub run_count: u64,
}

impl ProgramStats {
    pub fn ns_per_run(&self) -> Option<f64> {
        (self.run_count > 0).then(|| self.run_time_ns as f64 / self.run_count as f64)
    }
}

fn program_stats(ebpf: &Ebpf, names: &[&'static str]) -> Vec<ProgramStats> {
    names
        .iter()
        .filter_map(|name| {
            let info = ebpf.program(name)?.info().ok()?;
            Some(ProgramStats { name, run_time_ns: info.run_time().as_nanos() as u64, run_count: info.run_count() })
        })
        .collect()
}

/// Mean nanoseconds per run of the loaded program `program` over `repeat`
/// runs on `frame`, through `BPF_PROG_TEST_RUN`. The same frame every run,
/// so its flow's map entry and value stay in the CPU's caches: what a
/// program costs without the cache misses a flood over many flows adds.
/// The kernel reports whole nanoseconds.
fn test_run_ns(ebpf: &Ebpf, program: &'static str, frame: &[u8], repeat: u32) -> Result<f64, CaptureError> {
    let opts = || TestRunOptions { data_in: Some(frame), repeat, ..TestRunOptions::new() };
    let result = match ebpf.program(program) {
        Some(Program::Xdp(xdp)) => xdp.test_run(opts()),
        Some(Program::SchedClassifier(classifier)) => classifier.test_run(opts()),
        _ => return Err(CaptureError::MissingProgram { program }),
    };
    let result = result.map_err(|source| CaptureError::TestRun { program, source })?;
    Ok(result.duration.as_nanos() as f64)
}

impl LiveCapture {
    pub fn start(config: &CaptureConfig) -> Result<Self, CaptureError> {
        privileges::check()?;
        privileges::check_kernel()?;
        // Resolve names before loading so a typo fails fast and clearly.
        let indexes = config
            .interfaces
            .iter()
            .map(|name| crate::iface::index_of(name).map(|index| (name.clone(), index)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CaptureError::Interface)?;
        let sampling = config.sample_snaplen > 0;
        let cpus = maps::possible_cpus()?;
        let possible_cpus = u32::try_from(cpus).unwrap_or(u32::MAX);
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(FLOWS_MAP, config.map_entries)
            // A load-time constant: with 0 the verifier removes the sampling code.
            .override_global(SAMPLE_SNAPLEN_GLOBAL, &config.sample_snaplen, true)
            .override_global(FREEZE_AFTER_GLOBAL, &config.freeze.freeze_after_ns, true)
            .override_global(POSSIBLE_CPUS_GLOBAL, &possible_cpus, true)
            .load(KERNEL_OBJECT)
            .map_err(CaptureError::Load)?;
        attach::load_programs(&mut ebpf)?;
        // Buffers open before anything is attached, so no early packet finds none.
        let sampler = if sampling {
            sampling::load_egress_sampler(&mut ebpf)?;
            Some(PacketSampler::open(&mut ebpf)?)
        } else {
            None
        };
        let mut attached = Vec::with_capacity(indexes.len());
        for (name, index) in indexes {
            attached.push(attach::attach_interface(&mut ebpf, &name, index, config.xdp_mode)?);
            if sampling {
                sampling::attach_egress_sampler(&mut ebpf, &name)?;
            }
        }
        let flow_map = KernelFlowMap::take(&mut ebpf, config.freeze, cpus)?;
        Ok(Self { flow_map, attached, sampler, ebpf })
    }

    /// The `-w` sample buffers, when `sample_snaplen` was set (once).
    pub fn take_sampler(&mut self) -> Option<PacketSampler> {
        self.sampler.take()
    }

    pub fn attached(&self) -> &[AttachedInterface] {
        &self.attached
    }

    pub fn flow_map(&mut self) -> &mut KernelFlowMap {
        &mut self.flow_map
    }

    /// Run time and count of the ingress and egress programs.
    pub fn program_stats(&self) -> Vec<ProgramStats> {
        program_stats(&self.ebpf, &[INGRESS_PROGRAM, EGRESS_PROGRAM])
    }

    /// [`INGRESS_PROGRAM`] or [`EGRESS_PROGRAM`] run `repeat` times on
    /// `frame` in the kernel's test harness: mean nanoseconds per run. The
    /// runs count into the program's statistics and `frame`'s flow into the map.
    pub fn test_run_ns(&self, program: &'static str, frame: &[u8], repeat: u32) -> Result<f64, CaptureError> {
        test_run_ns(&self.ebpf, program, frame, repeat)
    }
}
