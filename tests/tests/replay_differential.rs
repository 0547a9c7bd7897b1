//! Differential test: every shared capture replayed offline
//! (`flowwatch replay`) and pushed with `tcpreplay --topspeed` through a
//! veth into the live agent (`flowwatch run`) gives the same conversations
//! with exactly the same packets and bytes each way, and the same hook
//! counters (packets, bytes, non-IP, malformed, fragments).
//!
//! How the two are made comparable:
//! - Both sides use timeouts far longer than any capture, so each
//!   conversation is summed over its records and record boundaries (capture
//!   time offline, wall time live) do not matter.
//! - Frames the capture cut at its snaplen are padded back to their
//!   original length, which is the length replay counts, in a copy that
//!   tcpreplay sends (`tcpreplay-edit --fixlen` pads to the IP header's
//!   length instead, and gives up on malformed packets).
//! - Captures with frames over 1514 bytes (GSO-sized segments, IP fragments
//!   of jumbo datagrams) get a 9000-byte MTU; the agent then attaches XDP in
//!   SKB mode, where a full receive backlog would drop frames before the
//!   hook, so those are sent at a bounded rate instead of top speed.
//! - A barrier datagram after the capture proves every frame went through
//!   the hook before the agent stops; its flow is left out of the comparison.
//!
//! Skips, with a message, without root or without the shared captures.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail, ensure};
use integration_tests::{
    agent::{Agent, flowwatch_bin, run_to_completion},
    key::FlowKey,
    lab::Lab,
    netns::NetNs,
    padding::pad_to_wire_length,
    records::{AgentOutput, HookStats},
    require_root,
    shared_data::{SHARED_DATA_ENV, shared_captures},
};

/// Timeouts no capture comes near: one record per conversation.
const NEVER: &str = "1000000s";
/// Largest frame a 1500-byte MTU carries (no VLAN tags in these captures).
const STANDARD_FRAME: u32 = 1514;
const JUMBO_MTU: u32 = 9000;
/// Send rate for the jumbo captures (SKB-mode XDP; see the module docs).
const JUMBO_PPS: &str = "20000";

type Endpoint = (IpAddr, u16);

/// A conversation independent of who spoke first: protocol, VLANs and the
/// two endpoints in order.
type Conversation = (u8, u16, u16, Endpoint, Endpoint);

/// Packets and bytes sent by the lower and the higher endpoint.
type Sent = [(u64, u64); 2];

fn conversations(out: &AgentOutput, skip: Option<&FlowKey>) -> BTreeMap<Conversation, Sent> {
    let mut totals: BTreeMap<Conversation, Sent> = BTreeMap::new();
    for r in out.flows.iter().filter(|r| Some(&r.key()) != skip) {
        let (src, dst) = ((r.src_ip, r.src_port), (r.dst_ip, r.dst_port));
        let (low, high, src_is_low) = if src <= dst { (src, dst, true) } else { (dst, src, false) };
        let entry = totals.entry((r.proto, r.vlan, r.inner_vlan, low, high)).or_default();
        let (from_src, from_dst) = if src_is_low { (0, 1) } else { (1, 0) };
        entry[from_src].0 += r.orig_packets;
        entry[from_src].1 += r.orig_bytes;
        entry[from_dst].0 += r.resp_packets;
        entry[from_dst].1 += r.resp_bytes;
    }
    totals
}

/// The hook counters the two sides must agree on (not `flows_inserted`:
/// the kernel map is per CPU, so one flow may be inserted once per CPU).
fn comparable(h: &HookStats) -> [u64; 7] {
    [h.packets, h.bytes, h.non_ip, h.malformed_truncated, h.malformed_header, h.malformed_too_deep, h.fragments]
}

/// Frame sizes that decide how a capture is sent.
struct Sizes {
    /// Largest original (wire) length.
    largest: u32,
    /// Frames with fewer bytes captured than they had on the wire.
    cut: usize,
}

fn sizes(capture: &Path) -> Result<Sizes> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(capture)
        .args(["-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"])
        .output()
        .context("running tshark (install tshark)")?;
    ensure!(out.status.success(), "tshark -r {} failed: {}", capture.display(), String::from_utf8_lossy(&out.stderr));
    let frames: Vec<(u32, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (wire, captured) = l.split_once('\t')?;
            Some((wire.trim().parse().ok()?, captured.trim().parse().ok()?))
        })
        .collect();
    Ok(Sizes {
        largest: frames.iter().map(|f| f.0).max().unwrap_or(0),
        cut: frames.iter().filter(|(wire, captured)| captured < wire).count(),
    })
}

/// What tcpreplay sends for `capture`: the file itself, or a pcap copy with
/// the cut frames padded back to their wire length.
fn sendable(capture: &Path, sizes: &Sizes, dir: &Path) -> Result<PathBuf> {
    if sizes.cut == 0 {
        return Ok(capture.to_owned());
    }
    let as_pcap = dir.join("as-pcap.pcap");
    let out = Command::new("editcap").args(["-F", "pcap"]).arg(capture).arg(&as_pcap).output()?;
    ensure!(
        out.status.success(),
        "editcap -F pcap {} failed: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let padded = dir.join("padded.pcap");
    pad_to_wire_length(&as_pcap, &padded)?;
    Ok(padded)
}

fn offline(ns: &NetNs, capture: &Path, dir: &Path) -> Result<AgentOutput> {
    let flows = dir.join("offline.ndjson");
    let (capture_arg, flows_arg) = (capture.to_string_lossy(), flows.to_string_lossy());
    let args = ["replay", &capture_arg, "--flows", &flows_arg, "--idle-timeout", NEVER, "--active-timeout", NEVER];
    let done = run_to_completion(ns, &args, Duration::from_secs(60))?;
    ensure!(done.status.success(), "flowwatch replay {} failed: {}", capture.display(), done.stderr);
    AgentOutput::parse(&std::fs::read_to_string(&flows)?, done.stderr)
}

/// Number in tcpreplay's summary line `NAME: N`.
fn tcpreplay_count(stdout: &str, name: &str) -> Option<u64> {
    stdout.lines().find_map(|l| l.trim().strip_prefix(name)?.trim().parse().ok())
}

/// Sends `capture` from `b` into the agent's veth; returns the frames sent.
fn push(lab: &Lab, capture: &Path, jumbo: bool) -> Result<u64> {
    let capture = capture.to_string_lossy();
    let mut args = vec!["-i", lab.veth.b_if.as_str()];
    if jumbo {
        args.extend(["--pps", JUMBO_PPS]);
    } else {
        args.push("--topspeed");
    }
    args.push(&capture);
    let out = lab.b.exec("tcpreplay", &args).context("tcpreplay (install tcpreplay)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (sent, failed) = (tcpreplay_count(&stdout, "Successful packets:"), tcpreplay_count(&stdout, "Failed packets:"));
    match (sent, failed) {
        (Some(sent), Some(0)) => Ok(sent),
        _ => bail!("tcpreplay did not send every frame of {capture}:\n{stdout}"),
    }
}

fn live(lab: &Lab, sendable: &Path, jumbo: bool) -> Result<(AgentOutput, u64, FlowKey)> {
    let agent = Agent::start(&lab.a, &lab.veth.a_if, &["--idle-timeout", NEVER, "--active-timeout", NEVER])?;
    let sent = push(lab, sendable, jumbo)?;
    let barrier = lab.barrier()?;
    Ok((agent.stop()?, sent, barrier))
}

/// Differences between the two runs of one capture, as readable lines.
fn compare(capture: &Path, lab: &Lab, dir: &Path) -> Result<Vec<String>> {
    let sizes = sizes(capture)?;
    let jumbo = sizes.largest > STANDARD_FRAME;
    lab.veth.set_mtu(if jumbo { JUMBO_MTU } else { 1500 })?;
    let offline = offline(&lab.a, capture, dir)?;
    let (live, sent, barrier) = live(lab, &sendable(capture, &sizes, dir)?, jumbo)?;
    let name = capture.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut problems = Vec::new();

    let (want, got) = (conversations(&offline, None), conversations(&live, Some(&barrier)));
    for (conversation, sent_offline) in &want {
        match got.get(conversation) {
            Some(sent_live) if sent_live == sent_offline => {}
            other => problems.push(format!("{name}: {conversation:?}: offline {sent_offline:?}, live {other:?}")),
        }
    }
    for conversation in got.keys().filter(|c| !want.contains_key(c)) {
        problems.push(format!("{name}: {conversation:?} only live: {:?}", got[conversation]));
    }

    let (offline_stats, live_stats) = (offline.final_stats()?, live.final_stats()?);
    let barrier_totals = live.flow(&barrier)?;
    let mut expected = comparable(&offline_stats.ingress);
    expected[0] += barrier_totals.orig_packets;
    expected[1] += barrier_totals.orig_bytes;
    if comparable(&live_stats.ingress) != expected {
        problems.push(format!(
            "{name}: hook counters [packets, bytes, non-IP, truncated, bad header, too deep, fragments]: \
             offline {:?} (+ the barrier), live {:?}",
            comparable(&offline_stats.ingress),
            comparable(&live_stats.ingress)
        ));
    }
    if offline_stats.ingress.packets != sent {
        problems.push(format!("{name}: replay read {} frames, tcpreplay sent {sent}", offline_stats.ingress.packets));
    }
    if live_stats.egress.packets != 0 || live_stats.packets_unaccounted != 0 || live_stats.flows_evicted != 0 {
        problems.push(format!("{name}: live agent sent or lost packets: {live_stats:?}"));
    }
    eprintln!(
        "{name}: {} conversations, {sent} frames{}{}: {}",
        want.len(),
        if jumbo { " (MTU 9000, SKB-mode XDP)" } else { "" },
        if sizes.cut > 0 { format!(" ({} cut frames padded)", sizes.cut) } else { String::new() },
        if problems.is_empty() { "identical" } else { "DIFFERENT" }
    );
    Ok(problems)
}

#[test]
fn offline_replay_and_live_capture_of_the_same_captures_agree() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let captures = match shared_captures() {
        Ok(found) => found,
        // Only a run outside `cargo xtask test`, which sets the variable
        // when the data is there, may skip: with it set, missing data fails.
        Err(err) if std::env::var_os(SHARED_DATA_ENV).is_none() => {
            eprintln!("skipped: {err:#} (set {SHARED_DATA_ENV} to ../shared/data)");
            return Ok(());
        }
        Err(err) => return Err(err.context(format!("{SHARED_DATA_ENV} is set"))),
    };
    flowwatch_bin()?;
    let lab = Lab::new()?;
    let dir = tempfile::tempdir()?;
    let mut problems = Vec::new();
    for capture in &captures {
        problems.extend(compare(capture, &lab, dir.path())?);
    }
    ensure!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    Ok(())
}
