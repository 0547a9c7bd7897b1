//! Command-line arguments. This is the one place that knows defaults; each
//! command turns its arguments into the configuration of the parts it uses.

use std::{path::PathBuf, time::Duration};

use agent_common::names::DEFAULT_FLOW_MAP_ENTRIES;
use clap::{Args, Parser, Subcommand};

use crate::{capture::XdpModeChoice, duration::parse_duration, flow::EngineConfig, sink::OutputPath};

#[derive(Debug, Parser)]
#[command(name = "flowwatch", version, about = "Kernel-assisted network flow capture and anomaly detection")]
pub struct Cli {
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture flows live on one or more interfaces (needs root).
    Run(RunArgs),
    /// Replay pcap/pcapng files through the same parser and flow engine, on capture time (no root needed).
    ///
    /// Packets count as ingress on ifindex = interface number + 1. -c stops after
    /// exactly N packets; -t after that much capture time from the first packet.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Interface to capture on; repeat for several. Default: the default route's interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,

    #[command(flatten)]
    pub flows: FlowOutputArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub table: FlowTableArgs,

    /// Flow-map slots in the kernel (per-CPU LRU hash); more flows than this evict the oldest.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FLOW_MAP_ENTRIES)]
    pub map_size: u32,

    /// XDP attach mode.
    #[arg(long, value_enum, default_value_t = XdpModeChoice::Auto)]
    pub xdp_mode: XdpModeChoice,

    /// Also write a stats line (counters, losses) this often; 0 = only at exit.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub stats_interval: Duration,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng), replayed in order as one capture; `-` reads stdin.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub flows: FlowOutputArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub table: FlowTableArgs,

    /// Pace packets at capture speed instead of as fast as possible.
    #[arg(long)]
    pub realtime: bool,
}

/// Where flow records go; shared by every command that produces flows.
#[derive(Debug, Args)]
pub struct FlowOutputArgs {
    /// Flow records as NDJSON to this file, `-` for stdout.
    #[arg(long = "flows", value_name = "PATH", default_value = "-")]
    pub path: OutputPath,
}

/// When to stop; shared by every command that reads packets.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Stop after this many packets (checked at every poll).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long (seconds, or 250ms / 30s / 5m).
    #[arg(short = 't', long = "timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// Flow-table timeouts; shared by live capture and replay.
#[derive(Debug, Args)]
pub struct FlowTableArgs {
    /// How often the flow map is drained (live: wall time; replay: capture time).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// A flow with no packets for this long ends.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// A longer-running flow gets an interim record this often.
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pub active_timeout: Duration,
}

impl FlowTableArgs {
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig { idle_timeout: self.idle_timeout, active_timeout: self.active_timeout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_tool_flags_parse() -> Result<(), clap::Error> {
        let cli =
            Cli::try_parse_from(["flowwatch", "run", "-i", "eth0", "-c", "100", "-t", "30", "-v", "--flows", "-"])?;
        let Command::Run(args) = cli.command else { panic!("parsed as another command") };
        assert_eq!(args.interfaces, vec!["eth0"]);
        assert_eq!(args.limits.count, Some(100));
        assert_eq!(args.limits.timeout, Some(Duration::from_secs(30)));
        assert_eq!(cli.verbose, 1);
        assert_eq!(args.table.engine_config(), EngineConfig::default());
        Ok(())
    }

    #[test]
    fn replay_flags_parse() -> Result<(), clap::Error> {
        let cli = Cli::try_parse_from(["flowwatch", "replay", "a.pcap", "-", "--idle-timeout", "5s", "-c", "3"])?;
        let Command::Replay(args) = cli.command else { panic!("parsed as another command") };
        assert_eq!(args.files, vec![std::path::PathBuf::from("a.pcap"), std::path::PathBuf::from("-")]);
        assert_eq!(args.table.idle_timeout, Duration::from_secs(5));
        assert_eq!(
            (args.limits.count, args.table.poll_interval, args.realtime),
            (Some(3), Duration::from_secs(1), false)
        );
        assert!(Cli::try_parse_from(["flowwatch", "replay"]).is_err());
        Ok(())
    }
}
