//! Standardization (zero mean, unit variance per feature), fitted by
//! linfa-preprocessing's standard scaler.
//!
//! linfa's fitted `LinearScaler` is only serializable through its `serde`
//! feature, in a layout that is linfa's to change, and it transforms owned
//! `Array2`s only. We keep its two fitted vectors (offsets = means, scales =
//! 1/std, 1 for constant features) in our own type: the model file format
//! stays ours, and a single row is standardized in place, with no
//! allocation, by the same formula `(x - offset) * scale` linfa applies
//! (a test checks they agree).

use linfa::{DatasetBase, traits::Fit};
use linfa_preprocessing::linear_scaling::LinearScaler;
use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ScalerError {
    #[error("cannot fit the standard scaler: {0}")]
    Fit(#[from] linfa_preprocessing::PreprocessingError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Per-feature training mean.
    pub offsets: Vec<f64>,
    /// Per-feature 1 / standard deviation (1 where the feature was constant).
    pub scales: Vec<f64>,
}

impl StandardScaler {
    pub fn fit(records: ArrayView2<'_, f64>) -> Result<Self, ScalerError> {
        let dataset = DatasetBase::from(records);
        let fitted: LinearScaler<f64> = LinearScaler::standard().fit(&dataset)?;
        Ok(Self { offsets: fitted.offsets().to_vec(), scales: fitted.scales().to_vec() })
    }

    pub fn dims(&self) -> usize {
        self.offsets.len()
    }

    /// Standardizes one row in place (`row.len()` should equal [`Self::dims`]).
    pub fn transform_row(&self, row: &mut [f64]) {
        self.apply(row.iter_mut());
    }

    pub fn transform(&self, mut records: ArrayViewMut2<'_, f64>) {
        for mut row in records.rows_mut() {
            self.apply(row.iter_mut());
        }
    }

    fn apply<'a>(&self, values: impl Iterator<Item = &'a mut f64>) {
        for ((value, offset), scale) in values.zip(&self.offsets).zip(&self.scales) {
            *value = (*value - offset) * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use linfa::traits::Transformer;
    use ndarray::array;

    use super::*;

    #[test]
    fn matches_linfa_and_standardizes() -> Result<(), Box<dyn std::error::Error>> {
        let records = array![[1.0, 10.0, 5.0], [2.0, 20.0, 5.0], [3.0, 60.0, 5.0], [6.0, 30.0, 5.0]];
        let scaler = StandardScaler::fit(records.view())?;
        assert_eq!(scaler.offsets, vec![3.0, 30.0, 5.0]);
        // Population std of [1,2,3,6] is sqrt(3.5); the constant column keeps scale 1.
        assert!((scaler.scales[0] - 1.0 / 3.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(scaler.scales[2], 1.0);

        let linfa_scaled = LinearScaler::standard().fit(&DatasetBase::from(records.view()))?.transform(records.clone());
        let mut ours = records.clone();
        scaler.transform(ours.view_mut());
        assert_eq!(ours, linfa_scaled);

        let mut row = [3.0, 30.0, 7.0];
        scaler.transform_row(&mut row);
        assert_eq!(row, [0.0, 0.0, 2.0]);
        Ok(())
    }

    #[test]
    fn refuses_an_empty_training_set() {
        let empty = ndarray::Array2::<f64>::zeros((0, 3));
        let err = StandardScaler::fit(empty.view()).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.starts_with("cannot fit the standard scaler")), "{err:?}");
    }
}
