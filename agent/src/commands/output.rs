//! Writing flow records, shared by every command that produces flows.

use tracing::warn;

use crate::{
    clock::Clock,
    flow::{FlowEngine, FlowRecord, PollOutput},
    iface::InterfaceNames,
    sink::NdjsonWriter,
};

/// Writes one poll's records and remembers the loss it has already warned about.
pub(crate) struct Output {
    pub(crate) writer: NdjsonWriter,
    pub(crate) names: InterfaceNames,
    pub(crate) clock: Clock,
    pub(crate) warned_evicted: u64,
}

impl Output {
    pub(crate) fn write_poll(&mut self, out: &PollOutput) -> anyhow::Result<()> {
        for expired in &out.records {
            self.writer.write(&FlowRecord::new(expired, &self.clock, &mut self.names))?;
        }
        self.writer.flush()?;
        Ok(())
    }

    pub(crate) fn warn_on_loss(&mut self, engine: &FlowEngine) {
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
