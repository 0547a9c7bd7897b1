//! `flowwatch run`: live capture until a signal, `-c` or `-t`.

use tracing::info;

use super::{
    analysis::build_analyzer,
    live::{LiveOptions, capture_live},
    output::Output,
    selection::LiveSelection,
};
use crate::{
    cli::{DEFAULT_LEARN_FLOWS_LIVE, RunArgs},
    clock::Clock,
    filter::FlowFilter,
    iface::default_route_interface,
};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let interfaces = if args.capture.interfaces.is_empty() {
        vec![default_route_interface()?]
    } else {
        args.capture.interfaces.clone()
    };
    let clock = Clock::monotonic();
    let analyzer = build_analyzer(args.analysis, clock, DEFAULT_LEARN_FLOWS_LIVE)?;
    let filter = args.filter.as_ref().map(FlowFilter::new).transpose()?;
    let mut output = LiveSelection::new(Output::open(&args.flows.path, clock, analyzer)?, filter);
    let options = LiveOptions {
        capture: args.capture.config(interfaces),
        table: &args.table,
        limits: &args.limits,
        stats_interval: args.stats_interval,
    };
    let stats = capture_live(options, clock, &mut output).await?;
    info!(flows = stats.flows_emitted, packets = stats.flow_packets, unaccounted = stats.packets_unaccounted, "done");
    Ok(())
}
