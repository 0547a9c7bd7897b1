//! Builds the analysis stage (model, rule detectors, GeoIP, alert sinks)
//! from the command line and the config file.

use anyhow::Context as _;
use models::{Model, TrainConfig};
use tracing::info;

use crate::{
    analysis::{AnalysisConfig, Analyzer, LearnConfig, ModelChoice, SharedGeo},
    cli::AnalysisArgs,
    clock::Clock,
    enrich::{GeoConfig, GeoEnricher},
    sink::SinkSet,
};

/// `learn_default`: flows to learn from when neither `--model` nor
/// `--learn-flows` is given (0 = rule detectors only). `None` with
/// `--no-analysis`.
pub(crate) fn build_analyzer(
    args: AnalysisArgs,
    clock: Clock,
    learn_default: usize,
) -> anyhow::Result<Option<Analyzer>> {
    if args.no_analysis {
        return Ok(None);
    }
    let config_file = args.sinks.config_file()?;
    let detectors = config_file.detectors.clone();
    let sinks = SinkSet::from_config(&args.sinks.resolve_over(config_file.sinks)?)?;
    let geo = GeoEnricher::open(&GeoConfig::from(&args.geo))?.map(SharedGeo::new);
    let model = model_choice(args.model, learn_default)?;
    Ok(Some(Analyzer::new(AnalysisConfig { model, detectors, geo, sinks, clock })?))
}

fn model_choice(args: crate::cli::ModelArgs, learn_default: usize) -> anyhow::Result<ModelChoice> {
    if let Some(path) = &args.model {
        let mut model = Model::load(path)?;
        if let Some(level) = args.threshold {
            model.set_threshold_level(level).with_context(|| format!("-a {level}"))?;
        }
        let training = model.training();
        info!(
            path = %path.display(),
            flows = training.flows,
            threshold = model.calibration().level(),
            "scoring with model trained {} on {}",
            training.created,
            training.sources.join(", ")
        );
        return Ok(ModelChoice::Trained(Box::new(model)));
    }
    let flows = args.learn_flows.unwrap_or(learn_default);
    if flows == 0 {
        return Ok(ModelChoice::None);
    }
    if let Some(dir) = args.save_model.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {} for the learnt baseline (--save-model)", dir.display()))?;
    }
    let mut train =
        TrainConfig { sources: vec![format!("the first {flows} flows of a live run")], ..TrainConfig::default() };
    if let Some(level) = args.threshold {
        train.threshold_level = level;
    }
    info!(flows, path = %args.save_model.display(), "no --model: learning a baseline from the first flows");
    Ok(ModelChoice::Learn(LearnConfig { flows, save_to: args.save_model, train }))
}
