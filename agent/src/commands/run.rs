//! `flowwatch run`: live capture until a signal, `-c` or `-t`.

use tracing::info;

use super::{
    live::{LiveOptions, capture_live},
    output::Output,
};
use crate::{capture::CaptureConfig, cli::RunArgs, clock::Clock, iface::default_route_interface};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let interfaces =
        if args.interfaces.is_empty() { vec![default_route_interface()?] } else { args.interfaces.clone() };
    let clock = Clock::monotonic();
    let mut output = Output::open(&args.flows.path, clock)?;
    let options = LiveOptions {
        capture: CaptureConfig { interfaces, map_entries: args.map_size, xdp_mode: args.xdp_mode },
        table: &args.table,
        limits: &args.limits,
        stats_interval: args.stats_interval,
    };
    let stats = capture_live(options, clock, &mut output).await?;
    info!(flows = stats.flows_emitted, packets = stats.flow_packets, unaccounted = stats.packets_unaccounted, "done");
    Ok(())
}
