//! Reading the kernel maps: the per-CPU flow map and the hook counters.

use agent_common::{
    counters::{Hook, HookCounters},
    flow::{FlowKey, FlowStats},
    names::{COUNTERS_MAP, FLOWS_MAP},
};
use aya::{
    Ebpf,
    maps::{MapData, MapError, PerCpuArray, PerCpuHashMap},
};

use super::CaptureError;
use crate::flow::{FlowMapSource, SourceError};

pub struct KernelFlowMap {
    flows: PerCpuHashMap<MapData, FlowKey, FlowStats>,
    counters: PerCpuArray<MapData, HookCounters>,
}

fn source_error(context: &'static str, err: MapError) -> SourceError {
    SourceError { context, message: err.to_string() }
}

/// Folds the per-CPU values of one entry into one.
pub fn merge_cpus<'a>(values: impl IntoIterator<Item = &'a FlowStats>) -> FlowStats {
    let mut merged = FlowStats::default();
    for value in values {
        merged.merge(value);
    }
    merged
}

impl KernelFlowMap {
    pub fn take(ebpf: &mut Ebpf) -> Result<Self, CaptureError> {
        let flows = ebpf.take_map(FLOWS_MAP).ok_or(CaptureError::MissingMap { map: FLOWS_MAP })?;
        let counters = ebpf.take_map(COUNTERS_MAP).ok_or(CaptureError::MissingMap { map: COUNTERS_MAP })?;
        Ok(Self {
            flows: PerCpuHashMap::try_from(flows).map_err(|source| CaptureError::Map { map: FLOWS_MAP, source })?,
            counters: PerCpuArray::try_from(counters)
                .map_err(|source| CaptureError::Map { map: COUNTERS_MAP, source })?,
        })
    }

    /// Writes an entry directly, as if CPU 0 had counted it (used by the
    /// drain benchmark to fill the map without traffic).
    pub fn insert(&mut self, key: &FlowKey, stats: FlowStats) -> Result<(), SourceError> {
        let cpus = aya::util::nr_cpus().map_err(|(context, e)| SourceError { context, message: e.to_string() })?;
        let mut per_cpu = vec![FlowStats::default(); cpus];
        per_cpu[0] = stats;
        let values = aya::maps::PerCpuValues::try_from(per_cpu).map_err(|e| SourceError {
            context: "building per-CPU values",
            message: e.to_string(),
        })?;
        self.flows.insert(key, values, 0).map_err(|e| source_error("inserting into the flow map", e))
    }
}

impl FlowMapSource for KernelFlowMap {
    fn snapshot(&mut self, out: &mut Vec<(FlowKey, FlowStats)>) -> Result<(), SourceError> {
        out.clear();
        for entry in self.flows.iter() {
            match entry {
                Ok((key, per_cpu)) => out.push((key, merge_cpus(per_cpu.iter()))),
                // The entry was deleted (LRU eviction) between listing its key
                // and reading it: the delta tracker will count it as evicted.
                Err(MapError::KeyNotFound) => continue,
                Err(err) => return Err(source_error("reading the flow map", err)),
            }
        }
        Ok(())
    }

    fn remove_if_unchanged(&mut self, key: &FlowKey, seen_packets: u64) -> Result<bool, SourceError> {
        let current = match self.flows.get(key, 0) {
            Ok(per_cpu) => merge_cpus(per_cpu.iter()),
            Err(MapError::KeyNotFound) => return Ok(true),
            Err(err) => return Err(source_error("reading a flow before deleting it", err)),
        };
        if current.packets != seen_packets {
            return Ok(false);
        }
        match self.flows.remove(key) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(true),
            Err(err) => Err(source_error("deleting an idle flow", err)),
        }
    }

    fn hook_counters(&mut self) -> Result<[HookCounters; 2], SourceError> {
        let mut totals = [HookCounters::default(); 2];
        for hook in Hook::ALL {
            let per_cpu = self.counters.get(&hook.index(), 0).map_err(|e| source_error("reading hook counters", e))?;
            for value in per_cpu.iter() {
                totals[hook.index() as usize].accumulate(value);
            }
        }
        Ok(totals)
    }
}
