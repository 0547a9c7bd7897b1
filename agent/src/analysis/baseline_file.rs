//! The traffic baseline of the rule detectors travels inside the model file
//! (as one of its extensions), so `flowwatch train` records one file that
//! holds everything a later run compares against.

use models::Model;
use serde::Deserialize as _;

use crate::detect::TrafficBaseline;

/// The model-file extension holding the rule detectors' baseline.
pub const TRAFFIC_BASELINE_EXTENSION: &str = "traffic_baseline";

#[derive(Debug, thiserror::Error)]
pub enum BaselineFileError {
    #[error("encoding the traffic baseline failed: {0}")]
    Encode(#[source] serde_json::Error),
    #[error(
        "the model file's traffic baseline cannot be read ({0}); it was written by another flowwatch version: \
         retrain with `flowwatch train`"
    )]
    Decode(#[source] serde_json::Error),
}

pub fn store(model: &mut Model, baseline: &TrafficBaseline) -> Result<(), BaselineFileError> {
    let value = serde_json::to_value(baseline).map_err(BaselineFileError::Encode)?;
    model.extensions_mut().insert(TRAFFIC_BASELINE_EXTENSION.to_owned(), value);
    Ok(())
}

/// `None` for a model trained without one (e.g. by an older version).
pub fn load(model: &Model) -> Result<Option<TrafficBaseline>, BaselineFileError> {
    model
        .extensions()
        .get(TRAFFIC_BASELINE_EXTENSION)
        .map(TrafficBaseline::deserialize)
        .transpose()
        .map_err(BaselineFileError::Decode)
}
