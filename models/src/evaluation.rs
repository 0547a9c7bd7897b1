//! Evaluation of a model on labelled flows: ranking quality (ROC-AUC,
//! PR-AUC, TPR at low FPR) and what the calibrated threshold catches, per
//! anomaly kind. [`EvaluationReport`] serializes to JSON and prints as a
//! plain-text table.

use std::{collections::BTreeMap, fmt, sync::Arc};

use serde::Serialize;

use crate::{
    AnomalyKind, FlowObservation, Labels, Model, Scored, Scorer,
    metrics::{average_precision, roc_auc, tpr_at_fpr},
    train::in_time_order,
};

/// One flow's result: its combined score, whether it was flagged, and its
/// ground truth (`None` = benign).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub score: f64,
    pub flagged: bool,
    pub kind: Option<AnomalyKind>,
}

impl Outcome {
    /// A scored flow of ground truth `kind`.
    pub fn of(scored: &Scored, kind: Option<AnomalyKind>) -> Self {
        Self { score: scored.detectors.combined, flagged: scored.is_anomaly, kind }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindRecall {
    pub kind: AnomalyKind,
    pub flows: u64,
    /// Flagged at the threshold.
    pub detected: u64,
    pub recall: f64,
}

/// Undefined values (a metric over one class only) are `null` in JSON and
/// `n/a` in the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvaluationReport {
    pub flows: u64,
    pub malicious: u64,
    pub benign: u64,
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    pub tpr_at_fpr_1e3: Option<f64>,
    pub tpr_at_fpr_1e2: Option<f64>,
    pub threshold_level: f64,
    pub flagged: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub false_positive_rate: Option<f64>,
    /// Kinds present in the labels, in [`AnomalyKind`] order.
    pub per_kind: Vec<KindRecall>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl EvaluationReport {
    pub fn from_outcomes(outcomes: &[Outcome], threshold_level: f64) -> Self {
        let scores: Vec<f64> = outcomes.iter().map(|o| o.score).collect();
        let malicious: Vec<bool> = outcomes.iter().map(|o| o.kind.is_some()).collect();
        let count = |keep: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| keep(o)).count() as u64;
        let positives = count(&|o| o.kind.is_some());
        let flagged = count(&|o| o.flagged);
        let true_positives = count(&|o| o.flagged && o.kind.is_some());
        let false_positives = flagged - true_positives;

        let mut per_kind: BTreeMap<AnomalyKind, (u64, u64)> = BTreeMap::new();
        for outcome in outcomes {
            if let Some(kind) = outcome.kind {
                let entry = per_kind.entry(kind).or_default();
                entry.0 += 1;
                entry.1 += u64::from(outcome.flagged);
            }
        }
        Self {
            flows: outcomes.len() as u64,
            malicious: positives,
            benign: outcomes.len() as u64 - positives,
            roc_auc: roc_auc(&scores, &malicious),
            pr_auc: average_precision(&scores, &malicious),
            tpr_at_fpr_1e3: tpr_at_fpr(&scores, &malicious, 1e-3),
            tpr_at_fpr_1e2: tpr_at_fpr(&scores, &malicious, 1e-2),
            threshold_level,
            flagged,
            true_positives,
            false_positives,
            precision: ratio(true_positives, flagged),
            recall: ratio(true_positives, positives),
            false_positive_rate: ratio(false_positives, outcomes.len() as u64 - positives),
            per_kind: per_kind
                .into_iter()
                .map(|(kind, (flows, detected))| KindRecall {
                    kind,
                    flows,
                    detected,
                    recall: ratio(detected, flows).unwrap_or(0.0),
                })
                .collect(),
        }
    }
}

/// Scores `flows` (in time order, with fresh host windows) and compares
/// with `labels`.
pub fn evaluate(model: Arc<Model>, flows: &[FlowObservation], labels: &Labels) -> EvaluationReport {
    let level = model.calibration().level();
    EvaluationReport::from_outcomes(&outcomes(model, flows, labels), level)
}

/// Scores `flows` (one capture: one host-window state, in time order) and
/// pairs each score with its ground truth, so outcomes of several captures
/// can be pooled into one report. The scorer keeps its default warm-up,
/// the mode the agent runs, so the figures describe the agent.
pub fn outcomes(model: Arc<Model>, flows: &[FlowObservation], labels: &Labels) -> Vec<Outcome> {
    let mut scorer = Scorer::new(model).explain_top(0);
    let ordered = in_time_order(flows);
    let mut scored = Vec::new();
    scorer.score_batch(&ordered, &mut scored);
    ordered
        .into_iter()
        .zip(scored)
        .map(|(flow, scored)| Outcome::of(&scored, labels.classify(flow).map(|label| label.kind)))
        .collect()
}

struct Metric(Option<f64>);

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value:.4}"),
            None => f.write_str("n/a"),
        }
    }
}

impl fmt::Display for EvaluationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "flows              {} ({} malicious, {} benign)", self.flows, self.malicious, self.benign)?;
        writeln!(f, "ROC-AUC            {}", Metric(self.roc_auc))?;
        writeln!(f, "PR-AUC             {}", Metric(self.pr_auc))?;
        writeln!(f, "TPR at FPR 1e-3    {}", Metric(self.tpr_at_fpr_1e3))?;
        writeln!(f, "TPR at FPR 1e-2    {}", Metric(self.tpr_at_fpr_1e2))?;
        writeln!(
            f,
            "threshold level {}: {} flagged, precision {}, recall {}, FPR {}",
            self.threshold_level,
            self.flagged,
            Metric(self.precision),
            Metric(self.recall),
            Metric(self.false_positive_rate)
        )?;
        if !self.per_kind.is_empty() {
            writeln!(f, "{:<14} {:>9} {:>9} {:>8}", "kind", "flows", "detected", "recall")?;
            for row in &self.per_kind {
                writeln!(f, "{:<14} {:>9} {:>9} {:>8.4}", row.kind.as_str(), row.flows, row.detected, row.recall)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(score: f64, flagged: bool, kind: Option<AnomalyKind>) -> Outcome {
        Outcome { score, flagged, kind }
    }

    #[test]
    fn report_counts_and_prints() -> Result<(), Box<dyn std::error::Error>> {
        let outcomes = [
            outcome(9.0, true, Some(AnomalyKind::PortScan)),
            outcome(8.0, true, Some(AnomalyKind::PortScan)),
            outcome(7.0, true, None),
            outcome(6.0, false, Some(AnomalyKind::Flood)),
            outcome(1.0, false, None),
            outcome(0.5, false, None),
        ];
        let report = EvaluationReport::from_outcomes(&outcomes, 0.99);
        assert_eq!((report.flows, report.malicious, report.benign), (6, 3, 3));
        // Pairs won: 9 and 8 beat all 3 benign, 6 beats 2 → 8 of 9.
        assert!((report.roc_auc.unwrap_or(f64::NAN) - 8.0 / 9.0).abs() < 1e-12);
        // Recall steps ⅓ at precision 1, 1, 3/4.
        assert!((report.pr_auc.unwrap_or(f64::NAN) - (1.0 + 1.0 + 0.75) / 3.0).abs() < 1e-12);
        assert_eq!(report.tpr_at_fpr_1e3, Some(2.0 / 3.0));
        assert_eq!((report.flagged, report.true_positives, report.false_positives), (3, 2, 1));
        assert_eq!(report.precision, Some(2.0 / 3.0));
        assert_eq!(report.false_positive_rate, Some(1.0 / 3.0));
        assert_eq!(
            report.per_kind,
            vec![
                KindRecall { kind: AnomalyKind::PortScan, flows: 2, detected: 2, recall: 1.0 },
                KindRecall { kind: AnomalyKind::Flood, flows: 1, detected: 0, recall: 0.0 },
            ]
        );

        let json: serde_json::Value = serde_json::to_value(&report)?;
        assert_eq!(json["per_kind"][0]["kind"], "port_scan");
        assert_eq!(json["tpr_at_fpr_1e2"], serde_json::json!(2.0 / 3.0));

        let table = report.to_string();
        assert!(table.contains("ROC-AUC            0.8889\n"), "{table}");
        assert!(table.contains("port_scan              2         2   1.0000\n"), "{table}");
        assert!(table.contains("flood                  1         0   0.0000\n"), "{table}");
        Ok(())
    }

    #[test]
    fn benign_only_has_no_ranking_metrics() {
        let report = EvaluationReport::from_outcomes(&[outcome(1.0, false, None), outcome(2.0, true, None)], 0.95);
        assert_eq!(report.roc_auc, None);
        assert_eq!(report.recall, None);
        assert!(report.to_string().contains("ROC-AUC            n/a\n"));
        assert_eq!(report.false_positive_rate, Some(0.5));
    }
}
