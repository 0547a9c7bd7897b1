//! Hyperparameters, checked the linfa way (`ParamGuard`).

use linfa::ParamGuard;
use serde::{Deserialize, Serialize};

use super::{IsolationForestError, MAX_SUBSAMPLE};

/// Checked hyperparameters; `Fit` is implemented on these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationForestValidParams {
    trees: usize,
    subsample: usize,
    seed: u64,
}

impl IsolationForestValidParams {
    pub fn trees(&self) -> usize {
        self.trees
    }

    /// ψ as asked for; a training set smaller than ψ uses all its rows.
    pub fn subsample(&self) -> usize {
        self.subsample
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Defaults from the paper (and scikit-learn): 100 trees, ψ = 256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self(IsolationForestValidParams { trees: 100, subsample: 256, seed: 0 })
    }
}

impl IsolationForestParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trees(mut self, trees: usize) -> Self {
        self.0.trees = trees;
        self
    }

    pub fn subsample(mut self, subsample: usize) -> Self {
        self.0.subsample = subsample;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;
    type Error = IsolationForestError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        if self.0.trees == 0 {
            return Err(IsolationForestError::NoTrees(self.0.trees));
        }
        if !(2..=MAX_SUBSAMPLE).contains(&self.0.subsample) {
            return Err(IsolationForestError::Subsample(self.0.subsample));
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}
