//! Reading the kernel maps: the per-CPU flow map and the hook counters.

use agent_common::{
    counters::{Hook, HookCounters},
    flow::{FlowKey, FlowStats},
    freeze::FreezeAges,
    names::{COUNTERS_MAP, FLOWS_MAP},
};
use std::os::fd::{AsFd, OwnedFd};

use aya::{
    Ebpf,
    maps::{Map, MapData, MapError, PerCpuArray, PerCpuHashMap},
};

use super::{
    CaptureError,
    syscall::{BatchReader, delete_batch},
};
use crate::flow::{FlowMapSource, SnapshotScope, SourceError};

pub struct KernelFlowMap {
    flows: PerCpuHashMap<MapData, FlowKey, FlowStats>,
    /// The same map, for the batch calls aya lacks.
    flows_fd: OwnedFd,
    counters: PerCpuArray<MapData, HookCounters>,
    reader: BatchReader,
    cpus: usize,
    /// The freeze protocol's ages the programs were loaded with.
    ages: FreezeAges,
}

pub(super) fn possible_cpus() -> Result<usize, CaptureError> {
    aya::util::nr_cpus().map_err(|(context, e)| CaptureError::KernelUnsupported { detail: format!("{context}: {e}") })
}

fn source_error(context: &'static str, err: MapError) -> SourceError {
    SourceError { context, message: err.to_string() }
}

/// Folds the per-CPU values of one entry into one.
fn merge_cpus<'a>(values: impl IntoIterator<Item = &'a FlowStats>) -> FlowStats {
    let mut merged = FlowStats::default();
    for value in values {
        merged.merge(value);
    }
    merged
}

impl KernelFlowMap {
    /// The maps of programs loaded with these freeze ages, on a machine
    /// with `cpus` possible CPUs ([`possible_cpus`]).
    pub fn take(ebpf: &mut Ebpf, ages: FreezeAges, cpus: usize) -> Result<Self, CaptureError> {
        let flows = ebpf.take_map(FLOWS_MAP).ok_or(CaptureError::MissingMap { map: FLOWS_MAP })?;
        let counters = ebpf.take_map(COUNTERS_MAP).ok_or(CaptureError::MissingMap { map: COUNTERS_MAP })?;
        let Map::PerCpuLruHashMap(data) = &flows else {
            return Err(CaptureError::MissingMap { map: FLOWS_MAP });
        };
        let flows_fd = data.fd().as_fd().try_clone_to_owned().map_err(|e| CaptureError::KernelUnsupported {
            detail: format!("duplicating the flow map descriptor: {e}"),
        })?;
        Ok(Self {
            flows: PerCpuHashMap::try_from(flows).map_err(|source| CaptureError::Map { map: FLOWS_MAP, source })?,
            flows_fd,
            counters: PerCpuArray::try_from(counters)
                .map_err(|source| CaptureError::Map { map: COUNTERS_MAP, source })?,
            reader: BatchReader::new(cpus),
            cpus,
            ages,
        })
    }

    /// Writes an entry directly, as if CPU 0 had counted it (used by the
    /// drain benchmark to fill the map without traffic).
    pub fn insert(&mut self, key: &FlowKey, stats: FlowStats) -> Result<(), SourceError> {
        let mut per_cpu = vec![FlowStats::default(); self.cpus];
        per_cpu[0] = stats;
        let values = aya::maps::PerCpuValues::try_from(per_cpu)
            .map_err(|e| SourceError { context: "building per-CPU values", message: e.to_string() })?;
        self.flows.insert(key, values, 0).map_err(|e| source_error("inserting into the flow map", e))
    }
}

impl FlowMapSource for KernelFlowMap {
    fn snapshot(&mut self, out: &mut Vec<(FlowKey, FlowStats)>) -> Result<(), SourceError> {
        out.clear();
        self.reader
            .read_all(self.flows_fd.as_fd(), |key, per_cpu| out.push((key, merge_cpus(per_cpu))))
            .map_err(|e| SourceError { context: "reading the flow map (batch)", message: e.to_string() })
    }

    fn snapshot_scope(&self) -> SnapshotScope {
        SnapshotScope::AllEntries { ages: self.ages }
    }

    fn retire(&mut self, keys: &[FlowKey]) -> Result<(), SourceError> {
        delete_batch(self.flows_fd.as_fd(), keys)
            .map_err(|e| SourceError { context: "deleting idle flow entries (batch)", message: e.to_string() })
    }

    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError> {
        let mut totals = [HookCounters::default(); 2];
        for hook in Hook::ALL {
            let per_cpu = self.counters.get(&hook.index(), 0).map_err(|e| source_error("reading hook counters", e))?;
            totals[hook.index() as usize] = HookCounters::total(per_cpu.iter());
        }
        Ok(totals)
    }
}
