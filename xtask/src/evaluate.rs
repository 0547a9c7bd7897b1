//! `cargo xtask evaluate`: the proof tables. Builds the release agent, then,
//! as an ordinary user, in a scratch folder:
//!
//! 1. simulates benign training traffic (seed A) and held-out benign traffic
//!    (seed B), and an attack capture with every injection (seed C);
//! 2. trains one model (with the rule detectors' baseline, countries
//!    included through the GeoIP test databases) on the simulated benign
//!    traffic and the shared benign captures;
//! 3. **model table**: `flowwatch evaluate` on each labelled attack capture
//!    together with the held-out benign traffic, and on the injected capture;
//! 4. **detection table**: `flowwatch replay --events` of each attack capture
//!    with the rule detectors alone, then with the model and GeoIP, checked
//!    against [`ATTACKS`]; and the high-severity events raised on the benign
//!    captures and the held-out traffic, which must be none.
//!
//! Every command is echoed as it runs; they can be pasted to reproduce a row
//! (the scratch folder is kept). Exits non-zero when a benign capture raises
//! a high-severity event or a step fails; a missed detection or an AUC below
//! the bar is reported, not fatal, since the tables exist to show both.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::{build, setup, util};

/// The captures' roles and the simulator seeds, shared with the models bench.
mod shared_captures {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/shared-pcaps.captures.rs"));
}
use shared_captures::{ATTACKS, BENIGN, SEED_HELD_OUT, SEED_INJECTED, SEED_TRAIN};

/// ROC-AUC (and PR-AUC) a capture should reach.
const AUC_BAR: f64 = 0.95;

/// Captures in `pcaps/` left out, and why.
const SKIPPED: [(&str, &str); 4] = [
    ("stratosphere/test8-malicious.pcap", "ARP scan: ARP is not IP, so it never becomes a flow (counted as non-IP)"),
    ("chrissanders-packets/arppoison.pcapng", "ARP poisoning: the attack is in ARP frames, which are not flows"),
    ("chrissanders-packets/dns_isp_hijack.pcapng", "no ground truth in the labels file"),
    ("chrissanders-packets/tcp_ports.pcapng", "no ground truth in the labels file"),
];

/// Where everything lives for one run.
struct Setup {
    agent: PathBuf,
    pcaps: PathBuf,
    labels: PathBuf,
    /// `-g` arguments: a location and an ASN test database.
    geoip: Vec<PathBuf>,
    work: PathBuf,
}

pub fn run(json_out: Option<&Path>) -> Result<()> {
    setup::run(setup::Parts::TOOLCHAIN)?;
    let agent = build::build_agent(true)?;
    let root = util::workspace_root();
    let data = util::shared_data_dir();
    let data = data.canonicalize().with_context(|| {
        format!("{} not found: the evaluation needs the shared captures and GeoIP test databases", data.display())
    })?;
    let geo = data.join("geo/maxmind-test-data");
    let geoip = vec![geo.join("GeoIP2-City-Test.mmdb"), geo.join("GeoLite2-ASN-Test.mmdb")];
    if let Some(missing) = geoip.iter().find(|db| !db.is_file()) {
        bail!("{} not found: the geo baseline needs MaxMind's test databases", missing.display());
    }
    let work = util::target_dir()?.join("xtask-evaluate");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("cannot clear {}", work.display()))?;
    }
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    eprintln!("evaluate: working in {}", work.display());
    let setup = Setup {
        agent,
        pcaps: data.join("pcaps"),
        labels: root.join("tests/data/shared-pcaps.labels.csv"),
        geoip,
        work,
    };

    let sim = setup.simulate()?;
    let model = setup.train(&sim)?;
    let model_rows = setup.model_table(&model, &sim)?;
    let (detections, benign) = setup.detection_tables(&model, &sim)?;

    print_model_table(&model_rows);
    print_detection_table(&detections);
    print_benign_table(&benign);
    println!("\nskipped:");
    for (capture, why) in SKIPPED {
        println!("  {capture}: {why}");
    }

    if let Some(path) = json_out {
        let report = json!({ "model": model_rows, "detection": detections, "benign": benign, "skipped":
            SKIPPED.iter().map(|(capture, why)| json!({ "capture": capture, "reason": why })).collect::<Vec<_>>() });
        fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("evaluate: tables written to {}", path.display());
    }
    let noisy: Vec<String> = benign
        .iter()
        .filter(|row| row["high_rules"].as_u64() != Some(0) || row["high_model_geo"].as_u64() != Some(0))
        .filter_map(|row| row["capture"].as_str().map(str::to_owned))
        .collect();
    ensure!(noisy.is_empty(), "benign traffic raised high-severity events: {}", noisy.join(", "));
    Ok(())
}

/// The simulated captures of one run.
struct Simulated {
    train: PathBuf,
    held_out: PathBuf,
    injected: PathBuf,
    injected_labels: PathBuf,
}

impl Setup {
    fn agent(&self) -> Command {
        let mut command = util::cmd(&self.agent);
        command.current_dir(&self.work);
        command
    }

    fn geo_args(&self, command: &mut Command) {
        for db in &self.geoip {
            command.arg("-g").arg(db);
        }
    }

    fn simulate(&self) -> Result<Simulated> {
        let sim = Simulated {
            train: self.work.join("sim-train.pcap"),
            held_out: self.work.join("sim-held-out.pcap"),
            injected: self.work.join("sim-injected.pcap"),
            injected_labels: self.work.join("sim-injected.labels.csv"),
        };
        for (out, seed) in [(&sim.train, SEED_TRAIN), (&sim.held_out, SEED_HELD_OUT)] {
            quiet(self.agent().args(["simulate", "--seed", &seed.to_string(), "--out"]).arg(out))?;
        }
        quiet(
            self.agent()
                .args(["simulate", "--seed", &SEED_INJECTED.to_string(), "--inject", "all", "--out"])
                .arg(&sim.injected)
                .arg("--labels")
                .arg(&sim.injected_labels),
        )?;
        Ok(sim)
    }

    fn train(&self, sim: &Simulated) -> Result<PathBuf> {
        let model = self.work.join("model.fwm");
        let mut train = self.agent();
        train.arg("train").arg(&sim.train);
        for capture in BENIGN {
            train.arg(self.pcaps.join(capture));
        }
        train.arg("--model").arg(&model);
        self.geo_args(&mut train);
        quiet(&mut train)?;
        Ok(model)
    }

    /// `flowwatch evaluate` of each attack capture pooled with the held-out
    /// benign traffic, then of the injected capture with its own labels.
    fn model_table(&self, model: &Path, sim: &Simulated) -> Result<Vec<Value>> {
        let mut rows = Vec::new();
        let cases = ATTACKS
            .iter()
            .map(|attack| (attack.capture.to_owned(), self.pcaps.join(attack.capture), self.labels.clone()))
            .chain([("simulator --inject all".to_owned(), sim.injected.clone(), sim.injected_labels.clone())]);
        for (index, (name, capture, labels)) in cases.enumerate() {
            let report_path = self.work.join(format!("evaluate-{index}.json"));
            let mut evaluate = self.agent();
            evaluate.arg("evaluate").arg("--model").arg(model).arg(&capture).arg(&sim.held_out);
            evaluate.arg("--labels").arg(&labels).arg("--json").arg(&report_path);
            quiet(&mut evaluate)?;
            let report: Value = serde_json::from_slice(&fs::read(&report_path)?)
                .with_context(|| format!("{} is not the JSON report", report_path.display()))?;
            let pooled = &report["pooled"];
            let roc_auc = pooled["roc_auc"].as_f64();
            rows.push(json!({
                "capture": name,
                "malicious_flows": pooled["malicious"],
                "benign_flows": pooled["benign"],
                "roc_auc": roc_auc,
                "pr_auc": pooled["pr_auc"],
                "tpr_at_fpr_1e2": pooled["tpr_at_fpr_1e2"],
                // Malicious flows above the threshold: what the model alone
                // would flag, beside how well it ranks them.
                "flagged_malicious": pooled["true_positives"],
                "meets_bar": roc_auc.is_some_and(|auc| auc >= AUC_BAR),
            }));
        }
        Ok(rows)
    }

    /// Replays every attack capture twice (rules alone; model + GeoIP) and
    /// checks [`ATTACKS`]; counts high events on the benign traffic.
    fn detection_tables(&self, model: &Path, sim: &Simulated) -> Result<(Vec<Value>, Vec<Value>)> {
        let mut detections = Vec::new();
        for (index, attack) in ATTACKS.iter().enumerate() {
            let capture = self.pcaps.join(attack.capture);
            let rules = self.events(&capture, None, &format!("attack-{index}"))?;
            let analysed = self.events(&capture, Some(model), &format!("attack-{index}"))?;
            let detected = |events: &[Value]| {
                events.iter().any(|event| {
                    attack.kinds.iter().any(|kind| event["kind"] == *kind)
                        && attack.names.iter().any(|ip| event["src_ip"] == *ip || event["dst_ip"] == *ip)
                })
            };
            detections.push(json!({
                "capture": attack.capture,
                "expected_kinds": attack.kinds,
                "expected_names": attack.names,
                "kinds_rules": kinds(&rules),
                "detected_rules": detected(&rules),
                "kinds_model_geo": kinds(&analysed),
                "detected_model_geo": detected(&analysed),
            }));
        }
        let mut benign = Vec::new();
        let captures = BENIGN
            .iter()
            .map(|capture| ((*capture).to_owned(), self.pcaps.join(capture)))
            .chain([("simulator held-out benign (seed 2)".to_owned(), sim.held_out.clone())]);
        for (index, (name, capture)) in captures.enumerate() {
            let rules = self.events(&capture, None, &format!("benign-{index}"))?;
            let analysed = self.events(&capture, Some(model), &format!("benign-{index}"))?;
            let high = |events: &[Value]| events.iter().filter(|e| e["severity"] == "high").count();
            benign.push(json!({
                "capture": name,
                "events_rules": rules.len(),
                "high_rules": high(&rules),
                "events_model_geo": analysed.len(),
                "high_model_geo": high(&analysed),
            }));
        }
        Ok((detections, benign))
    }

    /// `flowwatch replay --events`, with the model and GeoIP when `model` is given.
    fn events(&self, capture: &Path, model: Option<&Path>, name: &str) -> Result<Vec<Value>> {
        let suffix = if model.is_some() { "model-geo" } else { "rules" };
        let path = self.work.join(format!("{name}.{suffix}.events.ndjson"));
        let mut replay = self.agent();
        replay.arg("replay").arg(capture).args(["--flows", "/dev/null", "--events"]).arg(&path);
        if let Some(model) = model {
            replay.arg("--model").arg(model);
            self.geo_args(&mut replay);
        }
        quiet(&mut replay)?;
        // No event at all leaves no file.
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        text.lines()
            .map(|line| serde_json::from_str(line).with_context(|| format!("{}: not an NDJSON event", path.display())))
            .collect()
    }
}

/// Runs a flowwatch step, echoing it; its log goes nowhere unless it fails.
fn quiet(command: &mut Command) -> Result<()> {
    eprintln!("$ {}", util::display(command));
    util::output(command).map(drop)
}

/// Distinct event kinds with their counts, e.g. `port_scan×6`.
fn kinds(events: &[Value]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for kind in events.iter().filter_map(|e| e["kind"].as_str()) {
        match counts.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind.to_owned(), 1)),
        }
    }
    counts.into_iter().map(|(kind, n)| format!("{kind}×{n}")).collect()
}

/// A JSON count as text (serde_json's `Display` ignores width and alignment).
fn count(value: &Value) -> String {
    value.as_u64().map_or_else(|| "—".to_owned(), |n| n.to_string())
}

fn number(value: &Value) -> String {
    value.as_f64().map_or_else(|| "—".to_owned(), |v| format!("{v:.3}"))
}

fn mark(value: &Value) -> &'static str {
    if value.as_bool() == Some(true) { "yes" } else { "NO" }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn list(value: &Value) -> String {
    let items: Vec<&str> = value.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if items.is_empty() { "—".to_owned() } else { items.join(" ") }
}

fn print_model_table(rows: &[Value]) {
    println!("\nModel: each attack capture + held-out simulated benign traffic (seed {SEED_HELD_OUT})");
    println!(
        "{:<62} {:>9} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7}",
        "capture", "malicious", "benign", "ROC-AUC", "PR-AUC", "TPR@1e-2", "flagged", "ROC≥.95"
    );
    for row in rows {
        println!(
            "{:<62} {:>9} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7}",
            text(&row["capture"]),
            count(&row["malicious_flows"]),
            count(&row["benign_flows"]),
            number(&row["roc_auc"]),
            number(&row["pr_auc"]),
            number(&row["tpr_at_fpr_1e2"]),
            count(&row["flagged_malicious"]),
            mark(&row["meets_bar"]),
        );
    }
}

fn print_detection_table(rows: &[Value]) {
    println!("\nDetection: replay --events, rule detectors alone | with the model and GeoIP");
    println!("{:<62} {:<11} {:<5} {:<5}  kinds (rules | model+geo)", "capture", "expected", "rules", "+ml");
    for row in rows {
        println!(
            "{:<62} {:<11} {:<5} {:<5}  {} | {}",
            text(&row["capture"]),
            list(&row["expected_kinds"]),
            mark(&row["detected_rules"]),
            mark(&row["detected_model_geo"]),
            list(&row["kinds_rules"]),
            list(&row["kinds_model_geo"]),
        );
    }
}

fn print_benign_table(rows: &[Value]) {
    println!("\nBenign: high-severity events (must be 0)");
    println!(
        "{:<62} {:>12} {:>12} {:>16} {:>16}",
        "capture", "events rules", "high rules", "events model+geo", "high model+geo"
    );
    for row in rows {
        println!(
            "{:<62} {:>12} {:>12} {:>16} {:>16}",
            text(&row["capture"]),
            count(&row["events_rules"]),
            count(&row["high_rules"]),
            count(&row["events_model_geo"]),
            count(&row["high_model_geo"]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (kind, attacker, victim) of every label in the shared labels file.
    fn labels() -> Result<Vec<(String, String, String)>> {
        let text = fs::read_to_string(util::workspace_root().join("tests/data/shared-pcaps.labels.csv"))?;
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.starts_with("kind,"))
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let field = |i: usize| fields.get(i).copied().unwrap_or_default().to_owned();
                (field(0), field(1), field(2))
            })
            .collect())
    }

    #[test]
    fn every_label_has_an_expected_detection_and_every_expectation_a_label() -> Result<()> {
        let labels = labels()?;
        assert_eq!(labels.len(), 14);
        for (kind, attacker, victim) in &labels {
            assert!(
                ATTACKS.iter().any(|a| a.names.iter().any(|ip| ip == attacker || ip == victim)),
                "label {kind},{attacker},{victim} has no row in ATTACKS"
            );
        }
        for attack in &ATTACKS {
            // ek_to_cryptowall4's host is also the victim of cryptowall4_c2's
            // beaconing label: any label of the address may carry the kind.
            let names = |ip: &String| attack.names.contains(&ip.as_str());
            assert!(
                labels.iter().any(|(kind, attacker, victim)| {
                    (names(attacker) || names(victim)) && attack.kinds.contains(&kind.as_str())
                }),
                "{}: no label of {:?} has kind {:?}",
                attack.capture,
                attack.names,
                attack.kinds
            );
        }
        Ok(())
    }

    /// Every shared capture (`pcaps/` under `FLOWWATCH_SHARED_DATA`, else
    /// `../shared/data`) is benign, an attack or skipped with a reason, so
    /// none is silently left out of the evaluation. `cargo xtask test` sets
    /// the variable when the data is there, so then a missing folder fails
    /// instead of passing with nothing checked.
    #[test]
    fn every_shared_capture_has_a_role() -> Result<()> {
        let set = std::env::var_os(util::SHARED_DATA_ENV);
        let pcaps = set.clone().map_or_else(util::shared_data_dir, PathBuf::from).join("pcaps");
        if !pcaps.is_dir() {
            ensure!(set.is_none(), "{} is set but {} is not a folder", util::SHARED_DATA_ENV, pcaps.display());
            eprintln!("{} is absent and {} unset: nothing to check", pcaps.display(), util::SHARED_DATA_ENV);
            return Ok(());
        }
        let mut roleless = Vec::new();
        for folder in fs::read_dir(&pcaps)? {
            let folder = folder?.path();
            if !folder.is_dir() {
                continue;
            }
            for file in fs::read_dir(&folder)? {
                let path = file?.path();
                if !matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                    continue;
                }
                let name = path.strip_prefix(&pcaps)?.to_string_lossy().into_owned();
                let known = BENIGN.contains(&name.as_str())
                    || ATTACKS.iter().any(|a| a.capture == name)
                    || SKIPPED.iter().any(|(capture, _)| *capture == name);
                if !known {
                    roleless.push(name);
                }
            }
        }
        assert!(roleless.is_empty(), "captures with no role in the evaluation: {roleless:?}");
        Ok(())
    }

    #[test]
    fn kinds_are_counted_in_order_of_first_appearance() {
        let events = [json!({"kind": "flood"}), json!({"kind": "geo"}), json!({"kind": "flood"})];
        assert_eq!(kinds(&events), ["flood×2", "geo×1"]);
        assert!(kinds(&[]).is_empty());
    }
}
