//! Drives the flow engine with capture time: polls every `poll_interval`
//! of capture time before the first packet past each poll, stops at the end
//! of input, `-c` or `-t`, and always flushes what was counted, also when an
//! input turns out truncated or corrupt.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use super::{ReplayError, map::ReplayFlowMap, reader::CaptureReader, reader::Packet};
use crate::{
    clock::Clock,
    duration::saturating_ns,
    flow::{EngineConfig, FlowEngine, PollOutput, StatsRecord},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    pub engine: EngineConfig,
    /// Capture time between engine polls.
    pub poll_interval: Duration,
    /// Stop after this many packets (all packets, as the hooks count them).
    pub max_packets: Option<u64>,
    /// Stop at this much capture time after the first packet.
    pub max_duration: Option<Duration>,
    /// Sleep so packets (and polls) happen at capture speed.
    pub realtime: bool,
}

/// Why a [`ReplaySink`] could not write.
pub type SinkFailure = Box<dyn std::error::Error + Send + Sync>;

/// Where replay output goes.
pub trait ReplaySink {
    /// Names the interface that packets with this `ifindex` came from.
    fn interface(&mut self, ifindex: u32, name: String);
    /// Records of one poll.
    fn poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkFailure>;
    fn stats(&mut self, stats: &StatsRecord) -> Result<(), SinkFailure>;
    /// Whether `packet` is replayed at all (`-f`); called before it counts
    /// anywhere, also towards capture time, `-c` and `-t`, as if the capture
    /// had been filtered by tcpdump first. Only a predicate: an admitted
    /// packet may still not be replayed (see [`Self::replayed`]).
    fn admit(&mut self, _packet: &Packet<'_>) -> Result<bool, SinkFailure> {
        Ok(true)
    }
    /// `packet` was counted in the flow table. Called only then: an admitted
    /// packet at or past `-t`, or one an interrupt stopped before it counted,
    /// never gets here, so whatever is kept per packet (`-w`) matches the counters.
    fn replayed(&mut self, _packet: &Packet<'_>) -> Result<(), SinkFailure> {
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    PacketCount,
    Duration,
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub stop: StopReason,
    /// Packets applied to the flow table.
    pub packets: u64,
    pub final_stats: StatsRecord,
}

/// Replays `inputs` in order as one capture (`-` is standard input). On an
/// input error the flows counted so far are still written, with a final
/// stats line, before the error is returned. `stop` ends the replay early
/// (signals), like the end of input.
pub fn replay(
    inputs: &[PathBuf],
    config: &ReplayConfig,
    stop: &AtomicBool,
    sink: &mut dyn ReplaySink,
) -> Result<Summary, ReplayError> {
    if config.poll_interval.is_zero() {
        return Err(ReplayError::ZeroPollInterval);
    }
    // Fail on a missing file before replaying the ones before it.
    for path in inputs.iter().filter(|p| p.as_os_str() != "-") {
        std::fs::metadata(path).map_err(|source| ReplayError::Open { input: path.display().to_string(), source })?;
    }
    let mut driver = Driver::new(config, stop);
    let (stop, failure) = match driver.run(inputs, sink) {
        Ok(stop) => (stop, None),
        Err(err) => (StopReason::EndOfInput, Some(err)),
    };
    let flushed = driver.finish(sink);
    match (failure, flushed) {
        (Some(err), _) => Err(err),
        (None, Err(err)) => Err(err),
        (None, Ok(final_stats)) => Ok(Summary { stop, packets: driver.packets, final_stats }),
    }
}

/// What to do after a packet.
enum Step {
    Continue,
    Stop(StopReason),
}

struct Driver<'a> {
    config: &'a ReplayConfig,
    stop: &'a AtomicBool,
    engine: FlowEngine,
    /// Each poll's records (the buffer is reused).
    out: PollOutput,
    map: ReplayFlowMap,
    poll_ns: u64,
    /// Capture time of the first packet, and when it was replayed (for pacing).
    start: Option<(u64, Instant)>,
    /// Capture time `-t` stops at (set with `start`).
    end_ns: Option<u64>,
    next_poll_ns: u64,
    latest_ns: u64,
    packets: u64,
}

impl<'a> Driver<'a> {
    fn new(config: &'a ReplayConfig, stop: &'a AtomicBool) -> Self {
        Self {
            config,
            stop,
            engine: FlowEngine::new(config.engine),
            out: PollOutput::default(),
            map: ReplayFlowMap::default(),
            poll_ns: saturating_ns(config.poll_interval).max(1),
            start: None,
            end_ns: None,
            next_poll_ns: 0,
            latest_ns: 0,
            packets: 0,
        }
    }

    fn run(&mut self, inputs: &[PathBuf], sink: &mut dyn ReplaySink) -> Result<StopReason, ReplayError> {
        if self.config.max_packets == Some(0) {
            return Ok(StopReason::PacketCount);
        }
        for path in inputs {
            let mut reader = CaptureReader::open(path)?;
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(StopReason::Interrupted);
                }
                let step = reader.next_packet(|packet| self.packet(packet, sink))?;
                // Interfaces described by the blocks just read; names are only
                // needed when records are written, which is after this.
                for (interface, name) in reader.take_new_interfaces() {
                    sink.interface(interface + 1, name);
                }
                match step {
                    None => break,
                    Some(step) => match step? {
                        Step::Continue => {}
                        Step::Stop(reason) => return Ok(reason),
                    },
                }
            }
        }
        Ok(StopReason::EndOfInput)
    }

    /// Polls for every poll time `packet` has passed, then counts it.
    fn packet(&mut self, packet: &Packet<'_>, sink: &mut dyn ReplaySink) -> Result<Step, ReplayError> {
        if !sink.admit(packet).map_err(ReplayError::Sink)? {
            return Ok(Step::Continue);
        }
        let ts = packet.timestamp_ns;
        if self.start.is_none() {
            self.start = Some((ts, Instant::now()));
            self.end_ns = self.config.max_duration.map(|limit| ts.saturating_add(saturating_ns(limit)));
            self.next_poll_ns = ts.saturating_add(self.poll_ns);
        }
        if let Some(end) = self.end_ns
            && ts >= end
        {
            self.latest_ns = self.latest_ns.max(end);
            return Ok(Step::Stop(StopReason::Duration));
        }
        // (`u64::MAX` is where a bogus far-future timestamp saturates: no more polls.)
        while ts >= self.next_poll_ns && self.next_poll_ns < u64::MAX {
            if !self.pace(self.next_poll_ns) {
                return Ok(Step::Stop(StopReason::Interrupted));
            }
            self.engine.poll(&mut self.map, self.next_poll_ns, &mut self.out)?;
            sink.poll(&self.out, &self.engine).map_err(ReplayError::Sink)?;
            self.next_poll_ns = self.next_poll_ns.saturating_add(self.poll_ns);
            if self.engine.active_flows() == 0 && ts >= self.next_poll_ns {
                // Nothing can time out during the rest of the gap: skip to
                // the first poll time after this packet.
                let skipped = (ts - self.next_poll_ns) / self.poll_ns + 1;
                self.next_poll_ns = self.next_poll_ns.saturating_add(skipped.saturating_mul(self.poll_ns));
            }
        }
        if !self.pace(ts) {
            return Ok(Step::Stop(StopReason::Interrupted));
        }
        self.map.record(packet);
        sink.replayed(packet).map_err(ReplayError::Sink)?;
        self.latest_ns = self.latest_ns.max(ts);
        self.packets += 1;
        if self.config.max_packets.is_some_and(|limit| self.packets >= limit) {
            return Ok(Step::Stop(StopReason::PacketCount));
        }
        Ok(Step::Continue)
    }

    /// With `--realtime`, sleeps until capture time `ts` is due; `false` if
    /// asked to stop meanwhile.
    fn pace(&self, ts: u64) -> bool {
        let Some((first_ns, started)) = self.start.filter(|_| self.config.realtime) else {
            return true;
        };
        let due = started + Duration::from_nanos(ts.saturating_sub(first_ns));
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            thread::sleep((due - now).min(Duration::from_millis(100)));
        }
    }

    /// Final drain at the last capture time, every flow written, and the final stats line.
    fn finish(&mut self, sink: &mut dyn ReplaySink) -> Result<StatsRecord, ReplayError> {
        let end_ns = self.latest_ns;
        self.engine.finish(&mut self.map, end_ns, &mut self.out)?;
        sink.poll(&self.out, &self.engine).map_err(ReplayError::Sink)?;
        let stats = self.engine.stats_record(Clock::epoch().format(end_ns), true);
        sink.stats(&stats).map_err(ReplayError::Sink)?;
        Ok(stats)
    }
}
