//! Training: flows → features → scaler → detectors → calibration → [`Model`].

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::{
    FlowObservation, Model,
    calibration::{Calibration, CalibrationError},
    ensemble::{Ensemble, EnsembleError},
    features::{FeatureExtractor, HostWindowConfig},
    iforest::IsolationForestParams,
    kmeans_distance::KMeansDistanceParams,
    model::TrainingMetadata,
    scaler::{ScalerError, StandardScaler},
};

/// Everything training can be told; one place for the defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Isolation trees (default 100).
    pub trees: usize,
    /// Rows per tree, ψ (default 256).
    pub subsample: usize,
    /// k-means clusters (default 8).
    pub clusters: usize,
    /// Rows k-means is fitted on, drawn from the training set (default
    /// 4,096: linfa's k-means takes ≈ 0.1 s per run on that many rows of
    /// 40 features, and centroids barely move with more).
    pub kmeans_rows: usize,
    /// k-means restarts, best kept (default 3).
    pub kmeans_runs: usize,
    pub window: HostWindowConfig,
    /// Default threshold level stored in the model (default 0.99; see
    /// [`crate::calibration`]); scoring can move it.
    pub threshold_level: f64,
    /// Seeds every random choice: same flows + same config = same model.
    pub seed: u64,
    /// Recorded in the model's metadata (e.g. capture file names).
    pub sources: Vec<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            trees: 100,
            subsample: 256,
            clusters: 8,
            kmeans_rows: 4_096,
            kmeans_runs: 3,
            window: HostWindowConfig::default(),
            threshold_level: 0.99,
            seed: 0,
            sources: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no flows to train on: give training captures or flow records with traffic in them")]
    NoFlows,
    #[error(transparent)]
    Scaler(#[from] ScalerError),
    #[error(transparent)]
    Detectors(#[from] EnsembleError),
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
}

/// `flows` sorted by end time (stably, so ties keep their order), as the
/// host windows need; the order they were given in does not matter.
pub fn in_time_order(flows: &[FlowObservation]) -> Vec<&FlowObservation> {
    let mut ordered: Vec<&FlowObservation> = flows.iter().collect();
    ordered.sort_by_key(|flow| flow.end_ns);
    ordered
}

/// Trains a model on flows taken to be benign (see [`crate::calibration`]).
pub fn train(flows: &[FlowObservation], config: &TrainConfig) -> Result<Model, TrainError> {
    if flows.is_empty() {
        return Err(TrainError::NoFlows);
    }
    let mut records = FeatureExtractor::new(config.window).extract_matrix(in_time_order(flows));
    let typical = column_medians(&records);
    let scaler = StandardScaler::fit(records.view())?;
    scaler.transform(records.view_mut());

    let iforest = IsolationForestParams::new().trees(config.trees).subsample(config.subsample).seed(config.seed);
    // A different stream for k-means, so its draws do not mirror the forest's.
    let kmeans = KMeansDistanceParams::new()
        .clusters(config.clusters)
        .max_rows(config.kmeans_rows)
        .runs(config.kmeans_runs)
        .seed(config.seed ^ 0x9e37_79b9_7f4a_7c15);
    let (ensemble, training_scores) = Ensemble::fit(records.view(), &iforest, &kmeans)?;
    let calibration = Calibration::fit(&training_scores, config.threshold_level)?;

    let metadata = TrainingMetadata {
        created: now_rfc3339(),
        sources: config.sources.clone(),
        flows: flows.len() as u64,
        seed: config.seed,
        iforest: linfa::ParamGuard::check(iforest).map_err(EnsembleError::from)?,
        kmeans: linfa::ParamGuard::check(kmeans).map_err(EnsembleError::from)?,
        trained_by: format!("flowwatch-models {}", env!("CARGO_PKG_VERSION")),
    };
    Ok(Model::new(metadata, config.window, scaler, typical, ensemble, calibration))
}

/// Median of each column (the upper middle value for an even count).
fn column_medians(records: &Array2<f64>) -> Vec<f64> {
    records
        .axis_iter(Axis(1))
        .map(|column| {
            let mut values = column.to_vec();
            let middle = values.len() / 2;
            *values.select_nth_unstable_by(middle, f64::total_cmp).1
        })
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_owned())
}
