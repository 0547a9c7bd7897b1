//! `cargo xtask bench`: builds and runs `flowwatch-bench` (tests crate),
//! which measures in its own network namespaces and prints one table.
//! Benchmarks live here, never as timed assertions in tests.

use std::ffi::OsString;

use anyhow::{Result, bail};

use crate::{build, setup, util};

/// The bench's sections that run without root (no namespaces, no eBPF).
/// flowwatch-bench refuses the others itself; knowing them here spares a
/// non-root user the release builds before that refusal.
const ROOT_FREE_SECTIONS: [&str; 3] = ["replay", "records", "models"];

pub fn run(args: &[OsString]) -> Result<()> {
    setup::run(setup::Parts::ALL)?;
    if needs_root(args) && !util::is_root() {
        bail!(
            "cargo xtask bench needs root for the kernel and drain sections: they create network namespaces, \
             load eBPF and enable kernel.bpf_stats_enabled (`-- --only replay|records|models` runs without)"
        );
    }
    // The replay section runs the agent binary itself.
    let agent = build::build_agent(true)?;
    util::run(util::cmd("cargo").args(["build", "--release", "-p", "integration-tests", "--bin", "flowwatch-bench"]))?;
    let bench = util::target_dir()?.join("release").join("flowwatch-bench");
    let mut command = util::cmd(&bench);
    command.env("FLOWWATCH_BIN", &agent).args(args);
    util::pass_shared_data(&mut command, "bench", "the replay section needs the shared captures");
    util::run(&mut command)
}

/// Whether the flowwatch-bench arguments select a section that needs root:
/// no `--only` (every section) or an `--only` other than the root-free ones.
fn needs_root(args: &[OsString]) -> bool {
    let mut sections = Vec::new();
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--only" {
            sections.push(args.next().map(|value| value.into_owned()).unwrap_or_default());
        } else if let Some(value) = arg.strip_prefix("--only=") {
            sections.push(value.to_owned());
        }
    }
    sections.is_empty() || sections.iter().any(|section| !ROOT_FREE_SECTIONS.contains(&section.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_root_for(list: &[&str]) -> bool {
        needs_root(&list.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn only_kernel_and_drain_need_root() {
        assert!(needs_root_for(&[]));
        assert!(needs_root_for(&["--json", "out.json"]));
        assert!(needs_root_for(&["--only", "drain"]));
        assert!(needs_root_for(&["--only", "models", "--only=kernel"]));
        assert!(needs_root_for(&["--only"]));
        assert!(!needs_root_for(&["--only", "replay"]));
        assert!(!needs_root_for(&["--only", "models", "--only=records", "--json", "out.json"]));
    }
}
