//! Scoring a live stream of flows: the model plus the feature extractor's
//! host-window state, so one [`Scorer`] per stream, fed in flow-time order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    FlowObservation, Model,
    ensemble::DetectorScores,
    explain::{Contribution, occlusion},
    features::{Feature, FeatureExtractor, FeatureRow, WindowStats, host_window::duration_ns},
    iforest::{BATCH_ROWS, ForestBatch, ForestRow},
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
    /// alerts until this clears, or score such flows on their own features
    /// ([`WarmUp::FlowOnly`]).
    pub warming_up: bool,
    /// For anomalies only (empty otherwise): the features that pushed the
    /// score up most, largest contribution first.
    pub explanation: Vec<Contribution>,
}

/// How the scorer treats flows while its host windows warm up.
///
/// The default is the one place the mode is chosen: the agent scores with
/// [`Scorer::new`] as it comes, and so do [`crate::evaluation`] and the
/// bench, so the quality they report is that of the mode the agent runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WarmUp {
    /// Host-window features as measured, partial as they are: a host's
    /// window then holds only what it did since the scorer started, so a
    /// client whose DNS lookups came before looks like one reaching
    /// addresses it never looked up.
    Measured,
    /// Host-window features ([`Feature::HOST_WINDOW`]) replaced by their
    /// typical training values (the medians the explanation also
    /// substitutes): the flow is judged on its own features as if its host
    /// behaved typically, so what is flagged is a flow-level outlier and
    /// partial windows can neither raise nor explain a score.
    ///
    /// The default: holding every verdict until the window fills would
    /// miss whatever an attack did in its first minute, and everything a
    /// capture shorter than a minute holds, while measured partial windows
    /// make ordinary flows look new. This keeps the model's eye on the flow
    /// while the window evidence is not there to be trusted.
    #[default]
    FlowOnly,
}

pub struct Scorer {
    model: Arc<Model>,
    extractor: FeatureExtractor,
    /// Typical values, standardized: what occlusion substitutes.
    typical_scaled: Vec<f64>,
    batch: Batch,
    /// Scratch row for the explanation's extra scorings.
    probe_row: ForestRow,
    explain_top: usize,
    warm_up: WarmUp,
    /// End time of the first flow scored.
    first_end_ns: Option<u64>,
}

/// Per-row working space for up to [`BATCH_ROWS`] flows, reused across calls
/// so scoring allocates nothing.
struct Batch {
    features: Vec<FeatureRow>,
    scaled: Vec<FeatureRow>,
    forest_rows: ForestBatch,
    forest_scores: [f64; BATCH_ROWS],
    warming_up: [bool; BATCH_ROWS],
}

impl Batch {
    fn new() -> Self {
        Self {
            features: vec![[0.0; Feature::COUNT]; BATCH_ROWS],
            scaled: vec![[0.0; Feature::COUNT]; BATCH_ROWS],
            forest_rows: ForestBatch::new(),
            forest_scores: [0.0; BATCH_ROWS],
            warming_up: [false; BATCH_ROWS],
        }
    }
}

impl Scorer {
    pub fn new(model: Arc<Model>) -> Self {
        let mut typical_scaled = model.typical().to_vec();
        model.scaler().transform_row(&mut typical_scaled);
        Self {
            extractor: FeatureExtractor::new(model.window()),
            model,
            typical_scaled,
            batch: Batch::new(),
            probe_row: ForestRow::new(),
            explain_top: DEFAULT_EXPLAIN_TOP,
            warm_up: WarmUp::default(),
            first_end_ns: None,
        }
    }

    /// How many features an anomaly's explanation lists; 0 turns
    /// explanations off (each costs one scoring per feature).
    pub fn explain_top(mut self, top: usize) -> Self {
        self.explain_top = top;
        self
    }

    /// How flows are scored during the first window (default:
    /// [`WarmUp::FlowOnly`], as the agent scores).
    pub fn warm_up(mut self, warm_up: WarmUp) -> Self {
        self.warm_up = warm_up;
        self
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    pub fn window_stats(&self) -> WindowStats {
        self.extractor.window_stats()
    }

    /// Scores one flow (the next in flow-time order).
    pub fn score(&mut self, flow: &FlowObservation) -> Scored {
        self.load(0, flow);
        let iforest = self.model.ensemble().iforest().score_slot(&self.batch.forest_rows, 0);
        self.finish(0, iforest)
    }

    /// Scores `flows` (the next ones in flow-time order) into `out`, exactly
    /// as [`Self::score`] would one by one, but faster (1.4–1.5× in `cargo
    /// xtask bench -- --only models`): the forest walks each tree for
    /// [`BATCH_ROWS`] flows at a time.
    pub fn score_batch(&mut self, flows: &[&FlowObservation], out: &mut Vec<Scored>) {
        out.reserve(flows.len());
        for chunk in flows.chunks(BATCH_ROWS) {
            for (slot, flow) in chunk.iter().enumerate() {
                self.load(slot, flow);
            }
            let batch = &mut self.batch;
            self.model.ensemble().iforest().score_batch(&batch.forest_rows, &mut batch.forest_scores[..chunk.len()]);
            for slot in 0..chunk.len() {
                let scored = self.finish(slot, self.batch.forest_scores[slot]);
                out.push(scored);
            }
        }
    }

    /// Features of `flow` into the batch's `slot`, standardized (host-window
    /// features made typical while warming up under [`WarmUp::FlowOnly`]),
    /// and the forest's copy.
    fn load(&mut self, slot: usize, flow: &FlowObservation) {
        let first_end_ns = *self.first_end_ns.get_or_insert(flow.end_ns);
        let warming_up = flow.end_ns.saturating_sub(first_end_ns) < duration_ns(self.model.window().window);
        let batch = &mut self.batch;
        batch.warming_up[slot] = warming_up;
        self.extractor.extract_into(flow, &mut batch.features[slot]);
        let scaled = &mut batch.scaled[slot];
        *scaled = batch.features[slot];
        self.model.scaler().transform_row(scaled);
        if warming_up && self.warm_up == WarmUp::FlowOnly {
            for feature in Feature::HOST_WINDOW {
                scaled[feature.index()] = self.typical_scaled[feature.index()];
            }
        }
        batch.forest_rows.load(slot, scaled.iter());
    }

    /// The rest of `slot`'s scoring once its forest score is known.
    fn finish(&mut self, slot: usize, iforest: f64) -> Scored {
        let detectors = self.model.ensemble().score_given_forest(&self.batch.scaled[slot], iforest);
        let calibration = self.model.calibration();
        let is_anomaly = calibration.is_anomaly(detectors.combined);
        let score = calibration.calibrated(detectors.combined);
        let explanation = if is_anomaly && self.explain_top > 0 { self.explain(slot) } else { Vec::new() };
        Scored { score, detectors, is_anomaly, warming_up: self.batch.warming_up[slot], explanation }
    }

    fn explain(&mut self, slot: usize) -> Vec<Contribution> {
        let Self { model, typical_scaled, batch, probe_row, explain_top, .. } = self;
        let (features, scaled) = (&batch.features[slot], &batch.scaled[slot]);
        let ensemble = model.ensemble();
        let drops = occlusion(scaled, typical_scaled, *explain_top, |row| ensemble.score_with(row, probe_row).combined);
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
