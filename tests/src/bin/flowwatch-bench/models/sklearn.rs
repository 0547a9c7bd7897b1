//! The side-by-side with scikit-learn: the same standardized matrices go to
//! `tests/bench/sklearn_iforest.py` as CSV, and its JSON answer comes back.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
    process::Command,
};

use anyhow::{Context, Result, bail};
use ndarray::ArrayView2;
use serde::Deserialize;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/sklearn_iforest.py");
/// Debian's interpreter, which `python3-sklearn` installs for (`cargo xtask
/// setup` installs the package). A `python3` earlier in PATH (pyenv, a
/// virtualenv) usually lacks scikit-learn.
const PYTHON: &str = "/usr/bin/python3";

#[derive(Debug, Deserialize)]
pub struct SklearnResult {
    pub sklearn_version: String,
    pub test_rows: u64,
    /// One per seed.
    pub roc_auc: Vec<f64>,
    pub pr_auc: Vec<f64>,
    /// Medians over the seeds, wall clock.
    pub fit_seconds: f64,
    pub score_seconds: f64,
    /// Median CPU time of the process while scoring (all its threads).
    pub score_cpu_seconds: f64,
}

fn write_matrix(path: &Path, matrix: ArrayView2<'_, f64>) -> Result<()> {
    let mut out = BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    for row in matrix.rows() {
        let mut first = true;
        for value in row {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            // Display prints the shortest text that reads back as the same f64.
            write!(out, "{value}")?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Fits with `random_state` 0..`seeds` and scores `test` with each.
pub fn run(
    train: ArrayView2<'_, f64>,
    test: ArrayView2<'_, f64>,
    malicious: &[bool],
    seeds: u64,
) -> Result<SklearnResult> {
    let dir = tempfile::tempdir()?;
    let (train_csv, test_csv, labels_csv) =
        (dir.path().join("train.csv"), dir.path().join("test.csv"), dir.path().join("labels.csv"));
    write_matrix(&train_csv, train)?;
    write_matrix(&test_csv, test)?;
    let labels: String = malicious.iter().map(|&m| if m { "1\n" } else { "0\n" }).collect();
    std::fs::write(&labels_csv, labels)?;

    let output = Command::new(PYTHON)
        .arg(SCRIPT)
        .args([&train_csv, &test_csv, &labels_csv])
        .arg(seeds.to_string())
        .output()
        .with_context(|| format!("running {PYTHON} {SCRIPT} (install python3-sklearn: `cargo xtask setup`)"))?;
    if !output.status.success() {
        bail!(
            "{SCRIPT} failed ({}): {} (is python3-sklearn installed? `cargo xtask setup` installs it)",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("reading {SCRIPT}'s output: {}", String::from_utf8_lossy(&output.stdout)))
}
