//! Model outliers: a flow the model scored above its calibrated threshold.
//! The agent maps the models crate's output onto [`MlVerdict`]; the event
//! carries the threshold and the features that drove the score.

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
    /// The features that pushed the score up most, largest first.
    pub top_features: Vec<FeatureContribution>,
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

/// How far past the threshold, as a share of the room above it:
/// `(score − threshold) / (1 − threshold)` below ⅓ is low, below ⅔ medium,
/// else high. The threshold itself was calibrated for a false-positive
/// rate, so a score just past it is the least certain finding.
fn severity(verdict: &MlVerdict) -> Severity {
    let room = (1.0 - verdict.threshold).max(f64::EPSILON);
    let margin = (verdict.score - verdict.threshold) / room;
    if margin >= 2.0 / 3.0 {
        Severity::High
    } else if margin >= 1.0 / 3.0 {
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

    fn verdict(score: f64, is_anomaly: bool) -> MlVerdict {
        MlVerdict {
            score,
            threshold: 0.6,
            is_anomaly,
            top_features: vec![FeatureContribution { feature: "orig_bytes".into(), value: 9e8, contribution: 0.7 }],
        }
    }

    #[test]
    fn anomalous_verdicts_become_findings_graded_by_margin() {
        let flow = tcp_session(1, "10.0.0.5", "203.0.113.9", 443, 0.0, 900, 9_000);
        let facts = FlowFacts::new(&flow, true, &Networks::new(default_internal_networks()));
        assert_eq!(judge(&facts, &verdict(0.9, false)), None);
        let grades: Vec<_> =
            [0.65, 0.8, 0.9].iter().filter_map(|s| judge(&facts, &verdict(*s, true))).map(|f| f.severity).collect();
        assert_eq!(grades, vec![Severity::Low, Severity::Medium, Severity::High]);
        let finding = judge(&facts, &verdict(0.9, true)).unwrap_or_else(|| panic!("no finding"));
        assert_eq!(finding.score, 0.9);
        assert!(finding.summary.ends_with("driven by orig_bytes"), "{}", finding.summary);
        assert_eq!(finding.flows.refs[0].flow_id, 1);
    }
}
