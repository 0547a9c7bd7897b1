//! `cargo xtask test`: everything a CI run needs, from a bare machine to a
//! pass/fail summary.

use std::{ffi::OsString, time::Instant};

use anyhow::{Context, Result};

use crate::{
    build, setup,
    util::{self, cmd},
};

pub fn run(extra: &[OsString]) -> Result<()> {
    let started = Instant::now();
    let outcome = run_steps(extra);
    let took = util::secs(started.elapsed());
    match &outcome {
        Ok(()) => eprintln!("xtask test: PASSED in {took}"),
        Err(err) => eprintln!("xtask test: FAILED after {took}: {err}"),
    }
    outcome
}

fn run_steps(extra: &[OsString]) -> Result<()> {
    setup::run(setup::Parts::ALL)?;
    // Release throughout, so the agent the tests run and the test binaries
    // share one build instead of compiling the dependency tree twice.
    let bin = build::build_agent(true)?;

    let root = util::workspace_root();
    let mut test = cmd("cargo");
    test.current_dir(&root).env("FLOWWATCH_BIN", &bin).arg("test");
    if !selects_packages(extra) {
        // The kernel crate only builds for bpfel-unknown-none (it is covered
        // by `cargo xtask lint` and embedded in the agent).
        test.args(["--workspace", "--exclude", "agent-ebpf"]);
    }
    test.arg("--release").args(extra);

    util::pass_shared_data(&mut test, "test", "tests that need the shared captures will skip");
    if !util::is_root() {
        eprintln!("test: not root; privileged (netns/veth) integration tests will skip themselves");
    }
    util::run(&mut test).context("cargo test reported failures; see its output above")?;
    Ok(())
}

/// Whether the pass-through arguments already choose packages, in which case
/// adding `--workspace` would override the user's choice.
fn selects_packages(extra: &[OsString]) -> bool {
    extra
        .iter()
        .take_while(|a| *a != "--")
        .filter_map(|a| a.to_str())
        .any(|a| a == "-p" || a.starts_with("--package") || (a.starts_with("-p") && a.len() > 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn package_selection_is_detected_before_the_harness_separator() {
        assert!(selects_packages(&args(&["-p", "models"])));
        assert!(selects_packages(&args(&["-pmodels"])));
        assert!(selects_packages(&args(&["--package=models"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&["--", "--nocapture"])));
        assert!(!selects_packages(&[]));
    }
}
