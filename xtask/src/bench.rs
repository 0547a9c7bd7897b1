//! `cargo xtask bench`: builds and runs `flowwatch-bench` (tests crate),
//! which measures in its own network namespaces and prints one table.
//! Benchmarks live here, never as timed assertions in tests.

use std::ffi::OsString;

use anyhow::{Result, bail};

use crate::{build, setup, util};

pub fn run(args: &[OsString]) -> Result<()> {
    setup::run(setup::Parts::ALL)?;
    if !util::is_root() {
        bail!(
            "cargo xtask bench needs root: it creates network namespaces, loads eBPF and enables kernel.bpf_stats_enabled"
        );
    }
    // The replay section runs the agent binary itself.
    let agent = build::build_agent(true)?;
    util::run(util::cmd("cargo").args(["build", "--release", "-p", "integration-tests", "--bin", "flowwatch-bench"]))?;
    let bench = util::target_dir()?.join("release").join("flowwatch-bench");
    let mut command = util::cmd(&bench);
    command.env("FLOWWATCH_BIN", &agent).args(args);
    match util::workspace_root().join("../shared/data").canonicalize() {
        Ok(shared) => {
            command.env("FLOWWATCH_SHARED_DATA", shared);
        }
        Err(_) => eprintln!("bench: ../shared/data not found; the replay section needs the shared captures"),
    }
    util::run(&mut command)
}
