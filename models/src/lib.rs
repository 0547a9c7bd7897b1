//! flowwatch's machine-learning side.
//!
//! - Inputs: [`FlowObservation`] (one bidirectional flow record), the
//!   [`AnomalyKind`]s every part of flowwatch names, and ground-truth
//!   [`Labels`] for evaluation.
//! - [`features`]: flows → a named, versioned vector of log-scaled
//!   per-flow and per-host sliding-window features.
//! - [`scaler`]: standardization fitted with linfa-preprocessing.
//! - Detectors on linfa's traits: [`iforest`] (Isolation Forest) and
//!   [`kmeans_distance`] (distance to the nearest k-means centroid),
//!   combined by [`ensemble`]; [`calibration`] turns the combined score into
//!   a calibrated score and a threshold with a documented meaning;
//!   [`explain`] names the features behind an anomaly.
//! - [`train()`] builds a [`Model`], saved and loaded as one file
//!   ([`model_file`]); a [`Scorer`] scores a stream of flows with it;
//!   [`evaluation`] measures it against labels.
//!
//! This crate never touches the kernel or the eBPF toolchain; the agent
//! converts its flow records into [`FlowObservation`]s.

pub mod calibration;
pub mod ensemble;
pub mod evaluation;
pub mod explain;
pub mod features;
pub mod iforest;
pub mod kind;
pub mod kmeans_distance;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod model_file;
pub mod observation;
pub mod quantiles;
pub mod scaler;
pub mod scorer;
pub mod train;

#[cfg(test)]
mod test_flows;
#[cfg(test)]
mod tests;

pub use evaluation::{EvaluationReport, Outcome, evaluate, outcomes};
pub use explain::Contribution;
pub use features::{Feature, FeatureExtractor, FeatureSchema, HostWindowConfig};
pub use kind::AnomalyKind;
pub use labels::{Label, LabelError, Labels};
pub use model::{Model, TrainingMetadata};
pub use model_file::ModelFileError;
pub use observation::{DirectionSummary, FlowObservation};
pub use scorer::{Scored, Scorer, WarmUp};
pub use train::{TrainConfig, TrainError, train};
