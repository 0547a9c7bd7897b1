//! `flowwatch train`: record a baseline (model + rule-detector baseline)
//! from benign captures or a live interface.

use anyhow::{Context as _, bail};
use models::{FlowObservation, TrainConfig};
use tracing::info;

use super::{
    collect::{ObservationCollector, observe_capture},
    live::{LiveOptions, capture_live},
};
use crate::{
    analysis::{SharedGeo, train_with_baseline},
    cli::TrainArgs,
    clock::Clock,
    config::Config,
    detect::GeoLookup,
    enrich::{GeoConfig, GeoEnricher},
};

pub async fn run(args: TrainArgs) -> anyhow::Result<()> {
    let detectors = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default().detectors;
    let geo = GeoEnricher::open(&GeoConfig::from(&args.geo))?.map(SharedGeo::new).filter(SharedGeo::has_location);
    let (flows, sources) = match (args.files.is_empty(), args.capture.interfaces.is_empty()) {
        (false, false) => bail!("give training captures or -i, not both"),
        (true, true) => bail!("nothing to learn from: give benign captures (FILE...) or capture live with -i IFACE"),
        (false, true) => (from_captures(&args)?, args.files.iter().map(|f| f.display().to_string()).collect()),
        (true, false) => {
            (from_interfaces(&args).await?, vec![format!("live on {}", args.capture.interfaces.join(","))])
        }
    };
    let config = TrainConfig {
        trees: args.trees,
        subsample: args.subsample,
        seed: args.seed,
        threshold_level: args.threshold,
        sources,
        ..TrainConfig::default()
    };
    let started = std::time::Instant::now();
    let geo = geo.map(|geo| Box::new(geo) as Box<dyn GeoLookup + Send>);
    let model = train_with_baseline(&flows, &config, &detectors, geo)?;
    model.save(&args.model)?;
    let size = std::fs::metadata(&args.model).map(|m| m.len()).unwrap_or(0);
    info!(
        flows = flows.len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        bytes = size,
        threshold = args.threshold,
        "model written to {}",
        args.model.display()
    );
    Ok(())
}

fn from_captures(args: &TrainArgs) -> anyhow::Result<Vec<FlowObservation>> {
    let mut flows = Vec::new();
    for file in &args.files {
        let before = flows.len();
        flows.extend(observe_capture(file, &args.table, args.filter.as_ref())?);
        info!(flows = flows.len() - before, "learnt from {}", file.display());
    }
    Ok(flows)
}

async fn from_interfaces(args: &TrainArgs) -> anyhow::Result<Vec<FlowObservation>> {
    if args.limits.count.is_none() && args.limits.timeout.is_none() {
        info!("capturing until Ctrl-C (or give -c N / -t DURATION)");
    }
    let options = LiveOptions {
        capture: &args.capture,
        interfaces: args.capture.interfaces.clone(),
        table: &args.table,
        limits: &args.limits,
        stats_interval: std::time::Duration::ZERO,
        filter: args.filter.as_ref(),
        dump: None,
    };
    let mut collector = ObservationCollector::default();
    capture_live(options, Clock::monotonic(), &mut collector).await.context("live capture for training")?;
    Ok(collector.observations)
}
