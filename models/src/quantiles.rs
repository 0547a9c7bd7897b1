//! A compact summary of a score distribution: the scores at evenly spaced
//! cumulative levels, from which quantiles and the empirical CDF are read
//! back by linear interpolation. Used to normalize detector scores and to
//! calibrate the threshold, and stored in the model file instead of every
//! training score.

use serde::{Deserialize, Serialize};

/// Levels stored: 0, 1/10,000, …, 1 — quantiles to 1e-4, enough for
/// thresholds like 0.999 to be read exactly.
pub const DEFAULT_RESOLUTION: usize = 10_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantileError {
    #[error("cannot summarize an empty score distribution")]
    Empty,
    #[error("score distribution contains a non-finite score ({0})")]
    NonFinite(f64),
    #[error("quantile table is invalid: {0} (the model file is corrupt: retrain)")]
    Invalid(&'static str),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "QuantileRepr", into = "QuantileRepr")]
pub struct QuantileTable {
    /// `values[i]` is the quantile at level `i / (len − 1)`; non-decreasing.
    values: Vec<f64>,
}

impl QuantileTable {
    /// Summarizes `scores` at `resolution + 1` levels. Quantiles between
    /// order statistics are interpolated linearly (numpy's default,
    /// "type 7").
    pub fn from_scores(scores: &[f64], resolution: usize) -> Result<Self, QuantileError> {
        if let Some(&bad) = scores.iter().find(|s| !s.is_finite()) {
            return Err(QuantileError::NonFinite(bad));
        }
        let mut sorted = scores.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let resolution = resolution.max(1);
        let values = (0..=resolution)
            .map(|i| sorted_quantile(&sorted, i as f64 / resolution as f64))
            .collect::<Option<Vec<_>>>()
            .ok_or(QuantileError::Empty)?;
        Ok(Self { values })
    }

    /// The score below which a fraction `level` (clamped to [0, 1]) of the distribution lies.
    pub fn quantile(&self, level: f64) -> f64 {
        let position = level.clamp(0.0, 1.0) * self.last_index() as f64;
        let below = position.floor() as usize;
        let above = (below + 1).min(self.last_index());
        let fraction = position - below as f64;
        self.values[below] + fraction * (self.values[above] - self.values[below])
    }

    /// The fraction of the distribution at or below `score`, in [0, 1]
    /// (the inverse of [`Self::quantile`], interpolated). Within a run of
    /// equal stored values, the top of the run: a score tied with many
    /// training scores is ranked above all of them.
    pub fn cdf(&self, score: f64) -> f64 {
        let values = &self.values;
        // First stored value strictly above the score.
        let above = values.partition_point(|&v| v <= score);
        if above == 0 {
            return 0.0;
        }
        if above > self.last_index() {
            return 1.0;
        }
        let (low, high) = (values[above - 1], values[above]);
        let fraction = if high > low { (score - low) / (high - low) } else { 0.0 };
        ((above - 1) as f64 + fraction) / self.last_index() as f64
    }

    pub fn min(&self) -> f64 {
        self.values[0]
    }

    pub fn max(&self) -> f64 {
        self.values[self.last_index()]
    }

    fn last_index(&self) -> usize {
        self.values.len() - 1
    }
}

/// Type-7 quantile of sorted data; `None` when empty.
fn sorted_quantile(sorted: &[f64], level: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = level * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    Some(sorted[below] + fraction * (sorted[above] - sorted[below]))
}

#[derive(Serialize, Deserialize)]
struct QuantileRepr {
    values: Vec<f64>,
}

impl From<QuantileTable> for QuantileRepr {
    fn from(table: QuantileTable) -> Self {
        Self { values: table.values }
    }
}

impl TryFrom<QuantileRepr> for QuantileTable {
    type Error = QuantileError;

    fn try_from(repr: QuantileRepr) -> Result<Self, Self::Error> {
        if repr.values.len() < 2 {
            return Err(QuantileError::Invalid("fewer than 2 levels"));
        }
        if repr.values.iter().any(|v| !v.is_finite()) || repr.values.windows(2).any(|w| w[0] > w[1]) {
            return Err(QuantileError::Invalid("values not finite and non-decreasing"));
        }
        Ok(Self { values: repr.values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_type_7() -> Result<(), QuantileError> {
        // numpy.quantile([1, 2, 3, 4, 10], [0, .25, .5, .9, 1]) = [1, 2, 3, 7.6, 10]
        let table = QuantileTable::from_scores(&[10.0, 3.0, 1.0, 4.0, 2.0], 100)?;
        assert_eq!(table.quantile(0.0), 1.0);
        assert!((table.quantile(0.25) - 2.0).abs() < 1e-12);
        assert!((table.quantile(0.5) - 3.0).abs() < 1e-12);
        assert!((table.quantile(0.9) - 7.6).abs() < 1e-12);
        assert_eq!(table.quantile(1.0), 10.0);
        Ok(())
    }

    #[test]
    fn cdf_inverts_quantile_and_saturates() -> Result<(), QuantileError> {
        let scores: Vec<f64> = (0..=1000).map(f64::from).collect();
        let table = QuantileTable::from_scores(&scores, 1000)?;
        assert!((table.cdf(950.0) - 0.95).abs() < 1e-12);
        assert!((table.cdf(950.5) - 0.9505).abs() < 1e-12);
        assert_eq!(table.cdf(-1.0), 0.0);
        assert_eq!(table.cdf(1000.0), 1.0);
        assert_eq!(table.cdf(5000.0), 1.0);
        Ok(())
    }

    #[test]
    fn ties_rank_at_the_top_of_their_run() -> Result<(), QuantileError> {
        // Half the scores are 0: a score of 0 is at or above half the distribution.
        let scores = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let table = QuantileTable::from_scores(&scores, 9)?;
        assert!((table.cdf(0.0) - 4.0 / 9.0).abs() < 1e-12);
        assert_eq!(table.min(), 0.0);
        assert_eq!(table.max(), 5.0);
        Ok(())
    }

    #[test]
    fn refuses_empty_non_finite_and_unsorted() {
        assert_eq!(QuantileTable::from_scores(&[], 10), Err(QuantileError::Empty));
        assert!(matches!(
            QuantileTable::from_scores(&[1.0, f64::NAN], 10),
            Err(QuantileError::NonFinite(v)) if v.is_nan()
        ));
        assert!(serde_json::from_str::<QuantileTable>(r#"{"values":[2.0,1.0]}"#).is_err());
        assert!(serde_json::from_str::<QuantileTable>(r#"{"values":[1.0,2.0]}"#).is_ok());
    }
}
