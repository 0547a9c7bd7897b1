//! `cargo xtask bench`: builds and runs `flowwatch-bench` (tests crate),
//! which measures in its own network namespaces and prints one table.
//! Benchmarks live here, never as timed assertions in tests.

use std::ffi::OsString;

use anyhow::{Result, bail};

use crate::{setup, util};

pub fn run(args: &[OsString]) -> Result<()> {
    setup::run(setup::Parts::ALL)?;
    if !util::is_root() {
        bail!(
            "cargo xtask bench needs root: it creates network namespaces, loads eBPF and enables kernel.bpf_stats_enabled"
        );
    }
    util::run(util::cmd("cargo").args(["build", "--release", "-p", "integration-tests", "--bin", "flowwatch-bench"]))?;
    let bench = util::target_dir()?.join("release").join("flowwatch-bench");
    util::run(util::cmd(&bench).args(args))
}
