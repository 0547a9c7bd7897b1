//! `flowwatch replay FILE...`: pcap/pcapng through the live parser and flow
//! engine, on capture time, until the end of input, `-c`, `-t` or a signal.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

use super::{analysis::build_analyzer, output::Output, selection::ReplaySelection};
use crate::{
    cli::ReplayArgs,
    clock::Clock,
    dump::PacketDump,
    filter::PacketFilter,
    replay::{ReplayConfig, StopReason, replay},
};

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let config = ReplayConfig {
        max_packets: args.limits.count,
        max_duration: args.limits.timeout,
        realtime: args.realtime,
        ..args.table.replay_config()
    };
    let clock = Clock::epoch();
    let analyzer = build_analyzer(args.analysis, clock, 0)?;
    let filter = args.filter.as_ref().map(PacketFilter::new).transpose()?;
    let dump = args.write.write_file.as_deref().map(|path| PacketDump::create(path, args.write.snaplen)).transpose()?;
    let mut output = ReplaySelection::new(Output::open(&args.flows.path, clock, analyzer)?, filter, dump);
    let stop = Arc::new(AtomicBool::new(false));
    let files = args.files;
    info!("replaying {} input(s)", files.len());
    let mut worker = tokio::task::spawn_blocking({
        let stop = Arc::clone(&stop);
        move || replay(&files, &config, &stop, &mut output)
    });
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let result = loop {
        tokio::select! {
            result = &mut worker => break result.context("the replay thread panicked")?,
            _ = sigterm.recv() => stop.store(true, Ordering::Relaxed),
            _ = sigint.recv() => stop.store(true, Ordering::Relaxed),
        }
    };
    let summary = result?;
    let stop_reason = match summary.stop {
        StopReason::EndOfInput => "end of input",
        StopReason::PacketCount => "packet count reached",
        StopReason::Duration => "capture duration reached",
        StopReason::Interrupted => "interrupted",
    };
    info!(
        flows = summary.final_stats.flows_emitted,
        packets = summary.packets,
        unaccounted = summary.final_stats.packets_unaccounted,
        "done: {stop_reason}"
    );
    Ok(())
}
