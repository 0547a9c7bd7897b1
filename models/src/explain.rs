//! Why a flow scored high, feature by feature, by occlusion: each feature
//! in turn is set back to its typical training value (the median) with the
//! others unchanged, and the drop in the combined score is that feature's
//! contribution. It needs nothing from the detectors' insides, so it
//! explains the ensemble as a whole, and it reads in the analyst's terms:
//! "with a normal number of distinct ports, this flow would score 2.1
//! lower". Interactions are not split: two features that are only unusual
//! together each get the part of the score they can undo alone.
//!
//! It costs one extra scoring per feature, so the scorer explains only the
//! flows it flags.

use serde::{Deserialize, Serialize};

use crate::features::Feature;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: Feature,
    /// The flow's value in the feature's own unit (bytes, seconds, a share…),
    /// before log scaling and standardization.
    pub value: f64,
    /// The training median, same unit.
    pub typical: f64,
    /// How much the combined score drops when only this feature is typical.
    pub contribution: f64,
}

/// The features (by column) whose replacement by `typical` lowers `score`
/// the most, with the drop, largest first; positive drops only, at most `top`.
pub fn occlusion(row: &[f64], typical: &[f64], top: usize, mut score: impl FnMut(&[f64]) -> f64) -> Vec<(usize, f64)> {
    let base = score(row);
    let mut probe = row.to_vec();
    let mut drops = Vec::new();
    for (column, (&value, &usual)) in row.iter().zip(typical).enumerate() {
        if value == usual {
            continue;
        }
        probe[column] = usual;
        let drop = base - score(&probe);
        probe[column] = value;
        if drop > 0.0 {
            drops.push((column, drop));
        }
    }
    drops.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    drops.truncate(top);
    drops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_the_features_that_raise_the_score() {
        // score = 3·x0 + x1 − x2: x0 and x1 above typical push it up, x2 above typical pulls it down.
        let score = |row: &[f64]| 3.0 * row[0] + row[1] - row[2];
        let drops = occlusion(&[2.0, 5.0, 4.0, 7.0], &[0.0, 0.0, 0.0, 7.0], 5, score);
        assert_eq!(drops, vec![(0, 6.0), (1, 5.0)]);
        let top1 = occlusion(&[2.0, 5.0, 4.0, 7.0], &[0.0, 0.0, 0.0, 7.0], 1, score);
        assert_eq!(top1, vec![(0, 6.0)]);
    }
}
