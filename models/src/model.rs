//! A trained model: everything needed to turn flows into scores, as one
//! value that is saved and loaded as one file ([`crate::model_file`]).

use std::collections::BTreeMap;

use ndarray::ArrayViewMut2;
use serde::{Deserialize, Serialize};

use crate::{
    calibration::{Calibration, CalibrationError},
    ensemble::Ensemble,
    features::{Feature, FeatureSchema, HostWindowConfig},
    iforest::IsolationForestValidParams,
    kmeans_distance::KMeansDistanceValidParams,
    scaler::StandardScaler,
};

/// How, when and from what a model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetadata {
    /// RFC 3339, UTC.
    pub created: String,
    /// Where the training flows came from, as the caller described them
    /// (capture files, interfaces, time ranges).
    pub sources: Vec<String>,
    pub flows: u64,
    pub seed: u64,
    pub iforest: IsolationForestValidParams,
    pub kmeans: KMeansDistanceValidParams,
    /// Version of the `models` crate that trained it.
    pub trained_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    schema: FeatureSchema,
    training: TrainingMetadata,
    window: HostWindowConfig,
    scaler: StandardScaler,
    /// Per-feature training medians (after log scaling, before
    /// standardization): the "typical" values explanations compare with.
    typical: Vec<f64>,
    ensemble: Ensemble,
    calibration: Calibration,
    /// Named additions (e.g. a traffic baseline for rule detectors) that
    /// older readers ignore and newer ones may expect; a field added to
    /// this struct with `#[serde(default)]` works as well, since the file
    /// is JSON inside.
    #[serde(default)]
    extensions: BTreeMap<String, serde_json::Value>,
}

impl Model {
    pub(crate) fn new(
        training: TrainingMetadata,
        window: HostWindowConfig,
        scaler: StandardScaler,
        typical: Vec<f64>,
        ensemble: Ensemble,
        calibration: Calibration,
    ) -> Self {
        Self {
            schema: FeatureSchema::current(),
            training,
            window,
            scaler,
            typical,
            ensemble,
            calibration,
            extensions: BTreeMap::new(),
        }
    }

    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    pub fn training(&self) -> &TrainingMetadata {
        &self.training
    }

    /// The host-window settings the model was trained with; scoring uses the same.
    pub fn window(&self) -> HostWindowConfig {
        self.window
    }

    pub fn scaler(&self) -> &StandardScaler {
        &self.scaler
    }

    pub fn typical(&self) -> &[f64] {
        &self.typical
    }

    pub fn ensemble(&self) -> &Ensemble {
        &self.ensemble
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Moves the threshold (the `-a` level, see [`crate::calibration`]).
    pub fn set_threshold_level(&mut self, level: f64) -> Result<(), CalibrationError> {
        self.calibration = self.calibration.with_level(level)?;
        Ok(())
    }

    pub fn extensions(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.extensions
    }

    pub fn extensions_mut(&mut self) -> &mut BTreeMap<String, serde_json::Value> {
        &mut self.extensions
    }

    /// Standardizes extracted feature rows in place, as scoring does.
    pub fn standardize(&self, features: ArrayViewMut2<'_, f64>) {
        self.scaler.transform(features);
    }

    /// Every part sized for this build's schema; what a file that passed
    /// its checksum but not this check must have been written wrongly.
    pub(crate) fn inconsistency(&self) -> Option<String> {
        let expected = Feature::COUNT;
        let (iforest, kmeans) = self.ensemble.dims();
        let sizes = [
            ("scaler offsets", self.scaler.offsets.len()),
            ("scaler scales", self.scaler.scales.len()),
            ("typical values", self.typical.len()),
            ("isolation forest", iforest),
            ("k-means centroids", kmeans),
        ];
        sizes
            .iter()
            .find(|(_, size)| *size != expected)
            .map(|(part, size)| format!("{part} cover {size} features, the schema has {expected}"))
    }
}
