//! Running external commands and locating things on the host.
//!
//! Every command goes through [`cmd`] so children see `$CARGO_HOME/bin` on
//! `PATH`: a `bpf-linker` that setup has just installed there must be found by
//! the rustc that aya-build starts, even in shells that never sourced
//! `~/.cargo/env`.

use std::{
    env,
    ffi::{OsStr, OsString},
    io::Write,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::OnceLock,
};

use anyhow::{Context, Result, bail};

/// The workspace root. xtask always runs from its own checkout, so the
/// compile-time manifest directory is the right anchor (not the caller's cwd).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The shared data (captures, GeoIP databases) beside the workspace: `../shared/data`.
pub fn shared_data_dir() -> PathBuf {
    workspace_root().join("../shared/data")
}

/// The variable that tells the tests and the bench where the shared data is.
pub const SHARED_DATA_ENV: &str = "FLOWWATCH_SHARED_DATA";

/// Points `command` at the shared data through [`SHARED_DATA_ENV`], or says
/// (as `who`) that it is missing and what `missing` means for the run.
pub fn pass_shared_data(command: &mut Command, who: &str, missing: &str) {
    let shared = shared_data_dir();
    match shared.canonicalize() {
        Ok(shared) => {
            command.env(SHARED_DATA_ENV, shared);
        }
        Err(_) => eprintln!("{who}: {} not found; {missing}", shared.display()),
    }
}

/// `$CARGO_HOME`, defaulting like cargo does to `~/.cargo`.
pub fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let home = env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither CARGO_HOME nor HOME is set; set CARGO_HOME to cargo's directory")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// `PATH` for children: the caller's `PATH` with `$CARGO_HOME/bin` appended
/// when it is missing.
fn child_path() -> &'static OsString {
    static PATH: OnceLock<OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let current = env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = env::split_paths(&current).collect();
        if let Ok(bin) = cargo_home().map(|h| h.join("bin"))
            && !dirs.contains(&bin)
        {
            dirs.push(bin);
        }
        // Only fails on a directory containing ':', which cannot come from
        // split_paths; keep the caller's PATH untouched in that case.
        env::join_paths(dirs).unwrap_or(current)
    })
}

/// A command whose `PATH` includes `$CARGO_HOME/bin`.
pub fn cmd(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env("PATH", child_path());
    command
}

/// First executable called `name` on the children's `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    env::split_paths(child_path())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The command line as a user could paste it (environment overrides first,
/// except the `PATH` that every command gets).
pub fn display(command: &Command) -> String {
    let mut parts: Vec<String> = command
        .get_envs()
        .filter(|(key, _)| *key != "PATH")
        .map(|(key, value)| {
            format!("{}={}", key.to_string_lossy(), value.map(|v| v.to_string_lossy()).unwrap_or_default())
        })
        .collect();
    parts.push(command.get_program().to_string_lossy().into_owned());
    parts.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn check_status(command: &Command, status: ExitStatus) -> Result<()> {
    if status.success() { Ok(()) } else { bail!("`{}` failed ({status})", display(command)) }
}

/// Runs `command` with inherited stdio, echoing it first so the user sees
/// what is being done to their machine.
pub fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {}", display(command));
    let status = command.status().with_context(|| format!("could not start `{}`", display(command)))?;
    check_status(command, status)
}

/// Runs `command` feeding it `input` on stdin (e.g. debconf-set-selections).
pub fn run_with_stdin(command: &mut Command, input: &str) -> Result<()> {
    eprintln!("$ {} <<< {:?}", display(command), input.trim_end());
    let mut child =
        command.stdin(Stdio::piped()).spawn().with_context(|| format!("could not start `{}`", display(command)))?;
    child
        .stdin
        .take()
        .context("child stdin was not captured")?
        .write_all(input.as_bytes())
        .with_context(|| format!("could not write to `{}`", display(command)))?;
    let status = child.wait().with_context(|| format!("could not wait for `{}`", display(command)))?;
    check_status(command, status)
}

/// Runs a probe quietly and returns its stdout; errors carry its stderr.
pub fn output(command: &mut Command) -> Result<String> {
    let out =
        command.stdin(Stdio::null()).output().with_context(|| format!("could not start `{}`", display(command)))?;
    if !out.status.success() {
        bail!("`{}` failed ({}): {}", display(command), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8 output", display(command)))
}

/// Whether we run with an effective uid of 0 (capabilities are not probed:
/// root is what the privileged steps and tests check for too).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The target directory cargo uses for this workspace, honouring
/// `CARGO_TARGET_DIR` and `build.target-dir` by asking cargo itself.
pub fn target_dir() -> Result<PathBuf> {
    let json = output(cmd("cargo").current_dir(workspace_root()).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))
    .or_else(|_| {
        // --offline fails when the lock file needs the index; retry online.
        output(cmd("cargo").current_dir(workspace_root()).args(["metadata", "--format-version", "1", "--no-deps"]))
    })
    .context("could not ask cargo for the target directory")?;
    let meta: serde_json::Value = serde_json::from_str(&json).context("`cargo metadata` printed invalid JSON")?;
    meta.get("target_directory")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .context("`cargo metadata` output has no target_directory")
}

/// Seconds with one decimal, for progress and summary lines.
pub fn secs(elapsed: std::time::Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}
