//! `flowwatch evaluate`: a model's ranking quality and threshold behaviour
//! on labelled captures, pooled and per capture.

use std::{io::Write as _, path::PathBuf, sync::Arc};

use models::{EvaluationReport, Labels, Model, outcomes};
use serde::Serialize;

use super::collect::observe_capture;
use crate::{cli::EvaluateArgs, sink::OutputPath};

#[derive(Serialize)]
struct CaptureReport {
    file: PathBuf,
    report: EvaluationReport,
}

#[derive(Serialize)]
struct Report {
    #[serde(rename = "type")]
    record_type: &'static str,
    model: PathBuf,
    labels: PathBuf,
    pooled: EvaluationReport,
    captures: Vec<CaptureReport>,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let mut model = Model::load(&args.model)?;
    if let Some(level) = args.threshold {
        model.set_threshold_level(level)?;
    }
    let level = model.calibration().level();
    let model = Arc::new(model);
    let labels = Labels::load(&args.labels)?;
    let mut pooled = Vec::new();
    let mut captures = Vec::new();
    for file in &args.files {
        let flows = observe_capture(file, &args.table, None)?;
        let scored = outcomes(Arc::clone(&model), &flows, &labels);
        captures.push(CaptureReport { file: file.clone(), report: EvaluationReport::from_outcomes(&scored, level) });
        pooled.extend(scored);
    }
    let report = Report {
        record_type: "evaluation",
        model: args.model,
        labels: args.labels,
        pooled: EvaluationReport::from_outcomes(&pooled, level),
        captures,
    };
    let table = render(&report);
    match &args.json {
        Some(OutputPath::Stdout) => {
            eprint!("{table}");
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Some(OutputPath::File(path)) => {
            std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            print!("{table}");
        }
        None => print!("{table}"),
    }
    std::io::stdout().flush()?;
    Ok(())
}

fn metric(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"))
}

fn render(report: &Report) -> String {
    let mut out = format!("{}\n\nper capture:\n", report.pooled);
    out.push_str(&format!(
        "  {:<48} {:>7} {:>9} {:>8} {:>8} {:>8}\n",
        "capture", "flows", "malicious", "ROC-AUC", "PR-AUC", "flagged"
    ));
    for capture in &report.captures {
        let name = capture
            .file
            .file_name()
            .map_or_else(|| capture.file.display().to_string(), |n| n.to_string_lossy().into_owned());
        let r = &capture.report;
        out.push_str(&format!(
            "  {:<48} {:>7} {:>9} {:>8} {:>8} {:>8}\n",
            name,
            r.flows,
            r.malicious,
            metric(r.roc_auc),
            metric(r.pr_auc),
            r.flagged
        ));
    }
    out
}
