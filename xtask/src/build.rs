//! `cargo xtask build`: the agent binary, with its embedded eBPF object.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::{
    setup,
    util::{self, cmd},
};

/// Binary name of the agent crate.
pub const AGENT_BIN: &str = "flowwatch";

/// `cargo xtask build`: toolchain setup, then the agent.
pub fn run(release: bool) -> Result<()> {
    setup::run(setup::Parts::TOOLCHAIN)?;
    let bin = build_agent(release)?;
    eprintln!("build: {}", bin.display());
    Ok(())
}

/// Builds the agent (agent/build.rs compiles the eBPF crate with nightly via
/// aya-build) and returns the absolute path of the `flowwatch` binary.
pub fn build_agent(release: bool) -> Result<PathBuf> {
    let mut build = cmd("cargo");
    build.current_dir(util::workspace_root()).args(["build", "-p", "agent"]);
    if release {
        build.arg("--release");
    }
    util::run(&mut build).context("building the agent failed; see cargo's output above")?;
    let bin = util::target_dir()?.join(if release { "release" } else { "debug" }).join(AGENT_BIN);
    anyhow::ensure!(
        bin.is_file(),
        "cargo built the agent but {} does not exist; does the agent crate still define the `{AGENT_BIN}` binary?",
        bin.display()
    );
    Ok(bin)
}
