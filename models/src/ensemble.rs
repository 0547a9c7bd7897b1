//! The detectors together: an Isolation Forest and k-means distance, each
//! normalized by its own training score distribution, then averaged.
//!
//! **Normalization.** The two raw scores live on unrelated scales (a forest
//! score near 0.5, a distance in standard deviations). Each is mapped by
//! `(s − median) / (q99 − median)` of its training scores: 0 is a typical
//! training flow, 1 a flow at that detector's 99th percentile. Unlike an
//! ECDF (rank) this does not saturate at 1 above the training maximum, so
//! two flows beyond everything seen in training still rank by how far
//! beyond they are, which matters for ROC/PR evaluation and for
//! explanations.
//!
//! **Combination: the mean.** A flow reaches the top only when both views
//! find it unusual, or one finds it extremely unusual; the maximum would
//! also pass every false positive of either detector. The per-detector
//! scores stay available in [`DetectorScores`].

use linfa::{
    DatasetBase,
    traits::{Fit, Predict},
};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::{
    iforest::{ForestRow, IsolationForest, IsolationForestError, IsolationForestParams},
    kmeans_distance::{KMeansDistance, KMeansDistanceError, KMeansDistanceParams},
    quantiles::{DEFAULT_RESOLUTION, QuantileError, QuantileTable},
};

#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error(transparent)]
    IsolationForest(#[from] IsolationForestError),
    #[error(transparent)]
    KMeans(#[from] KMeansDistanceError),
    #[error("cannot normalize detector scores: {0}")]
    Normalize(#[from] QuantileError),
}

/// Maps one detector's raw score so that 0 is its training median and 1
/// its training 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreNormalizer {
    median: f64,
    spread: f64,
}

impl ScoreNormalizer {
    pub const UPPER_LEVEL: f64 = 0.99;

    pub fn fit(training: &QuantileTable) -> Self {
        let median = training.quantile(0.5);
        // A detector that is flat up to its 99th percentile falls back to
        // its maximum, and a constant one to unit spread.
        let spread = [training.quantile(Self::UPPER_LEVEL) - median, training.max() - median]
            .into_iter()
            .find(|spread| *spread > f64::EPSILON * median.abs().max(1.0))
            .unwrap_or(1.0);
        Self { median, spread }
    }

    pub fn normalize(&self, raw: f64) -> f64 {
        (raw - self.median) / self.spread
    }
}

/// One flow's scores: each detector's raw score and the combined one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorScores {
    /// Isolation Forest score in [0, 1].
    pub iforest: f64,
    /// Distance to the nearest k-means centroid (standardized units).
    pub kmeans: f64,
    /// Mean of the two normalized scores.
    pub combined: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    iforest: IsolationForest,
    kmeans: KMeansDistance,
    iforest_normalizer: ScoreNormalizer,
    kmeans_normalizer: ScoreNormalizer,
}

impl Ensemble {
    /// Fits both detectors on standardized rows; also returns the combined
    /// score of every training row (for calibration).
    pub fn fit(
        records: ArrayView2<'_, f64>,
        iforest: &IsolationForestParams,
        kmeans: &KMeansDistanceParams,
    ) -> Result<(Self, Vec<f64>), EnsembleError> {
        let dataset = DatasetBase::from(records);
        let forest: IsolationForest = iforest.fit(&dataset)?;
        let centroids: KMeansDistance = kmeans.fit(&dataset)?;
        let forest_scores = forest.predict(&records).to_vec();
        let kmeans_scores = centroids.predict(&records).to_vec();
        let normalizer = |scores: &[f64]| -> Result<ScoreNormalizer, QuantileError> {
            Ok(ScoreNormalizer::fit(&QuantileTable::from_scores(scores, DEFAULT_RESOLUTION)?))
        };
        let ensemble = Self {
            iforest_normalizer: normalizer(&forest_scores)?,
            kmeans_normalizer: normalizer(&kmeans_scores)?,
            iforest: forest,
            kmeans: centroids,
        };
        let combined = forest_scores.iter().zip(&kmeans_scores).map(|(&f, &k)| ensemble.combine(f, k)).collect();
        Ok((ensemble, combined))
    }

    pub fn iforest(&self) -> &IsolationForest {
        &self.iforest
    }

    /// Features each detector expects.
    pub fn dims(&self) -> (usize, usize) {
        (self.iforest.dims(), self.kmeans.dims())
    }

    /// Scores one standardized row; `forest_row` is scratch space for the
    /// forest's single-precision copy, reused across calls.
    pub fn score_with(&self, row: &[f64], forest_row: &mut ForestRow) -> DetectorScores {
        forest_row.load(row);
        self.score_given_forest(row, self.iforest.score_row(forest_row))
    }

    /// Completes the scores of a standardized row whose forest score was
    /// computed already (e.g. by [`IsolationForest::score_batch`]).
    pub fn score_given_forest(&self, row: &[f64], iforest: f64) -> DetectorScores {
        let kmeans = self.kmeans.score(row);
        DetectorScores { iforest, kmeans, combined: self.combine(iforest, kmeans) }
    }

    pub fn score(&self, row: &[f64]) -> DetectorScores {
        self.score_with(row, &mut ForestRow::new())
    }

    fn combine(&self, iforest: f64, kmeans: f64) -> f64 {
        0.5 * (self.iforest_normalizer.normalize(iforest) + self.kmeans_normalizer.normalize(kmeans))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand_linfa::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    #[test]
    fn normalizer_maps_median_to_0_and_q99_to_1() -> Result<(), QuantileError> {
        let scores: Vec<f64> = (0..=100).map(f64::from).collect();
        let normalizer = ScoreNormalizer::fit(&QuantileTable::from_scores(&scores, 100)?);
        assert_eq!(normalizer.normalize(50.0), 0.0);
        assert_eq!(normalizer.normalize(99.0), 1.0);
        assert_eq!(normalizer.normalize(148.0), 2.0);

        // Flat up to q99: the maximum sets the spread; flat everywhere: unit spread.
        let mut flat = vec![3.0; 1000];
        flat[999] = 5.0;
        let normalizer = ScoreNormalizer::fit(&QuantileTable::from_scores(&flat, 1000)?);
        assert_eq!(normalizer.normalize(5.0), 1.0);
        let normalizer = ScoreNormalizer::fit(&QuantileTable::from_scores(&[3.0; 10], 10)?);
        assert_eq!(normalizer.normalize(4.0), 1.0);
        Ok(())
    }

    #[test]
    fn combined_score_ranks_an_outlier_first() -> Result<(), Box<dyn std::error::Error>> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let records = Array2::from_shape_fn((2_000, 4), |_| rng.gen_range(-1.0..1.0));
        let (ensemble, training) =
            Ensemble::fit(records.view(), &IsolationForestParams::new(), &KMeansDistanceParams::new().clusters(4))?;
        assert_eq!(training.len(), 2_000);
        let typical = ensemble.score(&[0.0, 0.0, 0.0, 0.0]);
        let outlier = ensemble.score(&[5.0, -5.0, 5.0, 0.0]);
        let training_max = training.iter().copied().fold(f64::MIN, f64::max);
        assert!(typical.combined < 0.0, "{typical:?}");
        assert!(outlier.combined > training_max, "{outlier:?} vs training max {training_max}");
        assert!(outlier.iforest > 0.6 && outlier.kmeans > 5.0, "{outlier:?}");
        Ok(())
    }
}
