//! `cargo xtask run -- ARGS`: set up, build, then become the agent.

use std::{ffi::OsString, os::unix::process::CommandExt};

use anyhow::{Result, bail};

use crate::{
    build, setup,
    util::{self, cmd},
};

pub fn run(release: bool, args: &[OsString]) -> Result<()> {
    setup::run(setup::Parts::ALL)?;
    let bin = build::build_agent(release)?;

    // Loading XDP/TC programs needs root (or CAP_BPF + CAP_NET_ADMIN +
    // CAP_PERFMON); re-run through sudo rather than fail late inside the agent.
    let mut agent = if util::is_root() {
        cmd(&bin)
    } else if let Some(sudo) = util::find_program("sudo") {
        let mut sudo = cmd(sudo);
        sudo.arg("-E").arg(&bin);
        sudo
    } else {
        bail!(
            "flowwatch needs root to load its eBPF programs and sudo is not installed; \
             rerun `cargo xtask run` as root"
        );
    };
    agent.args(args);
    eprintln!("$ {}", util::display(&agent));
    // exec so signals (Ctrl-C) and the exit status belong to the agent itself.
    let err = agent.exec();
    bail!("could not start {}: {err}", bin.display())
}
