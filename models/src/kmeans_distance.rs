//! The second detector: distance to the nearest k-means centroid, with the
//! centroids fitted by linfa-clustering's k-means (k-means++ start, several
//! runs, the lowest inertia kept).
//!
//! Where the forest asks "how easy is this row to separate from the rest",
//! this asks "how far is it from every kind of traffic seen in training",
//! which catches rows that sit between clusters in many features at once
//! (hard for axis-aligned splits). Fitting uses a seeded random subsample of
//! at most [`KMeansDistanceParams::max_rows`] rows: centroids settle long
//! before 100,000 rows, and it keeps training time flat.

use linfa::{
    DatasetBase, ParamGuard,
    traits::{Fit, PredictInplace},
};
use linfa_clustering::{KMeans, KMeansError};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};
use rand_linfa::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum KMeansDistanceError {
    #[error("k-means needs at least one cluster and one run (got {clusters} clusters, {runs} runs)")]
    Params { clusters: usize, runs: usize },
    #[error("k-means with {clusters} clusters needs at least as many training rows (got {rows})")]
    TooFewRows { rows: usize, clusters: usize },
    #[error("k-means fitting failed: {0}")]
    Fit(#[from] KMeansError),
    #[error("k-means data is invalid: {0} (the model file is corrupt: retrain)")]
    Invalid(String),
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KMeansDistanceValidParams {
    clusters: usize,
    max_rows: usize,
    runs: usize,
    seed: u64,
}

/// Defaults: 8 clusters, at most 4,096 rows, 3 runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KMeansDistanceParams(KMeansDistanceValidParams);

impl Default for KMeansDistanceParams {
    fn default() -> Self {
        Self(KMeansDistanceValidParams { clusters: 8, max_rows: 4_096, runs: 3, seed: 0 })
    }
}

impl KMeansDistanceParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clusters(mut self, clusters: usize) -> Self {
        self.0.clusters = clusters;
        self
    }

    /// Rows drawn (without replacement) from the training set to fit on.
    pub fn max_rows(mut self, max_rows: usize) -> Self {
        self.0.max_rows = max_rows;
        self
    }

    pub fn runs(mut self, runs: usize) -> Self {
        self.0.runs = runs;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for KMeansDistanceParams {
    type Checked = KMeansDistanceValidParams;
    type Error = KMeansDistanceError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        let p = &self.0;
        if p.clusters == 0 || p.runs == 0 || p.max_rows < p.clusters {
            return Err(KMeansDistanceError::Params { clusters: p.clusters, runs: p.runs });
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Centroids, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "CentroidsRepr", try_from = "CentroidsRepr")]
pub struct KMeansDistance {
    dims: usize,
    centroids: Vec<f64>,
}

impl KMeansDistance {
    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn clusters(&self) -> usize {
        self.centroids.len() / self.dims
    }

    /// Euclidean distance from `row` to the nearest centroid.
    pub fn score(&self, row: &[f64]) -> f64 {
        self.centroids
            .chunks_exact(self.dims)
            .map(|centroid| centroid.iter().zip(row).map(|(c, x)| (x - c) * (x - c)).sum::<f64>())
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, KMeansDistanceError> for KMeansDistanceValidParams {
    type Object = KMeansDistance;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeansDistance, KMeansDistanceError> {
        let records = dataset.records();
        let (rows, dims) = records.dim();
        if rows < self.clusters || dims == 0 {
            return Err(KMeansDistanceError::TooFewRows { rows, clusters: self.clusters });
        }
        let mut rng = Xoshiro256Plus::seed_from_u64(self.seed);
        let picked = rand_linfa::seq::index::sample(&mut rng, rows, self.max_rows.min(rows)).into_vec();
        let sample: Array2<f64> = records.select(ndarray::Axis(0), &picked);
        let kmeans: KMeans<f64, _> = KMeans::params_with_rng(self.clusters, rng)
            .n_runs(self.runs)
            .max_n_iterations(100)
            .fit(&DatasetBase::from(sample))?;
        Ok(KMeansDistance { dims, centroids: kmeans.centroids().iter().copied().collect() })
    }
}

/// One distance per row.
///
/// # Panics
/// When `x` has another number of columns than the training data, or `y`
/// another length than `x` has rows.
impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for KMeansDistance {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        assert_eq!(x.ncols(), self.dims, "rows must have as many features as the training data");
        assert_eq!(x.nrows(), y.len(), "one target per row");
        for (row, target) in x.rows().into_iter().zip(y.iter_mut()) {
            *target = match row.as_slice() {
                Some(slice) => self.score(slice),
                None => self.score(&row.to_vec()),
            };
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

#[derive(Serialize, Deserialize)]
struct CentroidsRepr {
    centroids: Vec<Vec<f64>>,
}

impl From<KMeansDistance> for CentroidsRepr {
    fn from(model: KMeansDistance) -> Self {
        Self { centroids: model.centroids.chunks_exact(model.dims).map(<[f64]>::to_vec).collect() }
    }
}

impl TryFrom<CentroidsRepr> for KMeansDistance {
    type Error = KMeansDistanceError;

    fn try_from(repr: CentroidsRepr) -> Result<Self, Self::Error> {
        let dims = repr.centroids.first().map_or(0, Vec::len);
        if dims == 0 {
            return Err(KMeansDistanceError::Invalid("no centroids".to_owned()));
        }
        if repr.centroids.iter().any(|c| c.len() != dims || c.iter().any(|v| !v.is_finite())) {
            return Err(KMeansDistanceError::Invalid("centroids of different lengths or non-finite values".to_owned()));
        }
        Ok(Self { dims, centroids: repr.centroids.concat() })
    }
}

#[cfg(test)]
mod tests {
    use linfa::traits::Predict;
    use ndarray::array;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Two tight groups of four points around (0, 0) and (10, 10).
    fn two_groups() -> Array2<f64> {
        array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [10.0, 10.0], [10.0, 11.0], [11.0, 10.0], [11.0, 11.0]]
    }

    #[test]
    fn distance_to_the_nearest_of_two_centroids() -> TestResult {
        let model = KMeansDistanceParams::new().clusters(2).seed(3).fit(&DatasetBase::from(two_groups()))?;
        assert_eq!(model.clusters(), 2);
        // Centroids (0.5, 0.5) and (10.5, 10.5), to k-means' convergence tolerance.
        assert!((model.score(&[0.5, 0.5])).abs() < 1e-4);
        assert!((model.score(&[10.5, 13.5]) - 3.0).abs() < 1e-4);
        assert!((model.score(&[0.5, 4.5]) - 4.0).abs() < 1e-4);
        let scores: Array1<f64> = model.predict(&array![[0.5, 0.5], [10.5, 13.5]]);
        assert!((scores[1] - 3.0).abs() < 1e-4);
        Ok(())
    }

    #[test]
    fn seeded_fits_are_identical_and_round_trip() -> TestResult {
        let params = KMeansDistanceParams::new().clusters(2).seed(9);
        let a = params.fit(&DatasetBase::from(two_groups()))?;
        let b = params.fit(&DatasetBase::from(two_groups()))?;
        assert_eq!(a, b);
        let back: KMeansDistance = serde_json::from_str(&serde_json::to_string(&a)?)?;
        assert_eq!(back, a);
        assert!(serde_json::from_str::<KMeansDistance>(r#"{"centroids":[[1.0,2.0],[3.0]]}"#).is_err());
        Ok(())
    }

    #[test]
    fn too_few_rows_for_the_clusters() {
        let err = KMeansDistanceParams::new()
            .clusters(8)
            .fit(&DatasetBase::from(two_groups().slice_move(ndarray::s![..3, ..])));
        assert_eq!(
            err.err().map(|e| e.to_string()).as_deref(),
            Some("k-means with 8 clusters needs at least as many training rows (got 3)")
        );
    }
}
