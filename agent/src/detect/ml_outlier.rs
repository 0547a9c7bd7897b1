//! Model outliers: a flow the model scored above its calibrated threshold.
//! The agent maps the models crate's output onto [`MlVerdict`]; the event
//! carries the threshold and the features that drove the score.
//!
//! Severity is graded by how far the flow lies beyond the *training*
//! traffic, not by its rank among the training flows: a threshold at level
//! `a` flags about `1 − a` of benign flows by design, so any grading inside
//! that top slice (e.g. "above 99.67 % of training flows is high") turns a
//! fixed share of benign traffic into high alerts. Only a flow the model
//! finds stranger than everything it was trained on can be medium, and only
//! one well beyond that high.

use models::calibration::Calibration;
use serde::{Deserialize, Serialize};

use super::{
    facts::FlowFacts,
    finding::{Entity, Finding, FlowSample},
};
use crate::event::{AnomalyKind, Evidence, FeatureContribution, Severity};

/// The model's verdict on one flow.
#[derive(Clone, Debug, PartialEq)]
pub struct MlVerdict {
    /// Anomaly score, higher is more anomalous (in [0, 1] for an Isolation Forest).
    pub score: f64,
    /// The calibrated threshold the score is compared with.
    pub threshold: f64,
    pub is_anomaly: bool,
    /// How far beyond the training traffic the flow's raw score lies (see
    /// [`beyond_training`]): negative within the training range, above 0
    /// past the training maximum.
    pub beyond_training: f64,
    /// The features that pushed the score up most, largest first.
    pub top_features: Vec<FeatureContribution>,
}

/// How far a raw (combined) score lies past the highest training score, in
/// units of the training distribution's own upper tail (maximum − threshold;
/// the maximum − median when the threshold sits at the maximum): 0 at the
/// training maximum, 1 when the flow is as far beyond the maximum as the
/// maximum is beyond the threshold, negative inside the training range.
pub fn beyond_training(calibration: &Calibration, combined: f64) -> f64 {
    let training = calibration.training_scores();
    let max = training.max();
    let tail = [max - calibration.threshold(), max - training.quantile(0.5)]
        .into_iter()
        .find(|width| *width > f64::EPSILON * max.abs().max(1.0))
        .unwrap_or(1.0);
    (combined - max) / tail
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlOutlierConfig {
    pub enabled: bool,
}

impl Default for MlOutlierConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Low while the flow is within the range of the training scores (the
/// threshold's expected false positives live there), medium once it is
/// beyond every training flow, high from one tail-width beyond (see
/// [`beyond_training`]).
fn severity(verdict: &MlVerdict) -> Severity {
    if verdict.beyond_training >= 1.0 {
        Severity::High
    } else if verdict.beyond_training > 0.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// A finding for an anomalous verdict on a flow's record.
pub fn judge(facts: &FlowFacts<'_>, verdict: &MlVerdict) -> Option<Finding> {
    if !verdict.is_anomaly {
        return None;
    }
    let flow = facts.flow;
    let drivers: Vec<&str> = verdict.top_features.iter().take(3).map(|f| f.feature.as_str()).collect();
    Some(Finding {
        kind: AnomalyKind::MlOutlier,
        entity: Entity::Service { src: flow.src_ip, dst: flow.dst_ip, proto: flow.proto, port: flow.dst_port },
        severity: severity(verdict),
        score: verdict.score,
        summary: format!(
            "flow {}:{} → {}:{} scored {:.3} (threshold {:.3}), driven by {}",
            flow.src_ip,
            flow.src_port,
            flow.dst_ip,
            flow.dst_port,
            verdict.score,
            verdict.threshold,
            if drivers.is_empty() { "no single feature".to_string() } else { drivers.join(", ") }
        ),
        src_ip: Some(flow.src_ip),
        src_port: Some(flow.src_port),
        dst_ip: Some(flow.dst_ip),
        dst_port: Some(flow.dst_port),
        proto: Some(flow.proto),
        first_ns: flow.start_ns,
        last_ns: flow.end_ns,
        evidence: Evidence::MlOutlier { threshold: verdict.threshold, top_features: verdict.top_features.clone() },
        flows: FlowSample::of(flow),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{
        facts::tests::tcp_session,
        networks::{Networks, default_internal_networks},
    };

    fn verdict(score: f64, beyond_training: f64, is_anomaly: bool) -> MlVerdict {
        MlVerdict {
            score,
            threshold: 0.6,
            is_anomaly,
            beyond_training,
            top_features: vec![FeatureContribution { feature: "orig_bytes".into(), value: 9e8, contribution: 0.7 }],
        }
    }

    #[test]
    fn anomalous_verdicts_become_findings_graded_by_margin() {
        let flow = tcp_session(1, "10.0.0.5", "203.0.113.9", 443, 0.0, 900, 9_000);
        let facts = FlowFacts::new(&flow, true, &Networks::new(default_internal_networks()));
        assert_eq!(judge(&facts, &verdict(0.9, 2.0, false)), None);
        let grades: Vec<_> = [-0.5, 0.0, 0.01, 0.99, 1.0, 7.0]
            .iter()
            .filter_map(|beyond| judge(&facts, &verdict(0.99, *beyond, true)))
            .map(|f| f.severity)
            .collect();
        use Severity::{High, Low, Medium};
        assert_eq!(grades, vec![Low, Low, Medium, Medium, High, High]);
        let finding = judge(&facts, &verdict(0.9, 1.0, true)).unwrap_or_else(|| panic!("no finding"));
        assert_eq!(finding.score, 0.9);
        assert!(finding.summary.ends_with("driven by orig_bytes"), "{}", finding.summary);
        assert_eq!(finding.flows.refs[0].flow_id, 1);
    }

    #[test]
    fn distance_beyond_training_is_measured_in_tail_widths() -> Result<(), models::calibration::CalibrationError> {
        // Training scores 0..=100: median 50, 0.9-quantile 90, maximum 100.
        let scores: Vec<f64> = (0..=100).map(f64::from).collect();
        let calibration = Calibration::fit(&scores, 0.9)?;
        let tail_widths: Vec<f64> =
            [95.0, 100.0, 105.0, 110.0, 130.0].iter().map(|s| beyond_training(&calibration, *s)).collect();
        assert_eq!(tail_widths, vec![-0.5, 0.0, 0.5, 1.0, 3.0]);
        // Threshold at the maximum: the tail is measured from the median instead.
        let at_max = Calibration::fit(&scores, 1.0)?;
        assert_eq!(beyond_training(&at_max, 125.0), 0.5);
        Ok(())
    }
}
