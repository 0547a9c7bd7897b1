//! tcpdump inside a namespace as ground truth, and reading what it wrote.

use crate::key::FlowKey;
use crate::netns::NetNs;
use crate::packet;
use crate::process::Supervised;
use anyhow::{Context, Result, bail, ensure};
use nix::sys::signal::Signal;
use pcap_parser::Linktype;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A running `tcpdump -i IF -w FILE -U` in a namespace. Stop it with
/// [`Capture::stop`]; dropping it kills tcpdump.
#[derive(Debug)]
pub struct Capture {
    proc: Supervised,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

/// One captured frame: the length on the wire and the captured bytes.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Capture time since the Unix epoch (microsecond resolution).
    pub time: Duration,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

/// Packets and bytes (wire length) of one direction of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

impl Capture {
    /// Starts tcpdump on `ifname` inside `ns` and returns once it is listening.
    pub fn start(ns: &NetNs, ifname: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("capture.pcap");
        let file_arg = file.to_string_lossy().into_owned();
        // -Z root: do not drop to the tcpdump user, which could not write
        // into the private temp dir. --immediate-mode: hand every packet
        // over at once, so nothing waits in a ring block when we stop.
        // -s 256: headers are all we parse; the wire length is kept anyway.
        let cmd = ns.command(
            "tcpdump",
            ["-i", ifname, "-w", &file_arg, "-U", "-n", "-Z", "root", "--immediate-mode", "-s", "256"],
        );
        let proc = Supervised::spawn("tcpdump", cmd)?;
        proc.wait_for_stderr("listening on", Duration::from_secs(10))?;
        Ok(Capture { proc, file, _dir: dir })
    }

    /// Waits until tcpdump has written everything handed to it (the file
    /// stops growing), stops it with SIGINT, checks from its closing
    /// statistics that it wrote every packet the kernel gave it and the
    /// kernel dropped none, and reads the capture.
    pub fn stop(mut self) -> Result<Pcap> {
        self.settle()?;
        let status = self.proc.signal_and_wait(Signal::SIGINT, Duration::from_secs(10))?;
        let stderr = self.proc.stderr();
        ensure!(status.success(), "tcpdump exited with {status}; stderr:\n{stderr}");
        let stat = |what: &str| {
            stat_line(&stderr, what)
                .ok_or_else(|| anyhow::anyhow!("tcpdump printed no {what:?} count; stderr:\n{stderr}"))
        };
        let (captured, received, dropped) =
            (stat("captured")?, stat("received by filter")?, stat("dropped by kernel")?);
        ensure!(dropped == 0, "tcpdump: {dropped} packets dropped by kernel, the ground truth is incomplete");
        ensure!(captured == received, "tcpdump wrote {captured} of the {received} packets it received");
        let pcap = read_pcap(&self.file)?;
        ensure!(
            pcap.frames.len() as u64 == captured,
            "tcpdump captured {captured}, the file holds {}",
            pcap.frames.len()
        );
        Ok(pcap)
    }

    /// Returns once the capture file has not grown for 150 ms (at most 5 s).
    fn settle(&self) -> Result<()> {
        let size = || std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let (mut last, mut stable_since) = (size(), std::time::Instant::now());
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
            let now = size();
            if now != last {
                (last, stable_since) = (now, std::time::Instant::now());
            } else if stable_since.elapsed() >= Duration::from_millis(150) {
                return Ok(());
            }
        }
        bail!("capture file {} kept growing for 5 s", self.file.display())
    }
}

/// The number in tcpdump's closing line "N packets WHAT".
fn stat_line(stderr: &str, what: &str) -> Option<u64> {
    stderr
        .lines()
        .find(|l| l.contains(&format!("packets {what}")) || l.contains(&format!("packet {what}")))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Everything in one capture file.
#[derive(Clone, Debug, Default)]
pub struct Pcap {
    pub frames: Vec<Frame>,
}

/// Reads a classic pcap file of Ethernet frames.
pub fn read_pcap(path: &Path) -> Result<Pcap> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (rest, cap) =
        pcap_parser::parse_pcap(&bytes).map_err(|e| anyhow::anyhow!("parsing {}: {e:?}", path.display()))?;
    ensure!(rest.is_empty(), "{}: {} trailing bytes (truncated record)", path.display(), rest.len());
    ensure!(
        cap.header.network == Linktype::ETHERNET,
        "{}: link type {:?}, not Ethernet",
        path.display(),
        cap.header.network
    );
    let frames = cap
        .blocks
        .iter()
        .map(|b| Frame {
            time: Duration::new(u64::from(b.ts_sec), b.ts_usec.saturating_mul(1000)),
            wire_len: b.origlen,
            data: b.data.to_vec(),
        })
        .collect();
    Ok(Pcap { frames })
}

impl Pcap {
    /// Packets and wire bytes per flow key, one entry per direction.
    pub fn counts(&self) -> BTreeMap<FlowKey, Count> {
        let mut out: BTreeMap<FlowKey, Count> = BTreeMap::new();
        for f in &self.frames {
            if let Some(key) = packet::parse_frame(&f.data) {
                let c = out.entry(key).or_default();
                c.packets += 1;
                c.bytes += u64::from(f.wire_len);
            }
        }
        out
    }

    /// Counts for one direction (zero when never seen).
    pub fn count(&self, key: &FlowKey) -> Count {
        self.counts().get(key).copied().unwrap_or_default()
    }

    /// Frames whose ethertype (after any VLAN tags) is `ethertype`.
    pub fn with_ethertype(&self, ethertype: u16) -> usize {
        self.frames.iter().filter(|f| outer_ethertype(&f.data) == Some(ethertype)).count()
    }

    /// The largest wire length seen.
    pub fn max_wire_len(&self) -> u32 {
        self.frames.iter().map(|f| f.wire_len).max().unwrap_or(0)
    }

    /// One line per flow key, for assertion messages.
    pub fn describe(&self) -> String {
        self.counts().iter().map(|(k, c)| format!("  {k}: {} pkts {} bytes\n", c.packets, c.bytes)).collect()
    }
}

fn outer_ethertype(f: &[u8]) -> Option<u16> {
    let mut off = 12;
    loop {
        let t = u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]);
        if !matches!(t, 0x8100 | 0x88a8 | 0x9100) {
            return Some(t);
        }
        off += 4;
    }
}
