//! The flowwatch binary under test, run inside a namespace.

use crate::netns::NetNs;
use crate::process::Supervised;
use crate::records::AgentOutput;
use anyhow::{Context, Result, bail, ensure};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the agent gets to attach, and to shut down.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The binary: `$FLOWWATCH_BIN`, else `<workspace>/target/release/flowwatch`,
/// else `target/debug/flowwatch`. An error (the test fails) when none exists.
pub fn flowwatch_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWWATCH_BIN") {
        let p = PathBuf::from(p);
        ensure!(p.is_file(), "FLOWWATCH_BIN={} does not exist; run `cargo xtask test`, which builds it", p.display());
        return Ok(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf();
    for profile in ["release", "debug"] {
        let p = workspace.join("target").join(profile).join("flowwatch");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "flowwatch binary not found (FLOWWATCH_BIN unset, nothing in {}/target/{{release,debug}}); \
         run `cargo xtask test`, which builds it and runs these tests",
        workspace.display()
    )
}

/// A running `flowwatch run` attached to one interface of a namespace.
/// Killed on drop if [`Agent::stop`] was not called.
#[derive(Debug)]
pub struct Agent {
    proc: Supervised,
    flows: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Runs `flowwatch run -i IFACE --flows FILE --poll-interval 200ms EXTRA...`
    /// inside `ns` and waits until it logs `capturing on`. `--poll-interval`
    /// in `extra` replaces the default.
    pub fn start(ns: &NetNs, iface: &str, extra: &[&str]) -> Result<Self> {
        let bin = flowwatch_bin()?;
        let dir = tempfile::tempdir()?;
        let flows = dir.path().join("flows.ndjson");
        let flows_arg = flows.to_string_lossy().into_owned();
        let mut args = vec!["run", "-i", iface, "--flows", &flows_arg];
        if !extra.contains(&"--poll-interval") {
            args.extend(["--poll-interval", "200ms"]);
        }
        args.extend(extra);
        let proc = Supervised::spawn("flowwatch", ns.command(&bin.to_string_lossy(), &args))?;
        proc.wait_for_stderr("capturing on", START_TIMEOUT)?;
        Ok(Agent { proc, flows, _dir: dir })
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// SIGTERM, wait for exit status 0, and parse everything written to --flows.
    pub fn stop(mut self) -> Result<AgentOutput> {
        let status = self.proc.signal_and_wait(Signal::SIGTERM, STOP_TIMEOUT)?;
        let stderr = self.proc.stderr();
        ensure!(status.success(), "flowwatch exited with {status} after SIGTERM; stderr:\n{stderr}");
        let text = std::fs::read_to_string(&self.flows)
            .with_context(|| format!("reading the agent's --flows file {}", self.flows.display()))?;
        AgentOutput::parse(&text, stderr)
    }
}

/// The result of a flowwatch run that was expected to end by itself.
#[derive(Debug)]
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stderr: String,
}

/// Runs `flowwatch ARGS...` inside `ns` to completion (killed after
/// `timeout`), its stderr drained as it comes so a chatty run cannot fill
/// the pipe and stall.
pub fn run_to_completion(ns: &NetNs, args: &[&str], timeout: Duration) -> Result<Finished> {
    let bin = flowwatch_bin()?;
    let mut run = Supervised::spawn("flowwatch", ns.command(&bin.to_string_lossy(), args))?;
    let status = run.wait(timeout).with_context(|| format!("flowwatch {args:?}"))?;
    Ok(Finished { status, stderr: run.stderr() })
}
