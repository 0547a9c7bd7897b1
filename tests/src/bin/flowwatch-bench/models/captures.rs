//! The models section's real data: the shared captures, replayed through
//! the agent's own flow table, arranged as `cargo xtask evaluate` does it:
//! train on the simulator's benign traffic (seed 1) plus the benign shared
//! captures; test on every labelled attack capture plus held-out simulated
//! benign traffic (seed 2). Each capture is its own stream (its own flow
//! table and host windows), as `flowwatch evaluate` scores it.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use ::models::{FlowObservation, Labels};
use agent::{
    cli::FlowTableArgs,
    commands::collect::observe_capture,
    simulate::{SimConfig, simulate},
};
use anyhow::{Context, Result};
use clap::Parser;

/// Where `cargo xtask bench` says the shared data is.
const SHARED_DATA_ENV: &str = "FLOWWATCH_SHARED_DATA";
const LABELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/shared-pcaps.labels.csv");
/// Simulator seeds of the training and the held-out benign traffic (as in `cargo xtask evaluate`).
const SEED_TRAIN: u64 = 1;
const SEED_HELD_OUT: u64 = 2;

/// Benign captures in `pcaps/` (training data).
const BENIGN: [&str; 3] =
    ["kitsune/mirai2000.pcap", "chrissanders-packets/http_espn.pcapng", "chrissanders-packets/http_google.pcapng"];

/// Captures the labels file covers (`cargo xtask evaluate`'s attack rows).
const ATTACKS: [&str; 20] = [
    "chrissanders-packets/synscan.pcapng",
    "chrissanders-packets/activeosfingerprinting.pcapng",
    "chrissanders-packets/aurora.pcapng",
    "chrissanders-packets/cryptowall4_c2.pcapng",
    "chrissanders-packets/ek_to_cryptowall4.pcapng",
    "chrissanders-packets/http_dvwa_sqlinjection.pcapng",
    "chrissanders-packets/http_dvwa_directorytraversal.pcapng",
    "chrissanders-packets/dns_axfr.pcapng",
    "chrissanders-packets/sessionhijacking.pcapng",
    "chrissanders-packets/ratinfected.pcapng",
    "stratosphere/test7-malicious.pcap",
    "stratosphere/test12-icmp-portscan.pcap",
    "stratosphere/malicious-ssh-bruteforce.pcap",
    "stopddos/pkt.TCP.synflood.spoofed.pcap",
    "stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng",
    "stopddos/amp.TCP.reflection.SYNACK.pcap",
    "stopddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng",
    "stopddos/amp.UDP.bacnet.IOT.37810.pcapng",
    "stopddos/amp.UDP.isakmp.pcap",
    "stopddos/amp.UDP.snmp.src161.pcapng",
];

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
    let Some(shared) = std::env::var_os(SHARED_DATA_ENV).map(PathBuf::from) else {
        eprintln!("models: {SHARED_DATA_ENV} is not set (cargo xtask bench sets it); skipping the shared captures");
        return Ok(None);
    };
    let pcaps = shared.join("pcaps");
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
    for capture in ATTACKS {
        test.push(replay(&pcaps.join(capture))?);
    }
    let labels = Labels::load(Path::new(LABELS))?;
    Ok(Some(CaptureData { train, test, labels }))
}
