//! `flowwatch train`, `evaluate` and `replay --model` end to end on the
//! simulator's captures: a model trained on benign traffic ranks injected
//! anomalies above held-out benign flows, scores every flow record, and a
//! damaged model file is refused with a reason.

mod e2e;

use std::path::{Path, PathBuf};

use e2e::{flowwatch, flowwatch_output, s};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn train_evaluate_and_score_simulated_traffic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (benign, attack, labels, model) = (
        path(dir.path(), "benign.pcap"),
        path(dir.path(), "attack.pcap"),
        path(dir.path(), "attack.csv"),
        path(dir.path(), "m.fwm"),
    );
    flowwatch(&["simulate", "--out", s(&benign), "--seed", "5", "--duration", "4m", "--hosts", "20"])?;
    flowwatch(&[
        "simulate",
        "--out",
        s(&attack),
        "--labels",
        s(&labels),
        "--seed",
        "6",
        "--duration",
        "4m",
        "--hosts",
        "20",
        "--inject",
        "port_scan,host_sweep,dns_tunnel",
    ])?;
    flowwatch(&["train", s(&benign), "--model", s(&model), "-a", "0.99"])?;

    let out = flowwatch(&["evaluate", "--model", s(&model), s(&attack), "--labels", s(&labels), "--json", "-"])?;
    let report: Value = serde_json::from_slice(&out)?;
    let pooled = &report["pooled"];
    assert!(pooled["malicious"].as_u64().unwrap_or(0) > 1000, "{pooled}");
    let auc = pooled["roc_auc"].as_f64().unwrap_or(0.0);
    assert!(auc > 0.95, "ROC-AUC {auc}");
    // Evaluate scores as the agent does: the probes of the capture's first
    // minute are judged on their own features, the host windows not yet
    // trusted, so fewer are flagged than with the windows as measured (0.69
    // of them here, was above 0.9 in that mode).
    let scan = pooled["per_kind"].as_array().and_then(|kinds| kinds.iter().find(|k| k["kind"] == "port_scan"));
    assert!(scan.is_some_and(|k| k["recall"].as_f64().unwrap_or(0.0) > 0.6), "{scan:?}");

    // Every flow record of a scored replay carries a score in [0, 1].
    let out = flowwatch(&["replay", s(&attack), "--model", s(&model), "--flows", "-"])?;
    let records: Vec<Value> = String::from_utf8(out)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let flows: Vec<&Value> = records.iter().filter(|r| r["type"] == "flow").collect();
    assert!(!flows.is_empty());
    assert!(
        flows
            .iter()
            .all(|f| f["score"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)) && f["anomaly"].is_boolean())
    );
    assert!(flows.iter().any(|f| f["anomaly"] == true));
    let analysis = records.iter().find(|r| r["type"] == "analysis").ok_or("no analysis line")?;
    assert_eq!(analysis["flows_scored"].as_u64(), Some(flows.len() as u64));
    assert_eq!(records.last().map(|r| r["type"].clone()), Some(Value::from("stats")));
    Ok(())
}

#[test]
fn damaged_or_foreign_model_files_are_refused_with_the_reason() -> TestResult {
    let dir = tempfile::tempdir()?;
    let capture = path(dir.path(), "c.pcap");
    flowwatch(&["simulate", "--out", s(&capture), "--seed", "7", "--duration", "2m", "--hosts", "5"])?;
    let model = path(dir.path(), "m.fwm");
    flowwatch(&["train", s(&capture), "--model", s(&model)])?;

    let bytes = std::fs::read(&model)?;
    let truncated = path(dir.path(), "truncated.fwm");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2])?;
    let not_a_model = path(dir.path(), "capture-as-model.fwm");
    std::fs::copy(&capture, &not_a_model)?;
    for bad in [&truncated, &not_a_model] {
        let out = flowwatch_output(&["replay", s(&capture), "--model", s(bad), "--flows", "/dev/null"])?;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(s(bad)), "the error names the file: {stderr}");
    }
    Ok(())
}

#[test]
fn training_needs_something_to_learn_from() -> TestResult {
    let out = flowwatch_output(&["train", "--model", "/nonexistent/m.fwm"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to learn from"));
    Ok(())
}
