//! What a score means, and where the line is.
//!
//! The model keeps the distribution of the combined scores of its training
//! flows, which are taken to be benign (train on traffic you trust; known
//! attacks can be removed with labels first). From it:
//!
//! - the **calibrated score** of a flow is the fraction of training flows
//!   that scored at or below it, in [0, 1] (0.999: higher than 99.9% of the
//!   training traffic);
//! - the **threshold level** `a` (the `-a` flag, e.g. `-a 0.95`) flags a
//!   flow when its combined score is strictly above the `a`-quantile of the
//!   training scores, i.e. when its calibrated score exceeds `a`. On traffic
//!   like the training traffic about `1 − a` of flows are flagged (5% at
//!   0.95, 0.1% at 0.999); `a = 1` flags only flows beyond everything seen
//!   in training.
//!
//! Quantiles are read from a table of 10,001 levels (see [`QuantileTable`]),
//! so any level can be chosen at scoring time without retraining.

use serde::{Deserialize, Serialize};

use crate::quantiles::{DEFAULT_RESOLUTION, QuantileError, QuantileTable};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error("threshold level must be between 0 and 1 (e.g. 0.99 flags the top 1% of training-like traffic), got {0}")]
    Level(f64),
    #[error("cannot calibrate: {0}")]
    Scores(#[from] QuantileError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CalibrationRepr", into = "CalibrationRepr")]
pub struct Calibration {
    training: QuantileTable,
    level: f64,
    threshold: f64,
}

impl Calibration {
    pub fn fit(training_scores: &[f64], level: f64) -> Result<Self, CalibrationError> {
        Self::new(QuantileTable::from_scores(training_scores, DEFAULT_RESOLUTION)?, level)
    }

    fn new(training: QuantileTable, level: f64) -> Result<Self, CalibrationError> {
        if !(0.0..=1.0).contains(&level) {
            return Err(CalibrationError::Level(level));
        }
        let threshold = training.quantile(level);
        Ok(Self { training, level, threshold })
    }

    /// The same training distribution with another threshold level.
    pub fn with_level(&self, level: f64) -> Result<Self, CalibrationError> {
        Self::new(self.training.clone(), level)
    }

    pub fn level(&self) -> f64 {
        self.level
    }

    /// Combined scores strictly above this are anomalies.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Fraction of training flows scoring at or below `combined`.
    pub fn calibrated(&self, combined: f64) -> f64 {
        self.training.cdf(combined)
    }

    pub fn is_anomaly(&self, combined: f64) -> bool {
        combined > self.threshold
    }

    pub fn training_scores(&self) -> &QuantileTable {
        &self.training
    }
}

#[derive(Serialize, Deserialize)]
struct CalibrationRepr {
    training: QuantileTable,
    level: f64,
}

impl From<Calibration> for CalibrationRepr {
    fn from(calibration: Calibration) -> Self {
        Self { training: calibration.training, level: calibration.level }
    }
}

impl TryFrom<CalibrationRepr> for Calibration {
    type Error = CalibrationError;

    fn try_from(repr: CalibrationRepr) -> Result<Self, Self::Error> {
        Self::new(repr.training, repr.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_095_flags_above_the_95th_percentile() -> Result<(), CalibrationError> {
        let scores: Vec<f64> = (0..=1000).map(f64::from).collect();
        let calibration = Calibration::fit(&scores, 0.95)?;
        assert_eq!(calibration.threshold(), 950.0);
        assert!(!calibration.is_anomaly(950.0));
        assert!(calibration.is_anomaly(950.5));
        let flagged = scores.iter().filter(|&&s| calibration.is_anomaly(s)).count();
        assert_eq!(flagged, 50);
        assert!((calibration.calibrated(900.0) - 0.9).abs() < 1e-12);
        assert_eq!(calibration.calibrated(1e9), 1.0);

        let strict = calibration.with_level(0.999)?;
        assert_eq!(strict.threshold(), 999.0);
        assert_eq!(scores.iter().filter(|&&s| strict.is_anomaly(s)).count(), 1);
        Ok(())
    }

    #[test]
    fn refuses_levels_outside_0_1() -> Result<(), Box<dyn std::error::Error>> {
        let calibration = Calibration::fit(&[1.0, 2.0], 0.5)?;
        assert_eq!(calibration.with_level(95.0), Err(CalibrationError::Level(95.0)));
        assert!(calibration.with_level(f64::NAN).is_err());
        let json = serde_json::to_string(&calibration)?;
        let back: Calibration = serde_json::from_str(&json)?;
        assert_eq!(back, calibration);
        Ok(())
    }
}
