//! A network namespace guard.

use crate::{cmd, names};
use anyhow::{Context, Result, anyhow};
use nix::sched::CloneFlags;
use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// A named network namespace (`ip netns add`), deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a fresh namespace with a unique name and its loopback up.
    /// The first call in a process also deletes namespaces left by runs
    /// killed before their guards ran (see [`remove_orphans`]).
    pub fn new() -> Result<Self> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(remove_orphans);
        let name = names::unique('n');
        cmd::ip(&["netns", "add", &name])?;
        let ns = NetNs { name };
        cmd::ip(&["-n", ns.name(), "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind-mounted namespace file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }

    /// Runs `f` on a fresh thread that has joined this namespace, so every
    /// socket `f` creates lives here (a socket keeps its namespace for life,
    /// so it may be returned and used from any thread). A panic in `f` is
    /// propagated.
    pub fn run_in<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let file = File::open(self.path()).with_context(|| format!("opening {}", self.path().display()))?;
        let joined = std::thread::scope(|scope| {
            scope
                .spawn(move || -> Result<R> {
                    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
                        .map_err(|e| anyhow!("setns into {}: {e}", self.name))?;
                    Ok(f())
                })
                .join()
        });
        match joined {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// A command that runs `program args...` inside this namespace
    /// (`ip netns exec`, which execs in place: the child's pid is the program's).
    pub fn command<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }

    /// Runs `program args...` inside this namespace; fails unless it exits 0.
    pub fn exec<I, S>(&self, program: &str, args: I) -> Result<std::process::Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        cmd::run(&mut self.command(program, args))
    }

    /// Writes a sysctl of this namespace (`key` in dotted form, as for
    /// `sysctl -w`). `/proc/sys/net` resolves against the writing thread's
    /// namespace, so this goes through [`NetNs::run_in`].
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        let value = value.to_owned();
        self.run_in(move || std::fs::write(&path, value))?.with_context(|| format!("sysctl {key} in {}", self.name))
    }
}

/// Deletes every namespace named by [`names::unique`] whose process is
/// gone: a test or bench run killed by a signal (Ctrl-C, a timeout) never
/// runs its guards, so its namespaces, and the veth pairs and programs in
/// them, would stay. A live process's namespaces are left alone, so runs
/// side by side do not disturb each other. Runs before this process makes
/// its first namespace, so one with this process's pid is left over from
/// a dead process that had the same pid, and goes too (a new name would
/// otherwise collide with it).
fn remove_orphans() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(pid) = names::namespace_owner_pid(&name) else {
            continue;
        };
        if pid == std::process::id() || !PathBuf::from(format!("/proc/{pid}")).exists() {
            eprintln!("removing network namespace {name}, left by a run (pid {pid}) that was killed");
            if let Err(e) = cmd::ip(&["netns", "del", &name]) {
                eprintln!("warning: could not delete netns {name}: {e:#}");
            }
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = cmd::ip(&["netns", "del", &self.name]) {
            eprintln!("warning: could not delete netns {}: {e:#}", self.name);
        }
    }
}
