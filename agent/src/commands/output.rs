//! Writing flow records, shared by every command that produces flows: each
//! poll's records go through the analysis stage (scores, events) and out as
//! NDJSON; the analysis summary comes just before the final stats line.

use models::FlowObservation;
use tracing::warn;

use crate::{
    analysis::Analyzer,
    clock::Clock,
    flow::{FlowEngine, FlowRecord, PollOutput, RecordContext, StatsRecord},
    iface::InterfaceNames,
    replay::{ReplaySink, SinkFailure},
    sink::{NdjsonWriter, OutputPath, SinkError},
};

/// Writes one poll's records and remembers the loss it has already warned about.
pub(crate) struct Output {
    writer: NdjsonWriter,
    pub(crate) context: RecordContext,
    analyzer: Option<Analyzer>,
    warned_evicted: u64,
}

impl Output {
    /// Records go to `path`; `clock` turns the source's timestamps into wall time.
    pub(crate) fn open(path: &OutputPath, clock: Clock, analyzer: Option<Analyzer>) -> Result<Self, SinkError> {
        Ok(Self {
            writer: NdjsonWriter::open(path)?,
            context: RecordContext::new(clock, InterfaceNames::default()),
            analyzer,
            warned_evicted: 0,
        })
    }

    /// One poll's records (scored and checked by the analysis stage),
    /// flushed, and a warning if the map lost flows since the last one.
    pub(crate) fn write_poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkFailure> {
        for expired in &out.records {
            let Some(analyzer) = &mut self.analyzer else {
                let record = FlowRecord::new(expired, &mut self.context);
                self.writer.write_flow(&record)?;
                continue;
            };
            let observation = FlowObservation::from(expired);
            let score = analyzer.flow(&observation)?;
            let mut record = FlowRecord::observed(expired, &observation, &mut self.context);
            if let Some(score) = score {
                record.score = Some(score.score);
                record.anomaly = Some(score.anomaly);
            }
            analyzer.export(&record);
            self.writer.write_flow(&record)?;
        }
        if let Some(analyzer) = &mut self.analyzer {
            analyzer.advance(out.now_ns);
        }
        self.writer.flush()?;
        self.warn_on_loss(engine);
        Ok(())
    }

    /// A stats line. Before the final one, the analysis ends (events the
    /// detectors still hold, queued alerts drained) and its summary line is
    /// written, so the final stats line stays the last line of the output.
    pub(crate) fn write_stats(&mut self, stats: &StatsRecord) -> Result<(), SinkError> {
        if stats.is_final
            && let Some(analyzer) = self.analyzer.take()
        {
            self.writer.write(&analyzer.finish())?;
        }
        self.writer.write(stats)?;
        self.writer.flush()
    }

    fn warn_on_loss(&mut self, engine: &FlowEngine) {
        let evicted = engine.accounting().flows_evicted;
        if evicted > self.warned_evicted {
            warn!(
                evicted = evicted - self.warned_evicted,
                "flows were evicted from the kernel map before they were drained; \
                 raise --map-size or lower --poll-interval"
            );
            self.warned_evicted = evicted;
        }
    }
}

impl ReplaySink for Output {
    fn interface(&mut self, ifindex: u32, name: String) {
        self.context.names.insert(ifindex, name);
    }

    fn poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkFailure> {
        self.write_poll(out, engine)
    }

    fn stats(&mut self, stats: &StatsRecord) -> Result<(), SinkFailure> {
        Ok(self.write_stats(stats)?)
    }
}
