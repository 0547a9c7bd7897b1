//! `flowwatch run`: live capture until a signal, `-c` or `-t`.

use agent_common::sample::MAX_LIVE_SNAPLEN;
use tracing::{info, warn};

use super::{
    analysis::build_analyzer,
    live::{LiveOptions, capture_live},
    output::Output,
};
use crate::{
    cli::{DEFAULT_LEARN_FLOWS_LIVE, RunArgs},
    clock::Clock,
    dump::PacketDump,
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
    let mut output = Output::open(&args.flows.path, clock, analyzer)?;
    let dump = match &args.write.write_file {
        Some(path) => Some(PacketDump::create(path, live_snaplen(args.write.snaplen))?),
        None => None,
    };
    let options = LiveOptions {
        capture: &args.capture,
        interfaces,
        table: &args.table,
        limits: &args.limits,
        stats_interval: args.stats_interval,
        filter: args.filter.as_ref(),
        dump,
    };
    let stats = capture_live(options, clock, &mut output).await?;
    info!(flows = stats.flows_emitted, packets = stats.flow_packets, unaccounted = stats.packets_unaccounted, "done");
    Ok(())
}

/// `--snaplen` as the kernel can sample it: at most [`MAX_LIVE_SNAPLEN`].
fn live_snaplen(requested: u32) -> u32 {
    if requested > MAX_LIVE_SNAPLEN && requested != crate::dump::MAX_SNAPLEN {
        warn!("--snaplen {requested} is more than live sampling can copy; using {MAX_LIVE_SNAPLEN}");
    }
    requested.min(MAX_LIVE_SNAPLEN)
}
