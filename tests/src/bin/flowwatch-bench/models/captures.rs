//! The models section's real data: the shared captures, replayed through
//! the agent's own flow table, arranged as `cargo xtask evaluate` does it:
//! train on the simulator's benign traffic (seed 1) plus the benign shared
//! captures; test on every labelled attack capture plus held-out simulated
//! benign traffic (seed 2). Each capture is its own stream (its own flow
//! table and host windows), as `flowwatch evaluate` scores it.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use ::models::{FlowObservation, Labels};
use agent::{
    cli::FlowTableArgs,
    commands::collect::observe_capture,
    simulate::{SimConfig, simulate},
};
use anyhow::{Context, Result};
use clap::Parser;

use integration_tests::shared_data::{SHARED_DATA_ENV, shared_data_dir};

const LABELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/shared-pcaps.labels.csv");
/// The captures' roles and the simulator seeds, as `cargo xtask evaluate` has them.
#[allow(dead_code, reason = "the bench reads the capture paths, not the expected detections")]
mod shared_captures {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/shared-pcaps.captures.rs"));
}
use shared_captures::{ATTACKS, BENIGN, SEED_HELD_OUT, SEED_TRAIN};

/// The flow table's defaults, from the one place that knows them (the CLI).
#[derive(Parser)]
struct TableDefaults {
    #[command(flatten)]
    table: FlowTableArgs,
}

pub struct CaptureData {
    /// Every training flow (one model is trained on them all).
    pub train: Vec<FlowObservation>,
    /// Test flows, one stream per capture.
    pub test: Vec<Vec<FlowObservation>>,
    pub labels: Labels,
}

/// `None` (with a note) when the shared data is not there.
pub fn load() -> Result<Option<CaptureData>> {
    let pcaps = shared_data_dir().join("pcaps");
    if !pcaps.is_dir() {
        eprintln!("models: no {} (set {SHARED_DATA_ENV}); skipping the shared captures", pcaps.display());
        return Ok(None);
    }
    let table = TableDefaults::try_parse_from(["flowwatch-bench"])?.table;
    let scratch = tempfile::tempdir()?;
    let replay = |path: &Path| -> Result<Vec<FlowObservation>> {
        observe_capture(path, &table, None).with_context(|| format!("replaying {}", path.display()))
    };
    let simulated = |seed: u64| -> Result<Vec<FlowObservation>> {
        let path = scratch.path().join(format!("sim-{seed}.pcap"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::new(file);
        simulate(&SimConfig::new(seed), &mut out)?;
        out.flush().with_context(|| format!("writing {}", path.display()))?;
        replay(&path)
    };

    let mut train = simulated(SEED_TRAIN)?;
    for capture in BENIGN {
        train.extend(replay(&pcaps.join(capture))?);
    }
    let mut test = vec![simulated(SEED_HELD_OUT)?];
    for attack in &ATTACKS {
        test.push(replay(&pcaps.join(attack.capture))?);
    }
    let labels = Labels::load(Path::new(LABELS))?;
    Ok(Some(CaptureData { train, test, labels }))
}
