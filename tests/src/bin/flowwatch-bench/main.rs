//! `flowwatch-bench`: the measurements behind `cargo xtask bench`. Each
//! section prints rows into one table; nothing here asserts timings (tests
//! never do), it measures and reports, with the target next to each figure.
//! The kernel and drain sections need root (they create their own network
//! namespaces and load eBPF); records, replay and models do not.

mod cpu_time;
mod drain;
mod egress_flood;
mod hot_path;
mod kernel;
mod models;
mod records;
mod replay;
mod report;
mod trafgen;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use report::Report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Section {
    Kernel,
    Drain,
    Models,
    /// Root-free: flow records → NDJSON.
    Records,
    /// Root-free: replay of a large capture against tshark and tcpdump.
    Replay,
}

#[derive(Debug, Parser)]
#[command(about = "flowwatch benchmarks (run through `cargo xtask bench`)")]
struct Args {
    /// Sections to run (default: all).
    #[arg(long, value_enum)]
    only: Vec<Section>,
    /// Packets per XDP program in the kernel section, over all rounds (each
    /// TC program gets a quarter as many).
    #[arg(long, default_value_t = 4_000_000)]
    packets: u64,
    /// Rounds the kernel section's floods are split into; each flowwatch
    /// ratio is the median of the rounds' ratios (the default is odd, so
    /// that median is one round's).
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Distinct UDP flows in the kernel section's flood.
    #[arg(long, default_value_t = 10_000)]
    flows: u32,
    /// Slots of every per-CPU LRU map in the kernel section: flowwatch's flow
    /// map and the reference programs' maps alike.
    #[arg(long, default_value_t = agent_common::names::DEFAULT_FLOW_MAP_ENTRIES)]
    kernel_map_entries: u32,
    /// Flows in the drain section.
    #[arg(long, default_value_t = 100_000)]
    drain_flows: u32,
    /// Benign flows the models section trains on (it tests on half as many, plus attacks).
    #[arg(long, default_value_t = 100_000)]
    model_flows: usize,
    /// Forests per side in the models section's comparison with scikit-learn
    /// (each scikit-learn forest takes about 1.5 s to fit and score).
    #[arg(long, default_value_t = 30)]
    sklearn_seeds: u64,
    /// Records in the records section.
    #[arg(long, default_value_t = 2_000_000)]
    records: u32,
    /// Rounds of all shared captures in the replay section's capture (56 make about 5 million packets).
    #[arg(long, default_value_t = 56)]
    replay_rounds: usize,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let wants = |s: Section| args.only.is_empty() || args.only.contains(&s);
    let needs_root = [Section::Kernel, Section::Drain].into_iter().any(wants);
    if needs_root && !integration_tests::root::require_root() {
        anyhow::bail!("the kernel and drain sections need root (they create namespaces and load eBPF)");
    }
    let mut report = Report::default();
    if wants(Section::Kernel) {
        kernel::run(
            &mut report,
            kernel::FloodPlan { packets: args.packets, rounds: args.rounds, flows: args.flows },
            args.kernel_map_entries,
        )?;
    }
    if wants(Section::Drain) {
        drain::run(&mut report, args.drain_flows)?;
    }
    if wants(Section::Models) {
        models::run(&mut report, args.model_flows, args.sklearn_seeds)?;
    }
    if wants(Section::Records) {
        records::run(&mut report, args.records)?;
    }
    if wants(Section::Replay) {
        replay::run(&mut report, args.replay_rounds)?;
    }
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report.rows)?)?;
    }
    Ok(())
}
