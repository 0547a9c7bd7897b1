//! Writing flow records, shared by every command that produces flows.

use tracing::warn;

use crate::{
    clock::Clock,
    flow::{FlowEngine, FlowRecord, PollOutput, RecordContext, StatsRecord},
    iface::InterfaceNames,
    sink::{NdjsonWriter, OutputPath, SinkError},
};

/// Writes one poll's records and remembers the loss it has already warned about.
pub(crate) struct Output {
    writer: NdjsonWriter,
    pub(crate) context: RecordContext,
    warned_evicted: u64,
}

impl Output {
    /// Records go to `path`; `clock` turns the source's timestamps into wall time.
    pub(crate) fn open(path: &OutputPath, clock: Clock) -> Result<Self, SinkError> {
        Ok(Self {
            writer: NdjsonWriter::open(path)?,
            context: RecordContext::new(clock, InterfaceNames::default()),
            warned_evicted: 0,
        })
    }

    /// One poll's records, flushed, and a warning if the map lost flows since the last one.
    pub(crate) fn write_poll(&mut self, out: &PollOutput, engine: &FlowEngine) -> Result<(), SinkError> {
        for expired in &out.records {
            self.writer.write(&FlowRecord::new(expired, &mut self.context))?;
        }
        self.writer.flush()?;
        self.warn_on_loss(engine);
        Ok(())
    }

    pub(crate) fn write_stats(&mut self, stats: &StatsRecord) -> Result<(), SinkError> {
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
