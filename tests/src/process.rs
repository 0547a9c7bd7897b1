//! A child process under supervision: its stderr collected line by line,
//! a wait for a readiness line, a signal-then-wait stop, a kill on drop.

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Supervised {
    name: String,
    child: Option<Child>,
    stderr_log: Arc<Mutex<String>>,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl Supervised {
    /// Spawns `cmd` with stdin and stdout null and stderr collected.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("{name}: no stderr pipe"))?;
        let stderr_log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = channel();
        let log = Arc::clone(&stderr_log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
                // The receiver may be gone; the log keeps everything anyway.
                let _ = tx.send(line);
            }
        });
        Ok(Supervised { name: name.to_owned(), child: Some(child), stderr_log, lines, reader: Some(reader) })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr_log.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until a stderr line contains `needle`. Fails on timeout or if
    /// the child closes stderr (exits) first, quoting its stderr.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(()),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    bail!("{} did not log {needle:?} within {timeout:?}; stderr:\n{}", self.name, self.stderr())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("{} exited before logging {needle:?}; stderr:\n{}", self.name, self.stderr())
                }
            }
        }
    }

    /// Sends `signal` and waits up to `timeout` for the exit; SIGKILL after that.
    /// Returns the exit status once stderr is fully collected.
    pub fn signal_and_wait(&mut self, signal: Signal, timeout: Duration) -> Result<ExitStatus> {
        let child = self.child.as_mut().ok_or_else(|| anyhow!("{} already stopped", self.name))?;
        if child.try_wait()?.is_none() {
            let pid = Pid::from_raw(i32::try_from(child.id())?);
            kill(pid, signal).with_context(|| format!("sending {signal} to {}", self.name))?;
        }
        self.wait(timeout)
    }

    /// Waits up to `timeout` for the child to exit by itself; SIGKILL after that.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("{} already stopped", self.name))?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.join_reader();
                bail!("{} did not exit within {timeout:?}; killed. stderr:\n{}", self.name, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.join_reader();
        Ok(status)
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn waits_for_a_line_then_stops_with_a_signal() {
        let mut p = Supervised::spawn("sh", sh("echo starting >&2; echo ready now >&2; exec sleep 30")).expect("spawn");
        p.wait_for_stderr("ready", Duration::from_secs(5)).expect("ready line");
        let status = p.signal_and_wait(Signal::SIGTERM, Duration::from_secs(5)).expect("stops");
        assert!(!status.success());
        assert_eq!(p.stderr(), "starting\nready now\n");
    }

    #[test]
    fn an_early_exit_is_an_error_quoting_stderr() {
        let p = Supervised::spawn("sh", sh("echo boom >&2; exit 3")).expect("spawn");
        let err = p.wait_for_stderr("ready", Duration::from_secs(5)).expect_err("exits first");
        assert!(format!("{err}").contains("boom"), "{err}");
    }

    #[test]
    fn a_missing_line_times_out() {
        let p = Supervised::spawn("sh", sh("exec sleep 30")).expect("spawn");
        let err = p.wait_for_stderr("ready", Duration::from_millis(100)).expect_err("times out");
        assert!(format!("{err}").contains("did not log"), "{err}");
    }
}
