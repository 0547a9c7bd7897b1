//! Running external commands (`ip`, `ethtool`, `ping`) with errors that
//! show the command line and its stderr.

use anyhow::{Context, Result, bail};
use std::process::{Command, Output, Stdio};

/// Runs `cmd` to completion and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let desc = format!("{cmd:?}");
    let out =
        cmd.stdin(Stdio::null()).output().with_context(|| format!("could not start {desc} (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "{desc} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(out)
}

/// Runs `ip ARGS...` in the current (root) namespace. Used only for
/// `ip netns add/del` and `ip -n NS ...`, which act on test namespaces.
pub fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new("ip").args(args))
}
