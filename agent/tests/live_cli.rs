//! Command lines live capture refuses before it starts: they end with a usage
//! error (exit status 2) and leave every output file as it was. No root
//! needed, since nothing is attached.

mod e2e;

use e2e::{flowwatch_output, s};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SHORT_IDLE_TIMEOUT: [&str; 4] = ["--poll-interval", "1s", "--idle-timeout", "2s"];

#[test]
fn run_refuses_a_short_idle_timeout_before_opening_its_outputs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (flows, written) = (dir.path().join("flows.ndjson"), dir.path().join("out.pcap"));
    let earlier = "{\"type\":\"flow\"}\n";
    std::fs::write(&flows, earlier)?;
    let args = [&["run", "-i", "lo", "--flows", s(&flows), "-w", s(&written)][..], &SHORT_IDLE_TIMEOUT].concat();
    let output = flowwatch_output(&args)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--idle-timeout 2s is too short for --poll-interval 1s"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&flows)?, earlier, "--flows was truncated");
    assert!(!written.exists(), "-w was created");
    Ok(())
}

#[test]
fn train_on_an_interface_refuses_a_short_idle_timeout() -> TestResult {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("m.fwm");
    let live = [&["train", "-i", "lo", "--model", s(&model)][..], &SHORT_IDLE_TIMEOUT].concat();
    let output = flowwatch_output(&live)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("live capture needs at least 3s"), "{stderr}");
    assert!(!model.exists(), "a model was written");
    Ok(())
}
