//! Ranking metrics over scores and binary labels (true = malicious).
//!
//! All of them walk one ROC curve built with tied scores grouped into a
//! single step, so a tie between a malicious and a benign flow counts half
//! (ROC-AUC) and never lets a threshold split equal scores, as
//! scikit-learn's `roc_curve`, `roc_auc_score` and
//! `average_precision_score` do. Each returns `None` when the labels hold
//! only one class, where the metric is undefined.

/// Cumulative (false positives, true positives) at each distinct score,
/// from the highest score down, starting at (0, 0).
struct RocSteps {
    steps: Vec<(u64, u64)>,
    positives: u64,
    negatives: u64,
}

impl RocSteps {
    fn new(scores: &[f64], malicious: &[bool]) -> Option<Self> {
        let mut ranked: Vec<(f64, bool)> = scores.iter().copied().zip(malicious.iter().copied()).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let positives = ranked.iter().filter(|(_, m)| *m).count() as u64;
        let negatives = ranked.len() as u64 - positives;
        if positives == 0 || negatives == 0 {
            return None;
        }
        let mut steps = vec![(0, 0)];
        let (mut fp, mut tp) = (0, 0);
        for (index, &(score, is_malicious)) in ranked.iter().enumerate() {
            if is_malicious {
                tp += 1;
            } else {
                fp += 1;
            }
            let last_of_tie = ranked.get(index + 1).is_none_or(|next| next.0 != score);
            if last_of_tie {
                steps.push((fp, tp));
            }
        }
        Some(Self { steps, positives, negatives })
    }

    fn rates(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.steps.iter().map(|&(fp, tp)| (fp as f64 / self.negatives as f64, tp as f64 / self.positives as f64))
    }
}

/// Area under the ROC curve (trapezoids; ties count half).
pub fn roc_auc(scores: &[f64], malicious: &[bool]) -> Option<f64> {
    let roc = RocSteps::new(scores, malicious)?;
    let points: Vec<(f64, f64)> = roc.rates().collect();
    Some(points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum())
}

/// Average precision: the sum over thresholds of (recall gained) × precision.
pub fn average_precision(scores: &[f64], malicious: &[bool]) -> Option<f64> {
    let roc = RocSteps::new(scores, malicious)?;
    let area = roc
        .steps
        .windows(2)
        .map(|w| {
            let (fp, tp) = w[1];
            let recall_gained = (tp - w[0].1) as f64 / roc.positives as f64;
            recall_gained * tp as f64 / (tp + fp) as f64
        })
        .sum();
    Some(area)
}

/// The highest true-positive rate of any threshold whose false-positive
/// rate is at most `max_fpr`.
pub fn tpr_at_fpr(scores: &[f64], malicious: &[bool], max_fpr: f64) -> Option<f64> {
    let roc = RocSteps::new(scores, malicious)?;
    roc.rates().filter(|(fpr, _)| *fpr <= max_fpr).map(|(_, tpr)| tpr).reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn sklearn_reference_without_ties() {
        // roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75; average_precision_score = 0.8333…
        let (scores, labels) = ([0.1, 0.4, 0.35, 0.8], [false, false, true, true]);
        assert!((roc_auc(&scores, &labels).unwrap_or(f64::NAN) - 0.75).abs() < EPS);
        assert!((average_precision(&scores, &labels).unwrap_or(f64::NAN) - 5.0 / 6.0).abs() < EPS);
    }

    #[test]
    fn ties_count_half() {
        // Malicious 0.9 0.7 0.5 0.1 vs benign 0.5 0.5 0.3 0.2: of 16 pairs the
        // malicious flow wins 4 + 4 + 2 + 0, and 0.5 ties twice (2 × ½):
        // AUC 11/16 = 0.6875 (scikit-learn agrees). AP: recall steps of ¼ at
        // precision 1, 1, 3/5 and 1/2 → 0.775.
        let scores = [0.5, 0.5, 0.2, 0.9, 0.1, 0.3, 0.5, 0.7];
        let labels = [false, true, false, true, true, false, false, true];
        assert!((roc_auc(&scores, &labels).unwrap_or(f64::NAN) - 0.6875).abs() < EPS);
        assert!((average_precision(&scores, &labels).unwrap_or(f64::NAN) - 0.775).abs() < EPS);
        // ROC points: (0,0) (0,¼) (0,½) (½,¾) (¾,¾) (1,1).
        assert_eq!(tpr_at_fpr(&scores, &labels, 0.0), Some(0.5));
        assert_eq!(tpr_at_fpr(&scores, &labels, 0.49), Some(0.5));
        assert_eq!(tpr_at_fpr(&scores, &labels, 0.5), Some(0.75));
        assert_eq!(tpr_at_fpr(&scores, &labels, 1.0), Some(1.0));
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let labels = [true, true, false, false, false];
        assert_eq!(roc_auc(&[5.0, 4.0, 3.0, 2.0, 1.0], &labels), Some(1.0));
        assert_eq!(average_precision(&[5.0, 4.0, 3.0, 2.0, 1.0], &labels), Some(1.0));
        assert_eq!(roc_auc(&[1.0, 2.0, 3.0, 4.0, 5.0], &labels), Some(0.0));
        // All tied: a coin flip.
        assert_eq!(roc_auc(&[1.0; 5], &labels), Some(0.5));
        assert_eq!(average_precision(&[1.0; 5], &labels), Some(0.4));
    }

    #[test]
    fn one_class_is_undefined() {
        assert_eq!(roc_auc(&[1.0, 2.0], &[false, false]), None);
        assert_eq!(average_precision(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(tpr_at_fpr(&[], &[], 0.01), None);
    }
}
