//! Learning a baseline from the first flows of a run that was started
//! without `--model`: the first `flows` records are kept, a model and a
//! traffic baseline are trained on them and saved, and scoring starts.
//! Training runs on the polling thread (`flowwatch train` took 0.17 s for
//! 6,036 simulated flows); the kernel keeps counting meanwhile, so nothing
//! is lost, the next drain is only later.

use std::path::PathBuf;

use models::{FlowObservation, Model, TrainConfig, train};
use tracing::info;

use super::{AnalysisError, baseline_file};
use crate::detect::{BaselineBuilder, DetectorsConfig, GeoLookup};

pub struct LearnConfig {
    /// Flows to learn from before scoring starts.
    pub flows: usize,
    /// Where the learnt model is saved.
    pub save_to: PathBuf,
    pub train: TrainConfig,
}

pub struct Learner {
    config: LearnConfig,
    flows: Vec<FlowObservation>,
}

impl Learner {
    pub fn new(config: LearnConfig) -> Self {
        Self { flows: Vec::with_capacity(config.flows.min(1 << 20)), config }
    }

    /// Keeps `flow`; true once enough flows are kept to train.
    pub fn keep(&mut self, flow: &FlowObservation) -> bool {
        self.flows.push(flow.clone());
        self.flows.len() >= self.config.flows
    }

    /// Trains on the kept flows, saves the model and returns it.
    pub fn train(
        &mut self,
        detectors: &DetectorsConfig,
        geo: Option<Box<dyn GeoLookup + Send>>,
    ) -> Result<Model, AnalysisError> {
        let model = train_with_baseline(&self.flows, &self.config.train, detectors, geo)?;
        model.save(&self.config.save_to)?;
        info!(
            flows = self.flows.len(),
            path = %self.config.save_to.display(),
            "baseline learnt and saved; scoring starts now (reuse it with --model)"
        );
        self.flows = Vec::new();
        Ok(model)
    }

    pub fn learnt(&self) -> usize {
        self.flows.len()
    }
}

/// Trains the model and the rule detectors' traffic baseline on the same
/// flows and stores both in one model.
pub fn train_with_baseline(
    flows: &[FlowObservation],
    train_config: &TrainConfig,
    detectors: &DetectorsConfig,
    geo: Option<Box<dyn GeoLookup + Send>>,
) -> Result<Model, AnalysisError> {
    let mut model = train(flows, train_config)?;
    let mut builder = BaselineBuilder::new(detectors);
    if let Some(geo) = geo {
        builder = builder.with_geo(geo);
    }
    for flow in models::train::in_time_order(flows) {
        builder.observe(flow);
    }
    baseline_file::store(&mut model, &builder.build())?;
    Ok(model)
}
