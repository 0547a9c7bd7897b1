//! What the end-to-end tests share: where the shared data lives and how to
//! run the built `flowwatch`.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::{
    io,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The shared data folder: `FLOWWATCH_SHARED_DATA` (which `cargo xtask test`
/// sets), else `../shared/data` beside the workspace.
pub fn data_dir() -> PathBuf {
    std::env::var_os("FLOWWATCH_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// `relative` under the shared data folder, if it is there; else a SKIP
/// line is printed and the caller skips its test.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = data_dir().join(relative);
    if path.exists() {
        Some(path)
    } else {
        println!("SKIP {relative}: not found at {} (set FLOWWATCH_SHARED_DATA)", path.display());
        None
    }
}

/// Runs the built `flowwatch` with `args` and returns whatever it did: the
/// tests that expect a failure check its status and stderr.
pub fn flowwatch_output(args: &[&str]) -> io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_flowwatch")).args(args).output()
}

/// Runs the built `flowwatch` with `args`; its stdout, or an error with its stderr.
pub fn flowwatch(args: &[&str]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let out = flowwatch_output(args)?;
    if !out.status.success() {
        return Err(format!("flowwatch {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out.stdout)
}

/// A path as a command-line argument (test paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}
