//! What the end-to-end tests share: where the shared data lives and how to
//! run the built `flowwatch`.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::{
    io,
    path::{Path, PathBuf},
    process::{Command, Output},
};

const SHARED_DATA_VAR: &str = "FLOWWATCH_SHARED_DATA";

/// The shared captures' roles, as `cargo xtask evaluate` reads them (the
/// benign list, the attacks and their victims).
pub mod shared_captures {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/shared-pcaps.captures.rs"));
}

/// The shared data folder: `FLOWWATCH_SHARED_DATA` (which `cargo xtask test`
/// sets), else `../shared/data` beside the workspace.
pub fn data_dir() -> PathBuf {
    std::env::var_os(SHARED_DATA_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// `relative` under the shared data folder, if it is there; else the
/// caller skips its test (see [`skip_without_shared_data`]).
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = data_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    skip_without_shared_data(&format!("{relative}: not found at {}", path.display()));
    None
}

/// Shared data the caller needs is missing (`what` says which). With
/// `FLOWWATCH_SHARED_DATA` set, as `cargo xtask test` sets it when the data
/// is there, this panics: a test must not pass with nothing checked. Unset,
/// it prints a SKIP line and the caller skips its test.
pub fn skip_without_shared_data(what: &str) {
    assert!(std::env::var_os(SHARED_DATA_VAR).is_none(), "{what}, but {SHARED_DATA_VAR} is set");
    println!("SKIP {what} (set {SHARED_DATA_VAR})");
}

fn flowwatch_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowwatch"));
    command.args(args);
    command
}

/// Runs the built `flowwatch` with `args` and returns whatever it did: the
/// tests that expect a failure check its status and stderr.
pub fn flowwatch_output(args: &[&str]) -> io::Result<Output> {
    flowwatch_command(args).output()
}

/// Runs the built `flowwatch` with `args`; its stdout, or an error with its stderr.
pub fn flowwatch(args: &[&str]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(checked_output(&mut flowwatch_command(args))?.stdout)
}

/// Runs `command` (flowwatch or a reference tool) to its end; what it
/// printed, or an error with the command line and its stderr if it failed.
pub fn checked_output(command: &mut Command) -> Result<Output, Box<dyn std::error::Error>> {
    let out = command.output()?;
    if !out.status.success() {
        return Err(format!("{command:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out)
}

/// A path as a command-line argument (test paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}
