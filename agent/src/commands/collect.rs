//! Flow observations gathered from captures, for training and evaluation.

use std::{path::Path, sync::atomic::AtomicBool};

use models::FlowObservation;

use super::selection::ReplaySelection;
use crate::{
    cli::FlowTableArgs,
    filter::{FilterExpression, PacketFilter},
    flow::{FlowEngine, PollOutput, StatsRecord},
    replay::{ReplaySink, SinkFailure, replay},
};

/// A consumer that keeps every record as a [`FlowObservation`].
#[derive(Debug, Default)]
pub struct ObservationCollector {
    pub observations: Vec<FlowObservation>,
}

impl ReplaySink for ObservationCollector {
    fn interface(&mut self, _ifindex: u32, _name: String) {}

    fn poll(&mut self, out: &PollOutput, _engine: &FlowEngine) -> Result<(), SinkFailure> {
        self.observations.extend(out.records.iter().map(FlowObservation::from));
        Ok(())
    }

    fn stats(&mut self, _stats: &StatsRecord) -> Result<(), SinkFailure> {
        Ok(())
    }
}

/// Replays one capture on its own (its own flow table and time base) and
/// returns its flows in the order they ended; with `filter`, only the
/// packets matching it count.
pub fn observe_capture(
    path: &Path,
    table: &FlowTableArgs,
    filter: Option<&FilterExpression>,
) -> anyhow::Result<Vec<FlowObservation>> {
    let filter = filter.map(PacketFilter::new).transpose()?;
    let mut selection = ReplaySelection::new(ObservationCollector::default(), filter, None);
    replay(&[path.to_owned()], &table.replay_config(), &AtomicBool::new(false), &mut selection)?;
    Ok(selection.into_inner().observations)
}
