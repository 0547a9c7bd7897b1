//! `ml_outlier` on the shared stopddos captures, end to end through the
//! `flowwatch` binary with a model trained on simulated benign traffic: the
//! model flags the floods' flows (most of them from forged sources, one flow
//! each, many in the run's first minute, when flows are judged on their own
//! features), and the detector must report them as one incident about the
//! victim, not one event per forged address (as builds before incidents
//! were gathered per target did: one per spoofed source).
//!
//! Skipped, with a message, when the data folder (env FLOWWATCH_SHARED_DATA,
//! else ../shared/data beside the workspace) is missing; with
//! FLOWWATCH_SHARED_DATA set and the data missing, it fails.

mod e2e;

use e2e::{flowwatch, s, shared};
use std::path::Path;

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The `ml_outlier` events of `capture` replayed with `model`.
fn model_outliers(capture: &Path, model: &Path) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let out = flowwatch(&["replay", s(capture), "--flows", "/dev/null", "--events", "-", "--model", s(model)])?;
    let mut outliers = Vec::new();
    for line in String::from_utf8(out)?.lines() {
        let event: Value = serde_json::from_str(line)?;
        if event["kind"] == "ml_outlier" {
            outliers.push(event);
        }
    }
    Ok(outliers)
}

#[test]
fn model_outliers_of_spoofed_floods_are_one_incident_about_the_victim() -> TestResult {
    let Some(stopddos) = shared("pcaps/stopddos") else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let (benign, model) = (dir.path().join("benign.pcap"), dir.path().join("m.fwm"));
    flowwatch(&["simulate", "--out", s(&benign), "--seed", "5", "--duration", "4m", "--hosts", "20"])?;
    flowwatch(&["train", s(&benign), "--model", s(&model)])?;

    // Every stopddos capture, about its victim: the one address its row of
    // the expected detections names.
    for attack in &e2e::shared_captures::ATTACKS {
        let Some(file) = attack.capture.strip_prefix("stopddos/") else { continue };
        let [victim] = attack.names else { return Err(format!("{file}: not one victim").into()) };
        let outliers = model_outliers(&stopddos.join(file), &model)?;
        let about_victim = |e: &Value| e["src_ip"].is_null() && e["dst_ip"] == *victim;
        match file {
            // It lasts 13.6 minutes: the victim's incident is reported as it
            // escalates (low, then medium), at the end of each report window
            // (60 s) and of the suppression window (10 min), and at the end of input.
            "amp.TCP.syn.optionallyACK.optionallysamePort.pcapng" => {
                assert!(!outliers.is_empty() && outliers.len() <= 5, "{file}: {outliers:#?}");
                assert!(outliers.iter().all(about_victim), "{file}: {outliers:#?}");
            }
            // The amplified answers to the victim, and two small incidents in the IPv6 background.
            "amp.dns.RRSIG.fragmented.pcap" => {
                assert!(outliers.len() <= 3, "{file}: {outliers:#?}");
                assert!(outliers.iter().any(about_victim), "{file}: {outliers:#?}");
            }
            // One flood each (every flagged flow is of that flood): one event,
            // about the victim, standing for every outlier.
            _ => {
                assert_eq!(outliers.len(), 1, "{file}: {outliers:#?}");
                let event = &outliers[0];
                assert_eq!(
                    (&event["src_ip"], event["dst_ip"].as_str()),
                    (&Value::Null, Some(*victim)),
                    "{file}: {event:#}"
                );
                let occurrences = event["occurrences"].as_u64().unwrap_or_default();
                assert!(occurrences > 1_000, "{file}: {occurrences} outliers");
                assert_eq!(event["flows_total"].as_u64(), Some(occurrences), "{file}");
                // Most of these captures last under a minute: the warm-up flows are counted.
                assert!(event["evidence"]["warm_up_flows"].as_u64().is_some_and(|n| n > 0), "{file}: {event:#}");
            }
        }
    }
    Ok(())
}
