//! Replay throughput against tshark and tcpdump reading the same file in
//! the same run, on three files, and replay's peak memory on 1× and 5× a
//! capture (it must depend on the live flows, not on the file size).
//!
//! - The target file: 5 million packets of the simulator's benign LAN
//!   traffic (≈ 110 packets per flow, as on an ordinary network).
//! - The stress file, built in a temporary folder with Wireshark's own tools:
//!   every shared capture is shifted in time (`editcap -t`) to follow the
//!   previous one, the round is concatenated (`mergecap -a`), and the round
//!   is repeated the same way until the file holds several million packets.
//!   Capture time only moves forward, as in one long real capture, so flows
//!   idle out as they would live. The captures are mostly floods and scans,
//!   so about 0.8 packets in 1 start a new flow.
//! - Real benign LAN traffic (one shared capture repeated), for contrast.

use std::{
    fs,
    io::{BufRead, BufReader, Read, Seek},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use integration_tests::{agent::flowwatch_bin, shared_data::shared_captures};

use crate::report::Report;

/// Capture time between two shifted captures (beyond the idle timeout, so
/// one capture's flows end before the next begins).
const GAP_S: f64 = 60.0;
/// Copies of the 2,000-packet benign LAN capture for the contrast figure.
const LAN_COPIES: usize = 500;
/// The memory check replays the capture this many times over.
const MEMORY_FACTOR: usize = 5;

/// What a finished child process used.
struct Measured {
    elapsed: Duration,
    /// User + system CPU time.
    cpu: Duration,
    max_rss_kib: u64,
}

/// Runs `command` to completion with its output discarded (stderr kept for
/// errors) and returns its wall time, CPU time and peak resident memory,
/// read from the kernel's accounting of exactly this child (`wait4`).
fn measure(command: &mut Command) -> Result<Measured> {
    let desc = format!("{command:?}");
    let mut stderr = tempfile::tempfile()?;
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.try_clone()?)
        .spawn()
        .with_context(|| format!("starting {desc} (is it installed?)"))?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; both pointers are valid for the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    ensure!(reaped == pid, "waiting for {desc}: {}", std::io::Error::last_os_error());
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut text = String::new();
        stderr.rewind()?;
        stderr.read_to_string(&mut text)?;
        bail!("{desc} failed (wait status {status:#x}): {}", text.trim());
    }
    let seconds = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1_000);
    Ok(Measured {
        elapsed,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}

/// Runs a capture tool and returns its stdout; fails with its stderr.
fn tool(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program} (install tshark / wireshark-common)"))?;
    ensure!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// First and last packet time (seconds since the epoch) of a capture.
fn time_span(file: &Path) -> Result<(f64, f64)> {
    let text = tool("capinfos", &["-T", "-r", "-S", "-a", "-e", &file.to_string_lossy()])?;
    let fields: Vec<&str> = text.trim_end().split('\t').collect();
    match fields.as_slice() {
        [_, first, last] => Ok((first.parse()?, last.parse()?)),
        _ => bail!("unexpected capinfos output for {}: {text:?}", file.display()),
    }
}

fn packet_count(file: &Path) -> Result<u64> {
    let text = tool("capinfos", &["-T", "-r", "-M", "-c", &file.to_string_lossy()])?;
    let count = text.trim_end().rsplit('\t').next().unwrap_or_default();
    count.parse().with_context(|| format!("unexpected capinfos output for {}: {text:?}", file.display()))
}

/// `input` with every timestamp moved by `shift_s`, as classic pcap.
fn shifted(input: &Path, shift_s: f64, output: &Path) -> Result<()> {
    tool(
        "editcap",
        &["-F", "pcap", "-t", &format!("{shift_s:.6}"), &input.to_string_lossy(), &output.to_string_lossy()],
    )?;
    Ok(())
}

/// `inputs` one after the other (not interleaved by time), as classic pcap.
fn concatenated(inputs: &[PathBuf], output: &Path) -> Result<()> {
    let mut args = vec!["-a".to_owned(), "-F".to_owned(), "pcap".to_owned(), "-w".to_owned()];
    args.push(output.to_string_lossy().into_owned());
    args.extend(inputs.iter().map(|p| p.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("mergecap", &args)?;
    Ok(())
}

/// `inputs` laid end to end in capture time, `GAP_S` apart, starting at
/// `start_s`, into `output`. Returns the capture time it spans (with the
/// trailing gap), to lay the next copy after it.
fn lay_end_to_end(inputs: &[PathBuf], start_s: f64, dir: &Path, output: &Path) -> Result<f64> {
    let mut offset = 0.0;
    let mut parts = Vec::with_capacity(inputs.len());
    for (n, input) in inputs.iter().enumerate() {
        let (first, last) = time_span(input)?;
        let part = dir.join(format!("part-{n:04}.pcap"));
        shifted(input, start_s + offset - first, &part)?;
        parts.push(part);
        offset += (last - first) + GAP_S;
    }
    concatenated(&parts, output)?;
    parts.iter().try_for_each(fs::remove_file)?;
    Ok(offset)
}

/// `copies` of `round`, each `span_s` after the previous one, in `output`.
fn repeated(round: &Path, span_s: f64, copies: usize, dir: &Path, output: &Path) -> Result<()> {
    let mut parts = Vec::with_capacity(copies);
    for k in 0..copies {
        let part = dir.join(format!("copy-{k:04}.pcap"));
        shifted(round, k as f64 * span_s, &part)?;
        parts.push(part);
    }
    concatenated(&parts, output)?;
    parts.iter().try_for_each(fs::remove_file)?;
    Ok(())
}

/// Flows in an NDJSON records file: its `flow` lines less the interim
/// (`active`) ones, since every flow ends with exactly one final record.
fn flows_in_records(path: &Path) -> Result<u64> {
    let mut flows = 0;
    for line in BufReader::new(fs::File::open(path)?).lines() {
        let line = line?;
        flows += u64::from(line.starts_with(r#"{"type":"flow","#) && !line.contains(r#""reason":"active""#));
    }
    Ok(flows)
}

fn flowwatch_replay(bin: &Path, inputs: &[PathBuf]) -> Command {
    flowwatch_replay_to(bin, inputs, Path::new("/dev/null"), &[])
}

/// Replay with records written to `flows` and `extra` flags.
fn flowwatch_replay_to(bin: &Path, inputs: &[PathBuf], flows: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command.arg("replay").args(inputs).arg("--flows").arg(flows).args(extra);
    command
}

/// One file's throughput rows: flowwatch with the default rule detectors,
/// without analysis, with its records in a real file (when `to_file`), and
/// tshark and tcpdump reading the same file in the same run. Rates are per
/// wall-clock second; each note adds the rate per CPU second, the figure a
/// shared machine does not distort, and, when the records went to a file
/// (which counts the flows), flowwatch's CPU time per flow.
struct FileRun<'a> {
    bin: &'a Path,
    file: &'a Path,
    /// What the rows' names start with.
    label: &'a str,
    target: Option<&'a str>,
    to_file: bool,
}

impl FileRun<'_> {
    /// Measures and reports; returns the default replay's measurement and
    /// the file's packet count.
    fn report(&self, report: &mut Report, dir: &Path) -> Result<(Measured, u64)> {
        let file = [self.file.to_path_buf()];
        let packets = packet_count(self.file)?;
        let size_mib = fs::metadata(self.file)?.len() as f64 / f64::from(1u32 << 20);
        let replay = measure(&mut flowwatch_replay(self.bin, &file))?;
        let no_analysis =
            measure(&mut flowwatch_replay_to(self.bin, &file, Path::new("/dev/null"), &["--no-analysis"]))?;
        let tshark = measure(Command::new("tshark").args(["-q", "-z", "conv,ip", "-r"]).arg(self.file))?;
        let tcpdump = measure(Command::new("tcpdump").arg("-r").arg(self.file).args(["-w", "/dev/null"]))?;
        // Records to a real file: their size, and the flow count the notes use.
        let to_file = if self.to_file {
            let flows_file = dir.join("flows.ndjson");
            let to_file = measure(&mut flowwatch_replay_to(self.bin, &file, &flows_file, &["--no-analysis"]))?;
            let flows_mib = fs::metadata(&flows_file)?.len() as f64 / f64::from(1u32 << 20);
            let flows = flows_in_records(&flows_file)?;
            fs::remove_file(&flows_file)?;
            Some((to_file, flows_mib, flows))
        } else {
            None
        };
        let flows = to_file.as_ref().map(|&(_, _, flows)| flows);
        let pps = |m: &Measured| packets as f64 / m.elapsed.as_secs_f64();
        let note = |m: &Measured| {
            format!(
                "{:.2} s wall, {:.2} s CPU = {:.0} pkt/s per CPU second",
                m.elapsed.as_secs_f64(),
                m.cpu.as_secs_f64(),
                packets as f64 / m.cpu.as_secs_f64()
            )
        };
        let per_flow = |m: &Measured| {
            flows.map_or_else(String::new, |flows| {
                format!("; {:.2} µs CPU per flow", m.cpu.as_secs_f64() * 1e6 / flows as f64)
            })
        };
        let row = |name: &str| format!("[{}] {name}", self.label);
        let mut add = |name: &str, m: &Measured, extra: String| {
            let added =
                report.add("replay", row(name), pps(m), "pkt/s").note(format!("{extra}{}{}", note(m), per_flow(m)));
            if let Some(target) = self.target {
                added.target(target);
            }
        };
        let flow_count = flows.map_or_else(String::new, |flows| {
            format!("{flows} flows ({:.1} packets per flow), ", packets as f64 / flows as f64)
        });
        add(
            "flowwatch replay --flows /dev/null",
            &replay,
            format!("{packets} packets, {flow_count}{size_mib:.0} MiB; "),
        );
        add("flowwatch replay --flows /dev/null --no-analysis", &no_analysis, String::new());
        if let Some((to_file, flows_mib, _)) = &to_file {
            add("flowwatch replay --flows FILE --no-analysis", to_file, format!("{flows_mib:.0} MiB of records; "));
        }
        report.add("replay", row("tshark -q -z conv,ip"), pps(&tshark), "pkt/s").note(note(&tshark));
        report.add("replay", row("tcpdump -r FILE -w /dev/null"), pps(&tcpdump), "pkt/s").note(note(&tcpdump));
        let ratio = |theirs: &Measured| format!("--no-analysis: {:.2}x", pps(&no_analysis) / pps(theirs));
        report
            .add("replay", row("flowwatch speed / tshark conv,ip"), pps(&replay) / pps(&tshark), "x")
            .note(ratio(&tshark));
        report
            .add("replay", row("flowwatch speed / tcpdump -r"), pps(&replay) / pps(&tcpdump), "x")
            .note(ratio(&tcpdump));
        Ok((replay, packets))
    }
}

/// Packets in the simulated capture (the issue asks for at least 5 million).
const SIMULATED_PACKETS: u64 = 5_000_000;

/// The simulator's benign LAN traffic, `SIMULATED_PACKETS` long, in `output`.
fn simulated(bin: &Path, output: &Path) -> Result<()> {
    measure(
        Command::new(bin)
            .args(["simulate", "--seed", "11", "--duration", "10h", "--hosts", "180", "--packets"])
            .arg(SIMULATED_PACKETS.to_string())
            .arg("--out")
            .arg(output),
    )?;
    Ok(())
}

pub fn run(report: &mut Report, rounds: usize) -> Result<()> {
    let bin = flowwatch_bin()?;
    let captures = shared_captures()?;
    let dir = tempfile::tempdir()?;

    // The target file: ordinary LAN traffic from the simulator, as the
    // issue allows (many packets per flow, as on a real network).
    let simulated_file = dir.path().join("simulated.pcap");
    eprintln!("replay: simulating {SIMULATED_PACKETS} packets of benign traffic in {}", dir.path().display());
    simulated(&bin, &simulated_file)?;
    FileRun { bin: &bin, file: &simulated_file, label: "simulated LAN", target: Some(">= 2000000"), to_file: true }
        .report(report, dir.path())?;
    fs::remove_file(&simulated_file)?;

    // The stress file: every shared capture, repeated. They are mostly
    // floods and scans from spoofed or many sources, so most packets start
    // a flow and the per-flow work dominates.
    eprintln!(
        "replay: building a capture of {rounds} rounds of the {} shared captures in {}",
        captures.len(),
        dir.path().display()
    );
    let round = dir.path().join("round.pcap");
    // 2023-11-14: any fixed start works; a fixed one makes runs comparable.
    let span_s = lay_end_to_end(&captures, 1_700_000_000.0, dir.path(), &round)?;
    let big = dir.path().join("replay-bench.pcap");
    repeated(&round, span_s, rounds, dir.path(), &big)?;
    fs::remove_file(&round)?;
    let (replay, packets) = FileRun { bin: &bin, file: &big, label: "shared-capture mix", target: None, to_file: true }
        .report(report, dir.path())?;

    // Real benign LAN traffic, for contrast with the simulator's.
    if let Some(lan) = captures.iter().find(|p| p.ends_with("kitsune/mirai2000.pcap")) {
        let lan_round = dir.path().join("lan-round.pcap");
        let lan_span_s = lay_end_to_end(std::slice::from_ref(lan), 1_700_000_000.0, dir.path(), &lan_round)?;
        let lan_big = dir.path().join("lan.pcap");
        repeated(&lan_round, lan_span_s, LAN_COPIES, dir.path(), &lan_big)?;
        let label = format!("kitsune/mirai2000.pcap x {LAN_COPIES}");
        FileRun { bin: &bin, file: &lan_big, label: &label, target: None, to_file: false }
            .report(report, dir.path())?;
        fs::remove_file(&lan_big)?;
    }

    // The same capture five times over, later copies shifted past the end
    // of the earlier ones, replayed as one capture of five times the size.
    let mut inputs = vec![big.clone()];
    for k in 1..MEMORY_FACTOR {
        let copy = dir.path().join(format!("replay-bench-{k}.pcap"));
        shifted(&big, k as f64 * span_s * rounds as f64, &copy)?;
        inputs.push(copy);
    }
    let replay_5x = measure(&mut flowwatch_replay(&bin, &inputs))?;
    let mib = |m: &Measured| m.max_rss_kib as f64 / 1024.0;
    report.add("replay", "flowwatch replay peak RSS, 1x the shared-capture mix", mib(&replay), "MiB");
    report
        .add(
            "replay",
            format!("flowwatch replay peak RSS, {MEMORY_FACTOR}x the shared-capture mix"),
            mib(&replay_5x),
            "MiB",
        )
        .target("~ the 1x figure")
        .note(format!("{} packets in {:.2} s", packets * MEMORY_FACTOR as u64, replay_5x.elapsed.as_secs_f64()));
    Ok(())
}
