//! The models section: training time on 100,000 flows, scoring throughput
//! on one core with 100 trees, model file size, detection quality on
//! labelled flows, and scikit-learn's IsolationForest on the very same
//! standardized feature matrix (`tests/bench/sklearn_iforest.py`).
//!
//! [`run`] measures on synthetic flows ([`synthetic`]); [`measure`] takes
//! any benign training flows and labelled test flows (e.g. replayed
//! captures). Needs no root and no eBPF.

mod sklearn;
mod synthetic;

use std::{sync::Arc, time::Instant};

use ::models::{
    FeatureExtractor, FlowObservation, Labels, Model, Scorer, TrainConfig,
    evaluation::{EvaluationReport, Outcome},
    iforest::{IsolationForest, IsolationForestParams},
    metrics::roc_auc,
    train::in_time_order,
};
use anyhow::Result;
use linfa::{
    DatasetBase,
    traits::{Fit, Predict},
};
use ndarray::{Array1, Array2};

use crate::report::Report;

const SECTION: &str = "models";
/// Forests per side in the comparison with scikit-learn.
const SEEDS: u64 = 5;

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

pub fn run(report: &mut Report, train_flows: usize) -> Result<()> {
    eprintln!("models: {train_flows} synthetic benign flows to train on, half as many with attacks to test on");
    let train = synthetic::benign(train_flows, 0.0, 1);
    let test_start = train.last().map_or(0.0, |flow| flow.end_ns as f64 / 1e9) + 600.0;
    let test = synthetic::with_attacks(train_flows / 2, test_start, 2);
    measure(report, &train, &test.flows, &test.labels, "synthetic")
}

/// Standardized feature matrix of `flows` (taken in time order), as the model sees it.
fn standardized(model: &Model, flows: &[&FlowObservation]) -> Array2<f64> {
    let mut matrix = FeatureExtractor::new(model.window()).extract_matrix(flows.iter().copied());
    model.standardize(matrix.view_mut());
    matrix
}

pub fn measure(
    report: &mut Report,
    train: &[FlowObservation],
    test: &[FlowObservation],
    labels: &Labels,
    source: &str,
) -> Result<()> {
    let config = TrainConfig { sources: vec![source.to_owned()], ..TrainConfig::default() };
    let started = Instant::now();
    let model = ::models::train(train, &config)?;
    let training = started.elapsed().as_secs_f64();
    report
        .add(SECTION, format!("training on {} flows (features, scaler, both detectors)", train.len()), training, "s")
        .target("< 2")
        .note(format!("{} trees, ψ = {}", model.training().iforest.trees(), model.ensemble().iforest().samples()));
    let file_bytes = model.to_bytes()?.len();
    report
        .add(SECTION, "model file size", file_bytes as f64 / 1e6, "MB")
        .target("< 5")
        .note(format!("{file_bytes} bytes, {} forest nodes", model.ensemble().iforest().nodes()));
    let model = Arc::new(model);

    // The live path, one flow at a time: features + host windows, scaling,
    // both detectors, calibration; then again with explanations of the
    // flagged flows (one extra scoring per feature each).
    let ordered = in_time_order(test);
    let mut scorer = Scorer::new(Arc::clone(&model)).explain_top(0);
    let started = Instant::now();
    let flagged = ordered.iter().filter(|flow| scorer.score(flow).is_anomaly).count();
    let scoring = started.elapsed().as_secs_f64();
    report
        .add(SECTION, "scoring flows (features → detectors → calibration)", ordered.len() as f64 / scoring, "flows/s")
        .target(">= 500000")
        .note(format!("one core, {} flows, no explanations", ordered.len()));
    let mut scorer = Scorer::new(Arc::clone(&model));
    let started = Instant::now();
    let scored: Vec<_> = ordered.iter().map(|flow| scorer.score(flow)).collect();
    let explaining = started.elapsed().as_secs_f64() - scoring;
    report.add(SECTION, "explaining a flagged flow (occlusion)", explaining / flagged.max(1) as f64 * 1e6, "µs").note(
        format!("{flagged} flagged; {:.0} flows/s with explanations", ordered.len() as f64 / (scoring + explaining)),
    );

    let train_ordered = in_time_order(train);
    let train_matrix = standardized(&model, &train_ordered);
    let test_matrix = standardized(&model, &ordered);
    let forest = model.ensemble().iforest();
    let started = Instant::now();
    let forest_scores: Array1<f64> = forest.predict(&test_matrix);
    let forest_seconds = started.elapsed().as_secs_f64();
    report
        .add(SECTION, "Isolation Forest alone on standardized rows", ordered.len() as f64 / forest_seconds, "flows/s")
        .target(">= 500000")
        .note(format!("one core, {} trees", forest.trees()));

    let kinds: Vec<_> = ordered.iter().map(|flow| labels.classify(flow).map(|label| label.kind)).collect();
    let malicious: Vec<bool> = kinds.iter().map(Option::is_some).collect();
    let outcomes: Vec<Outcome> = scored
        .iter()
        .zip(&kinds)
        .map(|(s, &kind)| Outcome { score: s.detectors.combined, flagged: s.is_anomaly, kind })
        .collect();
    let evaluation = EvaluationReport::from_outcomes(&outcomes, model.calibration().level());
    eprintln!("{evaluation}");
    let metric = |value: Option<f64>| value.unwrap_or(f64::NAN);
    let kmeans_scores: Vec<f64> = scored.iter().map(|s| s.detectors.kmeans).collect();
    let ours_forest_auc = metric(roc_auc(forest_scores.as_slice().unwrap_or(&[]), &malicious));
    report.add(SECTION, "ROC-AUC, ensemble", metric(evaluation.roc_auc), "").note(format!(
        "{:.4}; {} of {} test flows malicious",
        metric(evaluation.roc_auc),
        evaluation.malicious,
        evaluation.flows
    ));
    report.add(SECTION, "ROC-AUC, Isolation Forest alone", ours_forest_auc, "").note(format!("{ours_forest_auc:.4}"));
    let kmeans_auc = metric(roc_auc(&kmeans_scores, &malicious));
    report.add(SECTION, "ROC-AUC, k-means distance alone", kmeans_auc, "").note(format!("{kmeans_auc:.4}"));
    report
        .add(SECTION, "PR-AUC, ensemble", metric(evaluation.pr_auc), "")
        .note(format!("{:.4}", metric(evaluation.pr_auc)));
    report.add(SECTION, "TPR at FPR 1e-3, ensemble", metric(evaluation.tpr_at_fpr_1e3), "");
    report.add(SECTION, "TPR at FPR 1e-2, ensemble", metric(evaluation.tpr_at_fpr_1e2), "");
    report
        .add(
            SECTION,
            format!("FPR at threshold level {}", evaluation.threshold_level),
            metric(evaluation.false_positive_rate),
            "",
        )
        .target(format!("≈ {:.2}", 1.0 - evaluation.threshold_level))
        .note(format!("{:.4}", metric(evaluation.false_positive_rate)));
    for kind in &evaluation.per_kind {
        report
            .add(SECTION, format!("recall at threshold: {}", kind.kind), kind.recall, "")
            .note(format!("{} of {} flows", kind.detected, kind.flows));
    }

    // Forests differ by seed by a few thousandths of AUC: compare the mean
    // over the same number of seeds on each side.
    let mut ours = Vec::new();
    for seed in 0..SEEDS {
        let params = IsolationForestParams::new().seed(seed);
        let seeded: IsolationForest = params.fit(&DatasetBase::from(train_matrix.view()))?;
        let scores: Array1<f64> = seeded.predict(&test_matrix);
        ours.push(metric(roc_auc(scores.as_slice().unwrap_or(&[]), &malicious)));
    }
    let sklearn = sklearn::run(train_matrix.view(), test_matrix.view(), &malicious, SEEDS)?;
    let (ours_mean, theirs_mean) = (mean(&ours), mean(&sklearn.roc_auc));
    report.add(SECTION, format!("ROC-AUC, our forest, mean of {SEEDS} seeds"), ours_mean, "").note(format!(
        "{ours_mean:.4} (min {:.4}, max {:.4})",
        min(&ours),
        max(&ours)
    ));
    report.add(SECTION, format!("ROC-AUC, scikit-learn forest, mean of {SEEDS} seeds"), theirs_mean, "").note(format!(
        "{theirs_mean:.4} (min {:.4}, max {:.4}), PR-AUC {:.4}, scikit-learn {}",
        min(&sklearn.roc_auc),
        max(&sklearn.roc_auc),
        mean(&sklearn.pr_auc),
        sklearn.sklearn_version
    ));
    report
        .add(SECTION, "ROC-AUC ours − scikit-learn (forest, seed means)", ours_mean - theirs_mean, "")
        .target(">= 0")
        .note(format!(
            "{:+.4}; our ensemble {:+.4}",
            ours_mean - theirs_mean,
            metric(evaluation.roc_auc) - theirs_mean
        ));
    report
        .add(SECTION, "scoring speed-up over scikit-learn (forest alone)", sklearn.score_seconds / forest_seconds, "x")
        .target(">= 20x")
        .note(format!(
            "{} rows: {:.1} ms vs {:.1} ms; scikit-learn fit {:.2} s",
            sklearn.test_rows,
            forest_seconds * 1e3,
            sklearn.score_seconds * 1e3,
            sklearn.fit_seconds
        ));
    Ok(())
}
