//! `flowwatch simulate`: writes the capture and, with `--labels`, its ground truth.

use std::{
    fs::File,
    io::{BufWriter, Write as _},
    time::Instant,
};

use anyhow::Context as _;
use tracing::{info, warn};

use crate::{cli::SimulateArgs, simulate::simulate};

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let config = args.config();
    let file = File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let started = Instant::now();
    let report = simulate(&config, file).with_context(|| format!("simulating into {}", args.out.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    info!(
        packets = report.packets,
        bytes = report.bytes,
        seconds = format!("{elapsed:.2}"),
        packets_per_second = format!("{:.0}", report.packets as f64 / elapsed.max(1e-9)),
        "wrote {}",
        args.out.display()
    );
    for injection in &report.injections {
        if injection.packets == 0 {
            warn!("{} wrote no packets before the --packets limit; it has no label", injection.kind);
        } else {
            info!(packets = injection.packets, "injected {}", injection.kind);
        }
    }
    match &args.labels {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            report.labels.write(&mut out).with_context(|| format!("writing labels to {}", path.display()))?;
            out.flush().with_context(|| format!("writing labels to {}", path.display()))?;
            info!(labels = report.labels.0.len(), "wrote {}", path.display());
        }
        None if !report.injections.is_empty() => {
            warn!("no --labels FILE given: the injections' ground truth is not written")
        }
        None => {}
    }
    Ok(())
}
