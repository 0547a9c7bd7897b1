//! From flows to alerts: each ended (or interim) flow is scored by
//! the model, checked by the rule detectors, and every resulting event is
//! enriched with GeoIP and handed to the alert sinks.
//!
//! ```text
//! FlowObservation ─► Scorer (model) ─► MlVerdict ─┐
//!        └────────────────────────────────────────┴─► DetectionEngine ─► Event ─► GeoIP ─► SinkSet
//! ```

mod baseline_file;
mod learn;
mod shared_geo;

use std::sync::Arc;

use models::{FlowObservation, Model, Scored, Scorer};
use serde::Serialize;
use tracing::{info, warn};

pub use self::{
    baseline_file::{BaselineFileError, TRAFFIC_BASELINE_EXTENSION},
    learn::{LearnConfig, Learner, train_with_baseline},
    shared_geo::SharedGeo,
};
use crate::{
    clock::Clock,
    detect::{DetectionEngine, DetectorStats, DetectorsConfig, EngineError, GeoLookup, MlVerdict, ml_outlier},
    enrich::GeoStats,
    event::{Event, FeatureContribution},
    flow::FlowRecord,
    sink::{SinkSet, SinkStats},
};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    ModelFile(#[from] models::ModelFileError),
    #[error("training failed: {0}")]
    Train(#[from] models::TrainError),
    #[error(transparent)]
    Baseline(#[from] BaselineFileError),
    #[error("the rule detectors cannot start: {0}")]
    Detectors(#[from] EngineError),
    #[error("-a {level}: {source}")]
    Threshold {
        level: f64,
        #[source]
        source: models::calibration::CalibrationError,
    },
}

/// Where scoring comes from.
pub enum ModelChoice {
    /// A trained model (`--model`).
    Trained(Box<Model>),
    /// Learn one from the first flows of this run.
    Learn(LearnConfig),
    /// Rule detectors only.
    None,
}

pub struct AnalysisConfig {
    pub model: ModelChoice,
    pub detectors: DetectorsConfig,
    pub geo: Option<SharedGeo>,
    pub sinks: SinkSet,
    pub clock: Clock,
}

/// A flow's model score, for its record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowScore {
    /// Calibrated: the fraction of training flows scoring at or below it.
    pub score: f64,
    /// Above the threshold (`-a`); during the host windows' warm-up, on the
    /// flow's own features (see [`scorer_for`]).
    pub anomaly: bool,
}

/// What the analysis did, for the final stats line.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisSummary {
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub flows_scored: u64,
    pub flows_flagged: u64,
    pub events: u64,
    pub detectors: DetectorStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoStats>,
    pub sinks: Vec<SinkStats>,
}

pub struct Analyzer {
    scorer: Option<Scorer>,
    learner: Option<Learner>,
    detectors_config: DetectorsConfig,
    detection: DetectionEngine,
    geo: Option<SharedGeo>,
    sinks: SinkSet,
    flows_scored: u64,
    flows_flagged: u64,
    events: u64,
}

impl Analyzer {
    pub fn new(config: AnalysisConfig) -> Result<Self, AnalysisError> {
        let (scorer, learner, baseline) = match config.model {
            ModelChoice::Trained(model) => {
                let baseline = baseline_file::load(&model)?;
                (Some(scorer_for(*model)), None, baseline)
            }
            ModelChoice::Learn(learn) => (None, Some(Learner::new(learn)), None),
            ModelChoice::None => (None, None, None),
        };
        let mut detection = DetectionEngine::new(config.detectors.clone(), config.clock, baseline)?;
        if let Some(geo) = config.geo.as_ref().filter(|geo| geo.has_location()) {
            detection = detection.with_geo(Box::new(geo.clone()));
        }
        Ok(Self {
            scorer,
            learner,
            detectors_config: config.detectors,
            detection,
            geo: config.geo,
            sinks: config.sinks,
            flows_scored: 0,
            flows_flagged: 0,
            events: 0,
        })
    }

    /// Scores and checks one flow; returns its score when a model is in use.
    pub fn flow(&mut self, flow: &FlowObservation) -> Result<Option<FlowScore>, AnalysisError> {
        self.learn(flow)?;
        let Some(scorer) = self.scorer.as_mut() else {
            let events = self.detection.observe(flow, None);
            self.report(events);
            return Ok(None);
        };
        let scored = scorer.score(flow);
        let verdict = verdict(&scored, scorer);
        self.flows_scored += 1;
        self.flows_flagged += u64::from(verdict.is_anomaly);
        let events = self.detection.observe(flow, Some(&verdict));
        self.report(events);
        Ok(Some(FlowScore { score: scored.score, anomaly: verdict.is_anomaly }))
    }

    /// Moves detection time to a poll's `now_ns` (source time), so findings
    /// held for a window (incidents, suppressed repeats, zone-transfer
    /// grace) are reported when it closes, not when the next flow arrives.
    pub fn advance(&mut self, now_ns: u64) {
        let events = self.detection.advance(now_ns);
        self.report(events);
    }

    /// Exports a written flow record to the flow sinks (CSV).
    pub fn export(&mut self, record: &FlowRecord) {
        self.sinks.deliver_flow(record);
    }

    /// Reports what the detectors still hold and closes the sinks (waiting
    /// for queued alerts up to their drain timeout).
    pub fn finish(mut self) -> AnalysisSummary {
        let events = self.detection.finish();
        self.report(events);
        if let Some(learner) = &self.learner {
            warn!(
                flows = learner.learnt(),
                "input ended before enough flows were seen to learn a baseline; no model was saved"
            );
        }
        AnalysisSummary {
            record_type: "analysis",
            flows_scored: self.flows_scored,
            flows_flagged: self.flows_flagged,
            events: self.events,
            detectors: self.detection.stats(),
            geo: self.geo.as_ref().map(SharedGeo::stats),
            sinks: self.sinks.close(),
        }
    }

    fn learn(&mut self, flow: &FlowObservation) -> Result<(), AnalysisError> {
        let Some(learner) = self.learner.as_mut() else { return Ok(()) };
        if !learner.keep(flow) {
            return Ok(());
        }
        let geo = self.geo.clone().map(|geo| Box::new(geo) as Box<dyn GeoLookup + Send>);
        let model = learner.train(&self.detectors_config, geo)?;
        self.learner = None;
        self.scorer = Some(scorer_for(model));
        Ok(())
    }

    fn report(&mut self, events: Vec<Event>) {
        for mut event in events {
            if let Some(geo) = &self.geo {
                geo.enrich(&mut event);
            }
            // Without an event sink, events are logged so a terminal user sees them.
            if !self.sinks.has_event_sink() && event.severity >= self.sinks.alert_level() {
                info!(kind = %event.kind, severity = %event.severity, "{}", event.summary);
            }
            self.sinks.deliver(&event);
            self.events += 1;
        }
    }
}

/// During the first host window (60 s) a host's window features cover only
/// what it did since the agent started, and partial windows make ordinary
/// flows look new; the scorer's default warm-up ([`models::WarmUp::FlowOnly`])
/// judges those flows on their own features. The agent takes the default
/// rather than naming a mode so that `flowwatch evaluate` and the bench,
/// which also use [`Scorer::new`], measure the mode the agent runs.
fn scorer_for(model: Model) -> Scorer {
    Scorer::new(Arc::new(model))
}

fn verdict(scored: &Scored, scorer: &Scorer) -> MlVerdict {
    let calibration = scorer.model().calibration();
    MlVerdict {
        score: scored.score,
        threshold: calibration.level(),
        beyond_training: ml_outlier::beyond_training(calibration, scored.detectors.combined),
        is_anomaly: scored.is_anomaly,
        warm_up: scored.warming_up,
        top_features: scored
            .explanation
            .iter()
            .map(|c| FeatureContribution {
                feature: c.feature.to_string(),
                value: c.value,
                contribution: c.contribution,
            })
            .collect(),
    }
}
