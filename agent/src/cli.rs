//! Command-line arguments. This is the one place that knows defaults; each
//! command turns its arguments into the configuration of the parts it uses.

use std::{path::PathBuf, time::Duration};

use agent_common::{freeze::FreezeAges, names::DEFAULT_FLOW_MAP_ENTRIES};
use clap::{Args, Parser, Subcommand};

use crate::{
    capture::XdpModeChoice,
    dump::MAX_SNAPLEN,
    duration::{parse_duration, saturating_ns},
    enrich::GeoArgs,
    filter::FilterExpression,
    flow::EngineConfig,
    simulate::{self, InjectionKind, SimConfig},
    sink::{OutputPath, SinkArgs},
};

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
    /// Write a seeded, reproducible pcap of simulated LAN traffic, optionally with labelled anomalies (no root needed).
    ///
    /// Benign hosts browse the web (DNS first, then HTTP/HTTPS), use an intranet
    /// server, open SSH sessions and poll NTP, with heavy-tailed activity and
    /// lognormal sizes. --inject adds anomalies, each in its own window of the
    /// capture (beaconing spans it all); --labels writes their ground truth
    /// (kind,attacker,victim,start,end; the matching rule is that of
    /// `models::Labels`). The same arguments and seed give byte-identical output.
    #[command(after_long_help = simulate::ADDRESS_PLAN)]
    Simulate(SimulateArgs),
    /// Record a baseline: train the anomaly model and the rule detectors' baseline on
    /// benign traffic from captures or a live interface, and write a model file.
    ///
    /// Each capture is replayed on its own (its own flow table and time base). With -i,
    /// captures live until -c, -t or Ctrl-C (needs root).
    Train(TrainArgs),
    /// Measure a model against labelled captures: ROC-AUC, PR-AUC, TPR at FPR 1e-3
    /// and 1e-2, and recall per anomaly kind at the threshold (no root needed).
    ///
    /// Each capture is replayed and scored on its own; the report pools every flow
    /// and lists each capture. Labels: CSV kind,attacker,victim,start,end — a flow is
    /// malicious when it overlaps the time range and involves the attacker (or the
    /// victim when no attacker is named).
    Evaluate(EvaluateArgs),
    /// A terminal dashboard of flowwatch output: traffic graph, top conversations,
    /// events by kind and the newest events, kernel counters and losses.
    ///
    /// Reads the NDJSON that run and replay write (flow, event and stats lines) from
    /// a pipe or a file, so it never slows the capture:
    ///   flowwatch run -i eth0 --events - --stats-interval 1s | flowwatch top
    ///   flowwatch replay capture.pcap --events - | flowwatch top --snapshot
    /// A file is followed as it grows (and from the start again when rotated).
    /// Keys: q quit, p pause (reading goes on).
    Top(TopArgs),
}

impl Cli {
    /// What clap cannot check alone, reported as a usage error (exit status 2)
    /// before anything starts, so that a refused command line has not yet
    /// truncated `--flows` or `-w`: live capture (`run`, `train -i`) needs
    /// a filter a flow key decides and an idle timeout the kernel's freeze
    /// protocol allows ([`FlowTableArgs::check_live`]).
    pub fn check(&self) -> Result<(), clap::Error> {
        let refused = match &self.command {
            Command::Run(args) => args.table.check_live().err(),
            Command::Train(args) if args.files.is_empty() => {
                let filter = args.filter.as_ref().and_then(|filter| filter.check_live().err());
                filter.map(|err| err.to_string()).or_else(|| args.table.check_live().err())
            }
            _ => None,
        };
        match refused {
            Some(err) => {
                Err(<Self as clap::CommandFactory>::command().error(clap::error::ErrorKind::ValueValidation, err))
            }
            None => Ok(()),
        }
    }
}

/// Which interfaces to attach to and how; shared by every live command.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Interface to capture on; repeat for several. Default: the default route's interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,

    /// Flow-map slots in the kernel (per-CPU LRU hash); more flows than this evict the oldest.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FLOW_MAP_ENTRIES)]
    pub map_size: u32,

    /// XDP attach mode.
    #[arg(long, value_enum, default_value_t = XdpModeChoice::Auto)]
    pub xdp_mode: XdpModeChoice,
}

impl CaptureArgs {
    /// What to attach to; `interfaces` replaces the (possibly empty) `-i`
    /// list. The rest follows from other arguments: the sampling snaplen
    /// from `-w`, the freeze ages from the flow table's idle timeout.
    pub fn config(
        &self,
        interfaces: Vec<String>,
        sample_snaplen: u32,
        freeze: agent_common::freeze::FreezeAges,
    ) -> crate::capture::CaptureConfig {
        crate::capture::CaptureConfig {
            interfaces,
            map_entries: self.map_size,
            xdp_mode: self.xdp_mode,
            sample_snaplen,
            freeze,
        }
    }
}

/// Scoring, rule detection, enrichment and alerting; shared by `run` and `replay`.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Only write flow records: no scoring, rule detection, enrichment or alerts.
    #[arg(long, conflicts_with_all = ["model", "learn_flows"])]
    pub no_analysis: bool,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub geo: GeoArgs,

    #[command(flatten)]
    pub sinks: SinkArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Anomaly model")]
pub struct ModelArgs {
    /// Score every flow with this model (written by `flowwatch train`); flow records then carry
    /// `score` and `anomaly`, and flagged flows raise ml_outlier events.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Anomaly threshold as a quantile of the training flows' scores: 0.99 flags flows scoring
    /// above 99 % of the benign training traffic (about 1 % false positives on similar traffic)
    /// [default: the model's, set by `train -a`].
    #[arg(short = 'a', long = "threshold", value_name = "LEVEL")]
    pub threshold: Option<f64>,

    /// Without --model: learn a baseline from the first N flows, save it to --save-model, then
    /// score. 0 = rule detectors only [default: 10000 for `run`, 0 for `replay`].
    #[arg(long, value_name = "N")]
    pub learn_flows: Option<usize>,

    /// Where a learnt baseline is saved.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SAVED_MODEL)]
    pub save_model: PathBuf,
}

/// Where `run` saves a baseline it learnt (systemd's StateDirectory=flowwatch).
pub const DEFAULT_SAVED_MODEL: &str = "/var/lib/flowwatch/baseline.fwm";
/// Flows `run` learns from when started without a model: at a few hundred
/// flows per second on a busy host that is a few minutes of traffic, and
/// enough for the forest's 256-flow samples and the k-means clusters.
pub const DEFAULT_LEARN_FLOWS_LIVE: usize = 10_000;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Captures of benign traffic (pcap or pcapng); without any, capture live (-i).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub capture: CaptureArgs,

    /// The model file to write.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,

    /// Threshold stored in the model: flag flows scoring above this quantile of the training scores.
    #[arg(short = 'a', long = "threshold", value_name = "LEVEL", default_value_t = 0.99)]
    pub threshold: f64,

    /// Isolation Forest trees.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub trees: usize,

    /// Flows sampled per tree (ψ).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub subsample: usize,

    /// Seed of the forest's and k-means' random choices (same data + seed = same model).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Config file (its [detectors] table sets the windows the baseline is measured over).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Learn only from packets (captures) or flows (live) matching this tcpdump filter
    /// expression; live, only key primitives (see `run -f`).
    #[arg(short = 'f', long = "filter", value_name = "EXPR", value_parser = FilterExpression::parse)]
    pub filter: Option<FilterExpression>,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub table: FlowTableArgs,

    #[command(flatten)]
    pub geo: GeoArgs,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Labelled captures (pcap or pcapng).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The model to evaluate.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,

    /// Ground truth (CSV: kind,attacker,victim,start,end).
    #[arg(long, value_name = "PATH")]
    pub labels: PathBuf,

    /// Evaluate at this threshold instead of the model's.
    #[arg(short = 'a', long = "threshold", value_name = "LEVEL")]
    pub threshold: Option<f64>,

    /// Also write the report as JSON here (`-` for stdout, then the table goes to stderr).
    #[arg(long, value_name = "PATH")]
    pub json: Option<OutputPath>,

    #[command(flatten)]
    pub table: FlowTableArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,

    #[command(flatten)]
    pub flows: FlowOutputArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub table: FlowTableArgs,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Also write a stats line (counters, losses) this often; 0 = only at exit.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub stats_interval: Duration,

    /// Keep only flows matching this tcpdump filter expression. The kernel still counts every
    /// packet; a flow record is written when a packet of either direction, rebuilt from the flow
    /// key, matches. Only key primitives: host, net, port, portrange, proto names, vlan,
    /// src/dst, and/or/not.
    #[arg(short = 'f', long = "filter", value_name = "EXPR", value_parser = FilterExpression::parse_live)]
    pub filter: Option<FilterExpression>,

    #[command(flatten)]
    pub write: WriteArgs,
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

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Pace packets at capture speed instead of as fast as possible.
    #[arg(long)]
    pub realtime: bool,

    /// Replay only packets matching this tcpdump filter expression (run by libpcap on each
    /// packet, as `tcpdump -r FILE -w - EXPR | flowwatch replay -` would).
    #[arg(short = 'f', long = "filter", value_name = "EXPR", value_parser = FilterExpression::parse)]
    pub filter: Option<FilterExpression>,

    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// flowwatch output to read (flow, event and stats lines); `-` or none reads stdin.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Read FILE to its end and stop reading there instead of following it.
    #[arg(long)]
    pub no_follow: bool,

    /// Read all input, print one frame as plain text and exit (for reports, logs and terminals without a screen).
    #[arg(long)]
    pub snapshot: bool,

    /// Size of the --snapshot frame.
    #[arg(long, value_name = "COLSxROWS", default_value = "120x40", value_parser = parse_frame_size)]
    pub size: FrameSize,

    /// How much time the traffic graph spans.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub window: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSize {
    pub columns: u16,
    pub rows: u16,
}

fn parse_frame_size(input: &str) -> Result<FrameSize, String> {
    let invalid = || format!("invalid size {input:?}: use COLSxROWS, e.g. 120x40 (at least 60x20)");
    let (columns, rows) = input.split_once(['x', 'X']).ok_or_else(invalid)?;
    let size = FrameSize {
        columns: columns.trim().parse().map_err(|_| invalid())?,
        rows: rows.trim().parse().map_err(|_| invalid())?,
    };
    if size.columns < 60 || size.rows < 20 {
        return Err(invalid());
    }
    Ok(size)
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The capture to write (legacy pcap, Ethernet, microsecond timestamps).
    #[arg(long, value_name = "FILE.pcap")]
    pub out: PathBuf,

    /// Write the injections' ground truth here (CSV).
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,

    /// Seed of every random choice.
    #[arg(long, default_value_t = simulate::DEFAULT_SEED)]
    pub seed: u64,

    /// Capture length (seconds, or 90s / 10m / 1h).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,

    /// Benign hosts on the LAN (1 to 180).
    #[arg(long, value_name = "N", default_value_t = simulate::DEFAULT_HOSTS)]
    pub hosts: u16,

    /// Capture start: Unix seconds or RFC 3339.
    #[arg(long, value_name = "TIME", default_value = "2024-03-05T09:00:00Z", value_parser = parse_start)]
    pub start: u64,

    /// Anomalies to inject: all, or a comma-separated list of port_scan, host_sweep, syn_flood,
    /// exfiltration, beaconing, dns_tunnel, rare_country, rare_protocol.
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', value_parser = parse_injection)]
    pub inject: Vec<InjectArg>,

    /// Stop after this many packets (e.g. a fixed-size capture for a replay benchmark).
    #[arg(long, value_name = "N")]
    pub packets: Option<u64>,
}

/// `-w`: the packets seen (after `-f`) to a pcap file; shared by `run` and `replay`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Write the packets seen (after -f) to this pcap file (nanosecond timestamps), readable by
    /// tcpdump, tshark and tcpreplay.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write_file: Option<PathBuf>,

    /// Keep at most this many bytes of each packet in the -w file (the original length is kept).
    #[arg(long, value_name = "BYTES", default_value_t = MAX_SNAPLEN, requires = "write_file",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SNAPLEN)))]
    pub snaplen: u32,
}

/// One `--inject` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectArg {
    All,
    Kind(InjectionKind),
}

fn parse_injection(s: &str) -> Result<InjectArg, simulate::UnknownInjection> {
    match s.trim() {
        "all" => Ok(InjectArg::All),
        kind => kind.parse().map(InjectArg::Kind),
    }
}

/// Unix seconds (a bare integer) or RFC 3339, as nanoseconds since the epoch.
fn parse_start(s: &str) -> Result<u64, String> {
    let invalid =
        || format!("invalid start time {s:?}: use Unix seconds (1709629200) or RFC 3339 (2024-03-05T09:00:00Z)");
    if let Ok(seconds) = s.trim().parse::<u64>() {
        return seconds.checked_mul(1_000_000_000).ok_or_else(invalid);
    }
    let time =
        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).map_err(|_| invalid())?;
    u64::try_from(time.unix_timestamp_nanos()).map_err(|_| invalid())
}

impl SimulateArgs {
    pub fn config(&self) -> SimConfig {
        let injections = if self.inject.contains(&InjectArg::All) {
            InjectionKind::ALL.to_vec()
        } else {
            self.inject
                .iter()
                .filter_map(|arg| if let InjectArg::Kind(kind) = arg { Some(*kind) } else { None })
                .collect()
        };
        SimConfig {
            seed: self.seed,
            start_ns: self.start,
            duration: self.duration,
            hosts: self.hosts,
            injections,
            max_packets: self.packets,
        }
    }
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
    /// Live capture needs an idle timeout of at least the poll interval plus
    /// two seconds (`agent_common::freeze`): the kernel stops writing into
    /// an entry idle for the idle timeout, and the agent must delete it
    /// before the direction's next entry can go idle too.
    pub fn check_live(&self) -> Result<(), String> {
        let shortest = FreezeAges::min_idle_timeout_ns(saturating_ns(self.poll_interval));
        if saturating_ns(self.idle_timeout) >= shortest {
            return Ok(());
        }
        Err(format!(
            "--idle-timeout {:?} is too short for --poll-interval {:?}: live capture needs at least {:?} \
             (the poll interval plus 2s), so that idle flow entries can be deleted without losing a packet",
            self.idle_timeout,
            self.poll_interval,
            Duration::from_nanos(shortest)
        ))
    }

    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig { idle_timeout: self.idle_timeout, active_timeout: self.active_timeout }
    }

    /// Replay of whole captures as fast as possible with these timeouts.
    pub fn replay_config(&self) -> crate::replay::ReplayConfig {
        crate::replay::ReplayConfig {
            engine: self.engine_config(),
            poll_interval: self.poll_interval,
            max_packets: None,
            max_duration: None,
            realtime: false,
        }
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
        assert_eq!(args.capture.interfaces, vec!["eth0"]);
        assert_eq!(args.limits.count, Some(100));
        assert_eq!(args.limits.timeout, Some(Duration::from_secs(30)));
        assert_eq!(cli.verbose, 1);
        assert_eq!(args.table.engine_config(), EngineConfig::default());
        Ok(())
    }

    #[test]
    fn live_capture_refuses_an_idle_timeout_shorter_than_a_poll_plus_two_seconds() -> Result<(), clap::Error> {
        let table = |args: &[&str]| -> Result<FlowTableArgs, clap::Error> {
            let cli = Cli::try_parse_from(["flowwatch", "run"].iter().chain(args))?;
            let Command::Run(args) = cli.command else { panic!("parsed as another command") };
            Ok(args.table)
        };
        assert_eq!(table(&[])?.check_live(), Ok(()));
        assert_eq!(table(&["--poll-interval", "30s", "--idle-timeout", "32s"])?.check_live(), Ok(()));
        let refused = table(&["--poll-interval", "1s", "--idle-timeout", "2s"])?.check_live();
        assert!(refused.as_ref().is_err_and(|e| e.contains("at least 3s")), "{refused:?}");
        Ok(())
    }

    #[test]
    fn only_live_capture_is_refused_a_short_idle_timeout_before_it_starts() -> Result<(), clap::Error> {
        let check = |args: &[&str]| -> Result<bool, clap::Error> {
            Ok(Cli::try_parse_from(["flowwatch"].iter().chain(args))?.check().is_ok())
        };
        let short = ["--poll-interval", "1s", "--idle-timeout", "2s"];
        let with_short = |args: &[&'static str]| [args, &short].concat();
        assert!(!check(&with_short(&["run"]))?);
        assert!(!check(&with_short(&["train", "--model", "m.fwm", "-i", "lo"]))?);
        assert!(check(&with_short(&["train", "--model", "m.fwm", "a.pcap"]))?);
        assert!(check(&with_short(&["replay", "a.pcap"]))?);
        assert!(check(&["run", "--poll-interval", "1s", "--idle-timeout", "3s"])?);
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

    fn simulate_config(args: &[&str]) -> Result<SimConfig, clap::Error> {
        let cli = Cli::try_parse_from(["flowwatch", "simulate", "--out", "x.pcap"].iter().chain(args))?;
        let Command::Simulate(args) = cli.command else { panic!("parsed as another command") };
        Ok(args.config())
    }

    #[test]
    fn simulate_defaults_are_the_library_defaults() -> Result<(), clap::Error> {
        assert_eq!(simulate_config(&[])?, SimConfig::new(simulate::DEFAULT_SEED));
        Ok(())
    }

    #[test]
    fn simulate_flags_parse() -> Result<(), clap::Error> {
        let config = simulate_config(&[
            "--seed",
            "7",
            "--duration",
            "90s",
            "--hosts",
            "12",
            "--start",
            "1700000000",
            "--packets",
            "5",
            "--inject",
            "beaconing,port_scan",
            "--inject",
            "port_scan",
        ])?;
        assert_eq!((config.seed, config.duration, config.hosts), (7, Duration::from_secs(90), 12));
        assert_eq!((config.start_ns, config.max_packets), (1_700_000_000_000_000_000, Some(5)));
        assert_eq!(config.injections, [InjectionKind::Beaconing, InjectionKind::PortScan, InjectionKind::PortScan]);
        assert_eq!(simulate_config(&["--inject", "all"])?.injections, InjectionKind::ALL);
        assert_eq!(simulate_config(&["--start", "2024-03-05T09:00:01Z"])?.start_ns, 1_709_629_201_000_000_000);
        assert!(simulate_config(&["--inject", "scan"]).is_err());
        assert!(simulate_config(&["--start", "yesterday"]).is_err());
        Ok(())
    }
}
