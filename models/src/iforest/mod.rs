//! Isolation Forest (Liu, Ting & Zhou, 2008) on linfa's traits.
//!
//! Each tree is grown on a random subsample of ψ rows (without replacement)
//! by splitting on a random feature at a uniformly random value between the
//! node's minimum and maximum, until a row is alone or the depth limit
//! ⌈log2 ψ⌉ is reached. Anomalies are isolated in fewer splits, so the
//! score of a row x is `s(x) = 2^(-E[h(x)] / c(ψ))` in [0, 1], where `h` is
//! the path length in one tree (plus `c(n)` for a leaf still holding `n`
//! rows) and `c` is [`average_path_length`]: s ≈ 0.5 for ordinary rows,
//! s → 1 for rows isolated quickly.
//!
//! - [`IsolationForestParams`] implements linfa's `ParamGuard`, and its
//!   checked form implements `Fit`, so `params.fit(&dataset)` trains;
//! - [`IsolationForest`] implements `PredictInplace` (hence linfa's
//!   `Predict`) returning one score per row.
//!
//! Training draws from one Xoshiro256++ stream seeded by the parameters'
//! seed: the same seed and data give a bit-identical forest.
//!
//! Like scikit-learn, the forest works in `f32` (features are standardized,
//! so single precision loses nothing that matters), which halves the nodes
//! and keeps 100 trees in the L2 cache while scoring.

mod forest;
mod grow;
mod params;

pub use forest::{BATCH_ROWS, ForestBatch, ForestRow, IsolationForest};
pub use params::{IsolationForestParams, IsolationForestValidParams};

/// Largest subsample: node indices within a tree are `u16` (≤ 2ψ − 1 nodes).
pub const MAX_SUBSAMPLE: usize = 32_768;
/// Feature indices in a node are `u8`, so a [`ForestRow`] of this many
/// values can be indexed by any node without a bounds check.
pub const MAX_FEATURES: usize = 256;

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `c(n)`: the average path length of an unsuccessful search in a binary
/// search tree of `n` items, `2 H(n−1) − 2 (n−1) / n` with the harmonic
/// number `H(i) ≈ ln i + γ`; `c(2) = 1`, `c(n ≤ 1) = 0`. The same
/// definition as the paper and scikit-learn.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IsolationForestError {
    #[error("isolation forest needs at least one tree (got {0})")]
    NoTrees(usize),
    #[error("isolation forest subsample must be between 2 and {MAX_SUBSAMPLE} rows (got {0})")]
    Subsample(usize),
    #[error("isolation forest needs at least 2 training rows with at least 1 feature (got {rows} × {features})")]
    TooLittleData { rows: usize, features: usize },
    #[error("isolation forest supports at most {MAX_FEATURES} features (got {0})")]
    TooManyFeatures(usize),
    #[error("isolation forest data is invalid: {0} (the model file is corrupt: retrain)")]
    Invalid(String),
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

#[cfg(test)]
mod tests;
