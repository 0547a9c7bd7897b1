//! The live capture loop shared by `run` and `train -i`: attach, poll the
//! kernel map every poll interval, hand each poll's records to a consumer,
//! stop on a signal, `-c` or `-t`, and flush every open flow on the way out.

use std::time::Duration;

use anyhow::Context as _;
use tokio::{
    signal::unix::{SignalKind, signal},
    time::{Instant, MissedTickBehavior, interval, sleep_until},
};
use tracing::info;

use super::selection::LiveDump;
use crate::{
    capture::LiveCapture,
    cli::{CaptureArgs, FlowTableArgs, LimitArgs},
    clock::Clock,
    dump::PacketDump,
    filter::{FilterExpression, FlowFilter, PacketFilter},
    flow::{FlowEngine, PollOutput, StatsRecord},
    replay::{ReplaySink, SinkFailure},
};

pub(crate) struct LiveOptions<'a> {
    /// What to attach to (`interfaces` replaces its `-i` list); the
    /// capture's sampling snaplen and freeze ages follow from `dump` and `table`.
    pub capture: &'a CaptureArgs,
    pub interfaces: Vec<String>,
    /// Its idle timeout was checked against the poll interval by `Cli::check`
    /// before any output file was opened.
    pub table: &'a FlowTableArgs,
    pub limits: &'a LimitArgs,
    /// Also hand out a stats record this often; zero = only at exit.
    pub stats_interval: Duration,
    /// `-f`: only the flow records it keeps reach the consumer.
    pub filter: Option<&'a FilterExpression>,
    /// `-w`: where the kernel's packet samples go; its snaplen is the
    /// kernel's sampling snaplen.
    pub dump: Option<PacketDump>,
}

/// Captures until a stop condition and returns the final stats record.
/// `consumer` gets each poll's records (times are `CLOCK_MONOTONIC`; the
/// returned [`Clock`] converts them) and every stats record.
pub(crate) async fn capture_live(
    options: LiveOptions<'_>,
    clock: Clock,
    consumer: &mut dyn ReplaySink,
) -> anyhow::Result<StatsRecord> {
    // Before "capturing on" is logged: a signal right after it must find the
    // handlers (tests and supervisors send SIGTERM as soon as they see it).
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut filter = options.filter.map(FlowFilter::new).transpose()?;
    let engine_config = options.table.engine_config();
    let capture_config = options.capture.config(
        options.interfaces,
        // One snaplen: the kernel copies what the file keeps, and samples only with -w.
        options.dump.as_ref().map_or(0, PacketDump::snaplen),
        // The kernel stops writing into an entry at the flow table's idle timeout.
        engine_config.freeze_ages(),
    );
    let mut capture = LiveCapture::start(&capture_config)?;
    let mut dump = match options.dump {
        Some(file) => {
            // Only a zero snaplen, which `-w`'s parser refuses, opens no sampler.
            let sampler = capture.take_sampler().context("-w with a zero snaplen (a bug: please report it)")?;
            let filter = options.filter.map(PacketFilter::new).transpose()?;
            Some(LiveDump::new(file, filter, sampler, clock))
        }
        None => None,
    };
    for iface in capture.attached() {
        info!("capturing on {} (ifindex {}, XDP {} mode ingress, TC egress)", iface.name, iface.index, iface.xdp_mode);
        consumer.interface(iface.index, iface.name.clone());
    }
    let mut engine = FlowEngine::new(engine_config);
    let mut out = PollOutput::default();
    let mut ticker = interval(options.table.poll_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats_ticker = (!options.stats_interval.is_zero()).then(|| interval(options.stats_interval));
    let deadline = options.limits.timeout.map(|t| Instant::now() + t);
    let sink_failed = |err: SinkFailure| anyhow::anyhow!(err).context("writing output failed");

    let stop_reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                engine.poll(capture.flow_map(), clock.now_source_ns(), &mut out)?;
                select(filter.as_mut(), &mut out);
                consumer.poll(&out, &engine).map_err(sink_failed)?;
                if let Some(dump) = &mut dump {
                    dump.flush().map_err(sink_failed)?;
                }
                if let Some(limit) = options.limits.count && engine.hook_packets() >= limit {
                    break format!("packet count {limit} reached");
                }
            }
            _ = async { stats_ticker.as_mut().expect("guarded").tick().await }, if stats_ticker.is_some() => {
                let stats = stats_record(&engine, clock, false, dump.as_ref(), filter.as_ref()).map_err(sink_failed)?;
                consumer.stats(&stats).map_err(sink_failed)?;
            }
            // -w: samples from the kernel, written as they come.
            _ = async {
                match dump.as_mut() {
                    Some(dump) => dump.readable().await,
                    None => std::future::pending().await,
                }
            }, if dump.is_some() => {
                if let Some(dump) = &mut dump {
                    dump.drain().map_err(sink_failed)?;
                }
            }
            _ = async { sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                break "timeout reached".to_owned();
            }
            _ = sigterm.recv() => break "SIGTERM".to_owned(),
            _ = sigint.recv() => break "SIGINT".to_owned(),
        }
    };
    info!("stopping: {stop_reason}; flushing flows");
    engine.finish(capture.flow_map(), clock.now_source_ns(), &mut out)?;
    if let Some(dump) = &mut dump {
        // Right after the final read, so the file ends where the counters
        // do: it holds every packet they counted, and not the packets that
        // arrive while the final records go to the consumer (the programs
        // are still attached until `capture` drops).
        dump.finish().map_err(sink_failed)?;
    }
    select(filter.as_mut(), &mut out);
    consumer.poll(&out, &engine).map_err(sink_failed)?;
    let stats = stats_record(&engine, clock, true, dump.as_ref(), filter.as_ref()).map_err(sink_failed)?;
    consumer.stats(&stats).map_err(sink_failed)?;
    Ok(stats)
}

/// The engine's stats record as of now, with the `-w` and `-f` counts.
fn stats_record(
    engine: &FlowEngine,
    clock: Clock,
    is_final: bool,
    dump: Option<&LiveDump>,
    filter: Option<&FlowFilter>,
) -> Result<StatsRecord, SinkFailure> {
    let mut stats = engine.stats_record(clock.format(clock.now_source_ns()), is_final);
    stats.write = dump.map(LiveDump::stats).transpose()?;
    stats.filter = filter.map(|filter| filter.stats().clone());
    Ok(stats)
}

/// `-f`: drops the records the filter rejects; the kernel counters, already
/// read, still hold their packets.
fn select(filter: Option<&mut FlowFilter>, out: &mut PollOutput) {
    if let Some(filter) = filter {
        out.records.retain(|record| filter.keep(record));
    }
}
