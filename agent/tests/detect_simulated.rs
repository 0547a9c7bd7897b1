//! Every event kind on the simulator's injections, end to end through the
//! `flowwatch` binary: `simulate --inject all` writes one capture in which
//! each injection has its own window (beaconing spans it all) and a labels
//! file naming each injection's attacker and victim; `replay --events` must
//! then report, for every label, an event of the label's kind naming the
//! label's addresses.
//!
//! The rule detectors that need no history (port_scan, flood, exfiltration,
//! beaconing, dns_tunnel) are checked on a replay without model or GeoIP, so
//! they are shown to stand on their own. rare_protocol and geo compare with
//! a baseline: those are checked on a replay with a model trained on benign
//! simulated traffic (`train -g`, so the baseline records countries) and the
//! GeoIP test database, as is ml_outlier. The same model and database must
//! raise nothing high on held-out benign traffic.
//!
//! The GeoIP test databases come from the shared data folder (env
//! FLOWWATCH_SHARED_DATA, else ../shared/data beside the workspace); without
//! them the geo check is skipped with a message (fails, with
//! FLOWWATCH_SHARED_DATA set) and the rest runs without GeoIP.

mod e2e;

use e2e::{flowwatch, s};
use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    sync::LazyLock,
};

use models::{AnomalyKind, Label, Labels};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Simulated LAN size and capture length: beaconing checks in every 60 s and
/// is scored from its 6th connection, so 8 minutes leave room for jitter.
const HOSTS: &str = "20";
const DURATION: &str = "8m";
/// Seeds of the three captures: training, attacks, held-out benign.
const TRAIN_SEED: &str = "31";
const ATTACK_SEED: &str = "32";
const HELD_OUT_SEED: &str = "33";

/// Everything the assertions read, generated once for the whole file.
struct Scenario {
    labels: Labels,
    /// `replay` of the attack capture without model or GeoIP.
    rule_events: Vec<Value>,
    /// `replay` of the attack capture with the model and (when present) GeoIP.
    model_events: Vec<Value>,
    /// `replay` of held-out benign traffic with the model and (when present) GeoIP.
    benign_events: Vec<Value>,
    benign_flows_scored: u64,
    geoip: Option<PathBuf>,
}

static SCENARIO: LazyLock<Result<Scenario, String>> = LazyLock::new(|| Scenario::build().map_err(|e| e.to_string()));

fn scenario() -> Result<&'static Scenario, Box<dyn std::error::Error>> {
    SCENARIO.as_ref().map_err(|e| format!("building the simulated scenario failed: {e}").into())
}

fn geoip_db() -> Option<PathBuf> {
    let db = e2e::data_dir().join("geo/maxmind-test-data/GeoIP2-City-Test.mmdb");
    db.is_file().then_some(db)
}

fn simulate(out: &Path, seed: &str, extra: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let mut args = vec!["simulate", "--out", s(out), "--seed", seed, "--duration", DURATION, "--hosts", HOSTS];
    args.extend_from_slice(extra);
    flowwatch(&args).map(drop)
}

/// Replays `capture` with `extra` analysis flags; returns the events and the
/// analysis line.
fn replay(dir: &Path, capture: &Path, extra: &[&str]) -> Result<(Vec<Value>, Value), Box<dyn std::error::Error>> {
    let events_path = dir.join(format!("events-{}.ndjson", extra.len()));
    let _ = std::fs::remove_file(&events_path);
    // The analysis summary goes with the flow records, to stdout.
    let mut args = vec!["replay", s(capture), "--flows", "-", "--events", s(&events_path)];
    args.extend_from_slice(extra);
    let stdout = String::from_utf8(flowwatch(&args)?)?;
    let analysis: Value = stdout
        .lines()
        .find(|line| line.contains(r#""type":"analysis""#))
        .ok_or("replay wrote no analysis line")
        .map(serde_json::from_str)??;
    let events = std::fs::read_to_string(&events_path)?
        .lines()
        .map(serde_json::from_str::<Value>)
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::remove_file(&events_path)?;
    Ok((events, analysis))
}

impl Scenario {
    fn build() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = |name: &str| dir.path().join(name);
        let (train, attack, labels, held_out, model) =
            (path("train.pcap"), path("attack.pcap"), path("attack.csv"), path("held-out.pcap"), path("m.fwm"));
        simulate(&train, TRAIN_SEED, &[])?;
        simulate(&attack, ATTACK_SEED, &["--inject", "all", "--labels", s(&labels)])?;
        simulate(&held_out, HELD_OUT_SEED, &[])?;

        let geoip = geoip_db();
        let geo_args: Vec<&str> = geoip.iter().flat_map(|db| ["-g", s(db)]).collect();
        let mut train_args = vec!["train", s(&train), "--model", s(&model)];
        train_args.extend_from_slice(&geo_args);
        flowwatch(&train_args)?;

        let mut analysis_args = vec!["--model", s(&model)];
        analysis_args.extend_from_slice(&geo_args);
        let (rule_events, _) = replay(dir.path(), &attack, &[])?;
        let (model_events, _) = replay(dir.path(), &attack, &analysis_args)?;
        let (benign_events, benign_analysis) = replay(dir.path(), &held_out, &analysis_args)?;
        Ok(Self {
            labels: Labels::load(&labels)?,
            rule_events,
            model_events,
            benign_events,
            benign_flows_scored: benign_analysis["flows_scored"].as_u64().unwrap_or(0),
            geoip,
        })
    }

    fn labels_of(&self, kind: AnomalyKind) -> Vec<&Label> {
        self.labels.0.iter().filter(|label| label.kind == kind).collect()
    }
}

fn event_ip(event: &Value, field: &str) -> Option<IpAddr> {
    event[field].as_str().and_then(|ip| ip.parse().ok())
}

/// The event names `ip` as its source or its destination.
fn names(event: &Value, ip: IpAddr) -> bool {
    event_ip(event, "src_ip") == Some(ip) || event_ip(event, "dst_ip") == Some(ip)
}

/// An event of `kind` naming every address the label names.
fn find_event<'a>(events: &'a [Value], kind: AnomalyKind, label: &Label) -> Option<&'a Value> {
    events.iter().find(|event| {
        event["kind"] == kind.as_str()
            && label.attacker.is_none_or(|ip| names(event, ip))
            && label.victim.is_none_or(|ip| names(event, ip))
    })
}

fn summary(events: &[Value], kind: AnomalyKind) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == kind.as_str())
        .take(20)
        .map(|e| format!("{} {} → {}: {}", e["severity"], e["src_ip"], e["dst_ip"], e["summary"]))
        .collect()
}

/// Every label of `kind` has an event of `kind` naming its addresses.
fn assert_detected(events: &[Value], kind: AnomalyKind, expected_labels: usize) -> TestResult {
    let scenario = scenario()?;
    let labels = scenario.labels_of(kind);
    assert_eq!(labels.len(), expected_labels, "labels of {kind}: {labels:?}");
    for label in labels {
        assert!(
            find_event(events, kind, label).is_some(),
            "no {kind} event naming {:?} / {:?}; {kind} events: {:#?}",
            label.attacker,
            label.victim,
            summary(events, kind)
        );
    }
    Ok(())
}

#[test]
fn port_scan_and_host_sweep_are_port_scans_from_their_attackers() -> TestResult {
    // One label per injection: the vertical scan names its victim, the sweep only its attacker.
    assert_detected(&scenario()?.rule_events, AnomalyKind::PortScan, 2)
}

#[test]
fn syn_flood_is_a_flood_on_its_victim() -> TestResult {
    assert_detected(&scenario()?.rule_events, AnomalyKind::Flood, 1)
}

#[test]
fn exfiltration_names_the_host_and_the_drop_server() -> TestResult {
    assert_detected(&scenario()?.rule_events, AnomalyKind::Exfiltration, 1)
}

#[test]
fn beaconing_names_the_host_and_its_c2_server() -> TestResult {
    assert_detected(&scenario()?.rule_events, AnomalyKind::Beaconing, 1)
}

#[test]
fn dns_tunnel_names_the_client_and_the_resolver() -> TestResult {
    assert_detected(&scenario()?.rule_events, AnomalyKind::DnsTunnel, 1)
}

#[test]
fn rare_protocol_names_the_host_and_the_irc_server() -> TestResult {
    assert_detected(&scenario()?.model_events, AnomalyKind::RareProtocol, 1)
}

#[test]
fn rare_country_is_a_geo_event_against_the_baseline() -> TestResult {
    let scenario = scenario()?;
    if scenario.geoip.is_none() {
        e2e::skip_without_shared_data("rare_country: no GeoIP test database under the shared data folder");
        return Ok(());
    }
    assert_detected(&scenario.model_events, AnomalyKind::Geo, 1)?;
    let label = scenario.labels_of(AnomalyKind::Geo)[0];
    let event = find_event(&scenario.model_events, AnomalyKind::Geo, label).ok_or("no geo event")?;
    // The injection's server is in the BT test network of GeoIP2-City-Test.
    assert_eq!(event["evidence"]["country"], "BT", "{event}");
    Ok(())
}

#[test]
fn the_model_flags_the_vertical_scan() -> TestResult {
    let scenario = scenario()?;
    let scan = scenario
        .labels_of(AnomalyKind::PortScan)
        .into_iter()
        .find(|label| label.victim.is_some())
        .ok_or("no vertical port_scan label")?;
    assert!(
        find_event(&scenario.model_events, AnomalyKind::MlOutlier, scan).is_some(),
        "no ml_outlier event naming {:?} → {:?}: {:#?}",
        scan.attacker,
        scan.victim,
        summary(&scenario.model_events, AnomalyKind::MlOutlier)
    );
    // Without a model nothing is scored.
    assert!(scenario.rule_events.iter().all(|e| e["kind"] != AnomalyKind::MlOutlier.as_str()));
    Ok(())
}

#[test]
fn held_out_benign_traffic_raises_nothing_high() -> TestResult {
    let scenario = scenario()?;
    // A few thousand flows were scored, so "nothing high" means something.
    assert!(scenario.benign_flows_scored > 1_000, "{} flows scored", scenario.benign_flows_scored);
    let high: Vec<&Value> = scenario.benign_events.iter().filter(|e| e["severity"] == "high").collect();
    assert!(high.is_empty(), "{} high events on benign traffic: {high:#?}", high.len());
    Ok(())
}
