//! `flowwatch run`: live capture until a signal, `-c` or `-t`.

use anyhow::Context as _;
use tokio::{
    signal::unix::{SignalKind, signal},
    time::{Instant, MissedTickBehavior, interval, sleep_until},
};
use tracing::info;

use super::output::Output;
use crate::{
    capture::{CaptureConfig, LiveCapture},
    cli::RunArgs,
    clock::Clock,
    flow::FlowEngine,
    iface::default_route_interface,
};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let interfaces =
        if args.interfaces.is_empty() { vec![default_route_interface()?] } else { args.interfaces.clone() };
    let config = CaptureConfig { interfaces, map_entries: args.map_size, xdp_mode: args.xdp_mode };
    let mut capture = LiveCapture::start(&config)?;
    for iface in capture.attached() {
        info!("capturing on {} (ifindex {}, XDP {} mode ingress, TC egress)", iface.name, iface.index, iface.xdp_mode);
    }

    let clock = Clock::monotonic();
    let mut output = Output::open(&args.flows.path, clock)?;
    let mut engine = FlowEngine::new(args.table.engine_config());

    let mut ticker = interval(args.table.poll_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats_ticker = (!args.stats_interval.is_zero()).then(|| interval(args.stats_interval));
    let deadline = args.limits.timeout.map(|t| Instant::now() + t);
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    let stop_reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let out = engine.poll(capture.flow_map(), clock.now_source_ns())?;
                output.write_poll(&out, &engine)?;
                if let Some(limit) = args.limits.count && engine.hook_packets() >= limit {
                    break format!("packet count {limit} reached");
                }
            }
            _ = async { stats_ticker.as_mut().expect("guarded").tick().await }, if stats_ticker.is_some() => {
                output.write_stats(&engine.stats_record(clock.format(clock.now_source_ns()), false))?;
            }
            _ = async { sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                break "timeout reached".to_owned();
            }
            _ = sigterm.recv() => break "SIGTERM".to_owned(),
            _ = sigint.recv() => break "SIGINT".to_owned(),
        }
    };
    info!("stopping: {stop_reason}; flushing flows");
    let out = engine.finish(capture.flow_map(), clock.now_source_ns())?;
    output.write_poll(&out, &engine)?;
    let stats = engine.stats_record(clock.format(clock.now_source_ns()), true);
    output.write_stats(&stats)?;
    info!(flows = stats.flows_emitted, packets = stats.flow_packets, unaccounted = stats.packets_unaccounted, "done");
    Ok(())
}
