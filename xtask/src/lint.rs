//! `cargo xtask lint`: formatting and clippy for the host crates, and clippy
//! for the kernel crate on its real target (it cannot build for the host).

use anyhow::{Context, Result, bail};

use crate::{
    setup,
    util::{self, cmd},
};

/// The kernel crate: left out of host builds, checked for bpfel only.
const EBPF_CRATE: &str = "agent-ebpf";

pub fn run() -> Result<()> {
    // clippy on `agent` runs agent/build.rs, which needs nightly and bpf-linker.
    setup::run(setup::Parts::TOOLCHAIN)?;
    ensure_component(None, "rustfmt", "fmt")?;
    ensure_component(None, "clippy", "clippy")?;
    ensure_component(Some("nightly"), "clippy", "clippy")?;

    let root = util::workspace_root();
    let mut fmt = cmd("cargo");
    fmt.current_dir(&root).args(["fmt", "--all", "--", "--check"]);
    let mut host = cmd("cargo");
    host.current_dir(&root)
        .args(["clippy", "--workspace", "--exclude", EBPF_CRATE, "--all-targets"])
        .args(["--", "-D", "warnings"]);
    let mut kernel = cmd("rustup");
    kernel
        .current_dir(&root)
        .args(["run", "nightly", "cargo", "clippy", "-p", EBPF_CRATE])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .args(["--", "-D", "warnings"]);
    let checks = [
        ("formatting (fix with `cargo fmt --all`)", fmt),
        ("clippy on the host crates", host),
        ("clippy on agent-ebpf (bpfel-unknown-none)", kernel),
    ];

    // Run every check even after a failure: one lint run should show all
    // that needs fixing.
    let mut failed = Vec::new();
    for (what, mut check) in checks {
        if let Err(err) = util::run(&mut check) {
            eprintln!("lint: {what} failed: {err:#}");
            failed.push(what);
        }
    }
    if !failed.is_empty() {
        bail!("lint failed: {}", failed.join("; "));
    }
    eprintln!("lint: fmt and clippy clean");
    Ok(())
}

/// Adds a rustup component when `cargo <subcommand> --version` does not work
/// (a `--profile minimal` toolchain has neither rustfmt nor clippy).
fn ensure_component(toolchain: Option<&str>, component: &str, subcommand: &str) -> Result<()> {
    let mut probe = match toolchain {
        Some(toolchain) => {
            let mut probe = cmd("rustup");
            probe.args(["run", toolchain, "cargo"]);
            probe
        }
        // The active toolchain, whichever the user chose.
        None => cmd("cargo"),
    };
    probe.args([subcommand, "--version"]);
    if util::output(&mut probe).is_ok() {
        return Ok(());
    }
    let mut add = cmd("rustup");
    add.args(["component", "add", component]);
    if let Some(toolchain) = toolchain {
        add.args(["--toolchain", toolchain]);
    }
    util::run(&mut add).with_context(|| format!("could not add the {component} component"))
}
