//! End to end: train on benign flows, score, explain, save, load, evaluate.

use std::{
    path::Path,
    sync::{Arc, OnceLock},
};

use crate::{
    Feature, Labels, Model, ModelFileError, Scorer, TrainConfig, TrainError, WarmUp,
    features::{FeatureSchema, Scale},
    model_file::{FORMAT_VERSION, MAGIC},
    test_flows::{benign, ip, syn_probe, tcp},
    train,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Small enough for debug builds: linfa's k-means is slow unoptimized.
fn config(seed: u64) -> TrainConfig {
    TrainConfig {
        trees: 50,
        clusters: 4,
        kmeans_rows: 500,
        kmeans_runs: 1,
        seed,
        sources: vec!["test:benign".to_owned()],
        ..TrainConfig::default()
    }
}

fn model(seed: u64) -> Result<Model, TrainError> {
    train(&benign(1, 300), &config(seed))
}

/// The model most tests share, trained once.
fn shared_model() -> Result<Arc<Model>, String> {
    static MODEL: OnceLock<Result<Arc<Model>, String>> = OnceLock::new();
    MODEL.get_or_init(|| model(1).map(Arc::new).map_err(|e| e.to_string())).clone()
}

/// Host 10.0.0.99 probes ports 1..=n of one server, one per 10 ms, starting at `start_s`.
fn scan(start_s: f64, ports: u16) -> Vec<crate::FlowObservation> {
    (1..=ports).map(|port| syn_probe(ip(99), ip(2), port, start_s + f64::from(port) * 0.01)).collect()
}

#[test]
fn trains_with_metadata_and_the_current_schema() -> TestResult {
    let flows = benign(1, 300);
    let model = train(&flows, &config(3))?;
    assert_eq!(model.schema(), &FeatureSchema::current());
    assert_eq!(model.training().flows, flows.len() as u64);
    assert_eq!(model.training().seed, 3);
    assert_eq!(model.training().sources, vec!["test:benign".to_owned()]);
    assert_eq!(model.training().iforest.trees(), 50);
    assert_eq!(model.ensemble().iforest().samples(), 256);
    assert_eq!(model.calibration().level(), 0.99);
    assert!(model.training().created.ends_with('Z'), "{}", model.training().created);
    Ok(())
}

#[test]
fn no_flows_no_model() {
    assert!(matches!(train(&[], &TrainConfig::default()), Err(TrainError::NoFlows)));
}

#[test]
fn same_seed_same_model_other_seed_other_model() -> TestResult {
    let (a, b, c) = (model(7)?, model(7)?, model(8)?);
    assert_eq!(a.ensemble(), b.ensemble());
    assert_eq!(a.calibration(), b.calibration());
    assert_ne!(a.ensemble(), c.ensemble());
    Ok(())
}

#[test]
fn a_port_scan_is_flagged_and_explained() -> TestResult {
    let mut scorer = Scorer::new(shared_model()?);
    // Benign traffic from another period, as the live scorer would see it;
    // counted once the host windows have filled (the first 60 s).
    let later = benign(2, 120);
    let scored: Vec<_> = later.iter().map(|flow| scorer.score(flow)).collect();
    let settled: Vec<_> = scored.iter().filter(|s| !s.warming_up).collect();
    let flagged = settled.iter().filter(|s| s.is_anomaly).count();
    assert!(settled.len() * 3 > later.len(), "{} of {} settled", settled.len(), later.len());
    assert!(flagged * 100 <= settled.len() * 3, "{flagged} of {} benign flows flagged", settled.len());

    let mut last = None;
    for probe in scan(130.0, 200) {
        last = Some(scorer.score(&probe));
    }
    let scored = last.ok_or("no probe scored")?;
    assert!(scored.is_anomaly, "{scored:?}");
    assert_eq!(scored.score, 1.0);
    assert!(!scored.explanation.is_empty() && scored.explanation.len() <= 5);
    assert!(scored.explanation.windows(2).all(|w| w[0].contribution >= w[1].contribution));
    assert!(scored.explanation.iter().all(|c| c.contribution > 0.0));
    let ports = scored
        .explanation
        .iter()
        .find(|c| c.feature == Feature::HostDistinctPorts)
        .ok_or_else(|| format!("distinct ports not in {:?}", scored.explanation))?;
    assert!((ports.value - 200.0).abs() < 1e-9, "{ports:?}");
    assert!(ports.typical <= 3.0, "{ports:?}");
    Ok(())
}

#[test]
fn scoring_in_batches_matches_scoring_one_by_one() -> TestResult {
    let model = shared_model()?;
    let flows: Vec<_> = benign(4, 40).into_iter().chain(scan(41.0, 30)).collect();
    let ordered = crate::train::in_time_order(&flows);
    let mut one_by_one = Scorer::new(Arc::clone(&model));
    let expected: Vec<_> = ordered.iter().map(|flow| one_by_one.score(flow)).collect();
    let mut batched = Scorer::new(model);
    let mut scored = Vec::new();
    // Uneven calls, so batches also span call boundaries.
    let (first, rest) = ordered.split_at(7);
    batched.score_batch(first, &mut scored);
    batched.score_batch(rest, &mut scored);
    assert_eq!(scored, expected);
    assert!(scored.iter().any(|s| s.is_anomaly && !s.explanation.is_empty()), "the scan explained");
    Ok(())
}

/// Under `WarmUp::FlowOnly` a flow scored in the first window is judged on
/// its own features: its host's history there changes nothing, and no
/// host-window feature explains it; after the window, both modes agree.
#[test]
fn warm_up_flow_only_ignores_the_partial_host_windows() -> TestResult {
    let model = shared_model()?;
    let ordinary = |end_s: f64| tcp(ip(99), ip(2), 443, end_s);
    let score_after_scan = |warm_up: WarmUp, end_s: f64| {
        let mut scorer = Scorer::new(Arc::clone(&model)).warm_up(warm_up);
        for probe in scan(0.0, 200) {
            scorer.score(&probe);
        }
        scorer.score(&ordinary(end_s))
    };
    let alone = |warm_up: WarmUp, end_s: f64| Scorer::new(Arc::clone(&model)).warm_up(warm_up).score(&ordinary(end_s));

    // Two seconds in: the host's 200 failed probes weigh only when measured.
    let (measured, flow_only) = (score_after_scan(WarmUp::Measured, 2.5), score_after_scan(WarmUp::FlowOnly, 2.5));
    assert!(measured.warming_up && flow_only.warming_up);
    assert!(measured.is_anomaly, "{measured:?}");
    assert!(!flow_only.is_anomaly, "{flow_only:?}");
    assert_eq!(flow_only.detectors, alone(WarmUp::FlowOnly, 2.5).detectors);
    assert_ne!(measured.detectors, alone(WarmUp::Measured, 2.5).detectors);

    // A flagged probe in the warm-up is explained by its own features only.
    let mut scorer = Scorer::new(Arc::clone(&model)).warm_up(WarmUp::FlowOnly);
    let probe = scorer.score(&syn_probe(ip(99), ip(2), 23, 0.0));
    assert!(probe.is_anomaly && !probe.explanation.is_empty(), "{probe:?}");
    assert!(probe.explanation.iter().all(|c| !Feature::HOST_WINDOW.contains(&c.feature)), "{probe:?}");

    // Past the first window (60 s after the first flow), the modes agree.
    let settled = |warm_up: WarmUp| {
        let mut scorer = Scorer::new(Arc::clone(&model)).warm_up(warm_up);
        scorer.score(&ordinary(0.0));
        for probe in scan(60.0, 200) {
            scorer.score(&probe);
        }
        scorer.score(&ordinary(62.5))
    };
    let (measured, flow_only) = (settled(WarmUp::Measured), settled(WarmUp::FlowOnly));
    assert!(!measured.warming_up && measured.is_anomaly, "{measured:?}");
    assert_eq!(flow_only, measured);
    Ok(())
}

/// The evaluation scores in the warm-up mode the agent runs (the scorer's
/// default, flow-only), so its figures describe the agent: a scan's probes
/// in the first window get the flow-only scores, not the measured ones.
#[test]
fn evaluation_scores_the_warm_up_as_the_agent_does() -> TestResult {
    let model = shared_model()?;
    let flows: Vec<_> = scan(0.0, 200).into_iter().chain([tcp(ip(99), ip(2), 443, 2.5)]).collect();
    let ordered = crate::train::in_time_order(&flows);
    let scores_in = |warm_up: WarmUp| {
        let mut scorer = Scorer::new(Arc::clone(&model)).warm_up(warm_up);
        ordered.iter().map(|flow| scorer.score(flow).detectors.combined).collect::<Vec<_>>()
    };
    let evaluated: Vec<f64> =
        crate::outcomes(Arc::clone(&model), &flows, &Labels::default()).iter().map(|o| o.score).collect();
    assert_eq!(evaluated, scores_in(WarmUp::FlowOnly));
    assert_ne!(evaluated, scores_in(WarmUp::Measured));
    assert_eq!(WarmUp::default(), WarmUp::FlowOnly);
    Ok(())
}

#[test]
fn moving_the_threshold_level() -> TestResult {
    let mut model = Model::clone(&*shared_model()?);
    let strict = model.calibration().threshold();
    model.set_threshold_level(0.5)?;
    assert!(model.calibration().threshold() < strict);
    assert_eq!(model.calibration().threshold(), model.calibration().training_scores().quantile(0.5));
    let err = model.set_threshold_level(95.0).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("threshold level must be between 0 and 1"), "{err}");
    Ok(())
}

#[test]
fn model_file_round_trips_bit_for_bit() -> TestResult {
    let mut model = Model::clone(&*shared_model()?);
    model.extensions_mut().insert("baseline".to_owned(), serde_json::json!({"hosts": 3}));
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.fwm");
    model.save(&path)?;
    let loaded = Model::load(&path)?;
    assert_eq!(loaded, model);

    let (mut original, mut reloaded) = (Scorer::new(Arc::new(model)), Scorer::new(Arc::new(loaded)));
    for flow in benign(3, 30).iter().chain(&scan(31.0, 20)) {
        assert_eq!(original.score(flow), reloaded.score(flow));
    }
    Ok(())
}

fn load_error(bytes: &[u8]) -> Result<ModelFileError, String> {
    match Model::from_bytes(bytes, Path::new("m.fwm")) {
        Ok(_) => Err("loaded a broken model".to_owned()),
        Err(err) => Ok(err),
    }
}

#[test]
fn model_file_rejects_each_kind_of_bad_file() -> TestResult {
    let bytes = shared_model()?.to_bytes()?;
    assert_eq!(&bytes[..8], MAGIC);

    let err = load_error(b"{\"schema\": 1}")?;
    assert!(matches!(err, ModelFileError::NotAModel { .. }), "{err}");
    assert!(err.to_string().starts_with("m.fwm is not a flowwatch model file"), "{err}");

    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = load_error(&newer)?;
    assert_eq!(
        err.to_string(),
        "m.fwm is a model file of format version 2, this flowwatch reads version 1; retrain it with this flowwatch (`flowwatch train`)"
    );

    let err = load_error(&bytes[..bytes.len() - 10])?;
    assert!(
        matches!(err, ModelFileError::Truncated { expected, actual, .. } if expected == bytes.len() as u64 && actual == expected - 10),
        "{err}"
    );
    let err = load_error(&bytes[..12])?;
    assert!(matches!(err, ModelFileError::Truncated { expected: 24, actual: 12, .. }), "{err}");

    let mut damaged = bytes.clone();
    let middle = bytes.len() / 2;
    damaged[middle] ^= 0x40;
    let err = load_error(&damaged)?;
    assert_eq!(err.to_string(), "m.fwm is corrupt: checksum mismatch; copy it again or retrain");

    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(load_error(&longer)?, ModelFileError::Corrupt { .. }));
    Ok(())
}

#[test]
fn model_file_names_the_schema_difference() -> TestResult {
    let mut json = serde_json::to_value(&*shared_model()?)?;
    let column = Feature::HostDistinctPorts.index();
    json["schema"]["features"][column] = serde_json::json!("host_distinct_services");
    let other: Model = serde_json::from_value(json)?;
    let err = load_error(&other.to_bytes()?)?;
    assert_eq!(
        err.to_string(),
        format!(
            "m.fwm was trained on another feature schema (feature {column} is `host_distinct_services` in the model \
             but `host_distinct_ports` in this build); retrain it with this flowwatch"
        )
    );
    Ok(())
}

#[test]
fn model_file_is_small() -> TestResult {
    let model = train(&benign(1, 300), &TrainConfig { trees: 100, ..config(1) })?;
    let size = model.to_bytes()?.len();
    // 100 trees of ≤ 511 nodes; JSON compresses to well under the 5 MB budget.
    assert!(size < 1 << 20, "{size} bytes");
    Ok(())
}

#[test]
fn evaluation_against_labels() -> TestResult {
    let model = shared_model()?;
    let mut flows = benign(2, 120);
    flows.extend(scan(60.0, 300));
    let labels = Labels::read("kind,attacker,victim,start,end\nport_scan,10.0.0.99,,,\n".as_bytes(), Path::new("l"))?;
    let report = crate::evaluate(model, &flows, &labels);
    assert_eq!(report.malicious, 300);
    assert_eq!(report.benign, flows.len() as u64 - 300);
    assert!(report.roc_auc.is_some_and(|auc| auc > 0.95), "{report}");
    let scan_recall = report.per_kind.first().map(|k| (k.kind, k.recall));
    assert!(scan_recall.is_some_and(|(kind, recall)| kind == crate::AnomalyKind::PortScan && recall > 0.9), "{report}");
    Ok(())
}

#[test]
fn raw_values_come_back_from_log_scale() {
    // Explanations print feature values in their own unit.
    assert!((Scale::Log1p.invert(Scale::Log1p.apply(200.0)) - 200.0).abs() < 1e-9);
}
