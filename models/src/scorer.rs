//! Scoring a live stream of flows: the model plus the feature extractor's
//! host-window state, so one [`Scorer`] per stream, fed in flow-time order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    FlowObservation, Model,
    ensemble::DetectorScores,
    explain::{Contribution, occlusion},
    features::{Feature, FeatureExtractor, FeatureRow, WindowStats, host_window::duration_ns},
    iforest::ForestRow,
};

/// Features listed in an anomaly's explanation unless set otherwise.
pub const DEFAULT_EXPLAIN_TOP: usize = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Calibrated score in [0, 1]: the fraction of training flows that
    /// scored at or below this one (see [`crate::calibration`]).
    pub score: f64,
    /// The raw detector scores; `detectors.combined` is what the threshold
    /// applies to and what ranks flows in evaluation.
    pub detectors: DetectorScores,
    /// Above the model's threshold level.
    pub is_anomaly: bool,
    /// The host windows do not yet cover a full window of flow time (the
    /// scorer started less than one window ago): host features are still
    /// partial and can make ordinary flows look new. Callers may hold
    /// alerts until this clears.
    pub warming_up: bool,
    /// For anomalies only (empty otherwise): the features that pushed the
    /// score up most, largest contribution first.
    pub explanation: Vec<Contribution>,
}

pub struct Scorer {
    model: Arc<Model>,
    extractor: FeatureExtractor,
    /// Typical values, standardized: what occlusion substitutes.
    typical_scaled: Vec<f64>,
    features: FeatureRow,
    scaled: FeatureRow,
    forest_row: ForestRow,
    explain_top: usize,
    /// End time of the first flow scored.
    first_end_ns: Option<u64>,
}

impl Scorer {
    pub fn new(model: Arc<Model>) -> Self {
        let mut typical_scaled = model.typical().to_vec();
        model.scaler().transform_row(&mut typical_scaled);
        Self {
            extractor: FeatureExtractor::new(model.window()),
            model,
            typical_scaled,
            features: [0.0; Feature::COUNT],
            scaled: [0.0; Feature::COUNT],
            forest_row: ForestRow::new(),
            explain_top: DEFAULT_EXPLAIN_TOP,
            first_end_ns: None,
        }
    }

    /// How many features an anomaly's explanation lists; 0 turns
    /// explanations off (each costs one scoring per feature).
    pub fn explain_top(mut self, top: usize) -> Self {
        self.explain_top = top;
        self
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    pub fn window_stats(&self) -> WindowStats {
        self.extractor.window_stats()
    }

    pub fn score(&mut self, flow: &FlowObservation) -> Scored {
        self.extractor.extract_into(flow, &mut self.features);
        self.scaled = self.features;
        self.model.scaler().transform_row(&mut self.scaled);
        let detectors = self.model.ensemble().score_with(&self.scaled, &mut self.forest_row);
        let calibration = self.model.calibration();
        let is_anomaly = calibration.is_anomaly(detectors.combined);
        let score = calibration.calibrated(detectors.combined);
        let explanation = if is_anomaly && self.explain_top > 0 { self.explain() } else { Vec::new() };
        let first_end_ns = *self.first_end_ns.get_or_insert(flow.end_ns);
        let window_ns = duration_ns(self.model.window().window);
        let warming_up = flow.end_ns.saturating_sub(first_end_ns) < window_ns;
        Scored { score, detectors, is_anomaly, warming_up, explanation }
    }

    fn explain(&mut self) -> Vec<Contribution> {
        let Self { model, typical_scaled, features, scaled, forest_row, explain_top, .. } = self;
        let ensemble = model.ensemble();
        let drops =
            occlusion(scaled, typical_scaled, *explain_top, |row| ensemble.score_with(row, forest_row).combined);
        drops
            .into_iter()
            .map(|(column, drop)| {
                let feature = Feature::ALL[column];
                Contribution {
                    feature,
                    value: feature.scale().invert(features[column]),
                    typical: feature.scale().invert(model.typical()[column]),
                    contribution: drop,
                }
            })
            .collect()
    }
}
