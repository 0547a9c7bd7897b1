//! Oracle test: for every capture in the shared data folder, per-conversation
//! packet and byte totals of `flowwatch replay` must equal tshark's
//! conversation tables (`-z conv,tcp`, `conv,udp`, `conv,ip`/`conv,ipv6`, and
//! ICMP as `conv,ip,icmp`/`conv,ipv6,icmpv6`).
//!
//! How the two are made comparable:
//! - flowwatch records are summed per conversation (interim/idle splits,
//!   VLANs and interfaces merged), per endpoint (what each side sent).
//! - tshark runs with IPv4/IPv6 defragmentation off, so a fragmented datagram
//!   counts as the kernel sees it: the first fragment in its UDP/TCP
//!   conversation (it carries the ports), the other fragments only at the IP
//!   level, where flowwatch keeps them as port-less flows (left out of the
//!   TCP/UDP comparison, included in the IP one).
//! - flowwatch does not decapsulate tunnels (nor does the kernel parser), so
//!   tshark's GRE, VXLAN, GENEVE and Teredo dissectors are disabled: a
//!   tunnelled packet counts in its outer conversation only. (One frame in
//!   stopddos/amp.dns.RRSIG.fragmented.pcap is GRE; with the dissector on,
//!   tshark also lists its inner UDP 51.22.26.212:61981 → 212.172.145.36:12548.)
//! - tshark prints byte counts of 10,000 and more rounded down to kB/MB; those
//!   are compared as the range they stand for (frames are always exact).
//!
//! Skipped, with a message, when tshark is missing, or when the data folder
//! is: env FLOWWATCH_SHARED_DATA, else ../shared/data beside the workspace.
//! With the variable set, missing data fails the test instead.

mod e2e;

use e2e::{checked_output, data_dir, flowwatch, s, skip_without_shared_data};
use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Table {
    Tcp,
    Udp,
    /// Every IPv4/IPv6 packet by address pair.
    Ip,
    /// ICMP and ICMPv6 by address pair.
    Icmp,
}

type Endpoint = (IpAddr, Option<u16>);
/// Canonical (low, high) endpoint pair.
type ConvKey = (Endpoint, Endpoint);

/// Totals sent by one endpoint: frames exact, bytes as a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sent {
    frames: u64,
    bytes_lo: u64,
    bytes_hi: u64,
}

impl Sent {
    fn add(&mut self, frames: u64, bytes_lo: u64, bytes_hi: u64) {
        self.frames += frames;
        self.bytes_lo += bytes_lo;
        self.bytes_hi += bytes_hi;
    }

    fn matches(&self, exact: &Sent) -> bool {
        self.frames == exact.frames && (self.bytes_lo..=self.bytes_hi).contains(&exact.bytes_lo)
    }
}

/// Per conversation: what the low and the high endpoint sent.
type Conversations = HashMap<(Table, ConvKey), [Sent; 2]>;

fn add(
    convs: &mut Conversations,
    table: Table,
    a: Endpoint,
    b: Endpoint,
    sent_a: (u64, u64, u64),
    sent_b: (u64, u64, u64),
) {
    let (key, a_is_low) = if a <= b { ((a, b), true) } else { ((b, a), false) };
    let entry = convs.entry((table, key)).or_default();
    let (low, high) = if a_is_low { (sent_a, sent_b) } else { (sent_b, sent_a) };
    entry[0].add(low.0, low.1, low.2);
    entry[1].add(high.0, high.1, high.2);
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            captures(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
            out.push(path);
        }
    }
    Ok(())
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

// ------------------------------------------------------------ flowwatch side

fn ip(value: &Value) -> Result<IpAddr, Box<dyn std::error::Error>> {
    Ok(value.as_str().ok_or("address is not a string")?.parse()?)
}

fn flowwatch_conversations(file: &Path, out_dir: &Path) -> Result<Conversations, Box<dyn std::error::Error>> {
    let flows = out_dir.join("flows.ndjson");
    flowwatch(&[
        "replay",
        s(file),
        "--flows",
        s(&flows),
        "--idle-timeout",
        "1000000s",
        "--active-timeout",
        "1000000s",
    ])?;
    let mut convs = Conversations::new();
    for line in std::fs::read_to_string(&flows)?.lines() {
        let record: Value = serde_json::from_str(line)?;
        if record["type"] != "flow" {
            continue;
        }
        let count = |side: &str| -> (u64, u64, u64) {
            let packets = record[format!("{side}_packets")].as_u64().unwrap_or(0);
            let bytes = record[format!("{side}_bytes")].as_u64().unwrap_or(0);
            (packets, bytes, bytes)
        };
        let (orig, resp) = (count("orig"), count("resp"));
        let (src, dst) = (ip(&record["src_ip"])?, ip(&record["dst_ip"])?);
        let (sport, dport) =
            (record["src_port"].as_u64().unwrap_or(0) as u16, record["dst_port"].as_u64().unwrap_or(0) as u16);
        add(&mut convs, Table::Ip, (src, None), (dst, None), orig, resp);
        let proto = record["proto"].as_u64().unwrap_or(0);
        let fragments_only = sport == 0
            && dport == 0
            && ["orig", "resp"]
                .iter()
                .any(|side| record[*side]["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "fragment")));
        match proto {
            6 | 17 if !fragments_only => {
                let table = if proto == 6 { Table::Tcp } else { Table::Udp };
                add(&mut convs, table, (src, Some(sport)), (dst, Some(dport)), orig, resp);
            }
            1 | 58 => add(&mut convs, Table::Icmp, (src, None), (dst, None), orig, resp),
            _ => {}
        }
    }
    Ok(convs)
}

// ------------------------------------------------------------ tshark side

/// tshark's size column ("9654 bytes", "176 kB", "12 MB") as the byte range it stands for.
fn size_range(number: &str, unit: &str) -> Option<(u64, u64)> {
    let n: u64 = number.parse().ok()?;
    let scale: u64 = match unit {
        "bytes" => return Some((n, n)),
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    };
    Some((n * scale, n * scale + scale - 1))
}

fn endpoint(text: &str, with_port: bool) -> Option<Endpoint> {
    if with_port {
        let (addr, port) = text.rsplit_once(':')?;
        Some((addr.parse().ok()?, Some(port.parse().ok()?)))
    } else {
        Some((text.parse().ok()?, None))
    }
}

/// Encapsulations tshark would decode into inner conversations.
const TUNNELS: [&str; 4] = ["gre", "vxlan", "geneve", "teredo"];

fn tshark_conversations(file: &Path) -> Result<Conversations, Box<dyn std::error::Error>> {
    let mut tshark = Command::new("tshark");
    tshark
        .env("LC_ALL", "C")
        .args(["-n", "-q", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
        // The kernel parser reads the outer headers only; tshark would also
        // put a tunnelled packet in its inner conversations.
        .args(TUNNELS.iter().flat_map(|proto| ["--disable-protocol", proto]))
        .arg("-r")
        .arg(file)
        .args([
            "-z",
            "conv,tcp",
            "-z",
            "conv,udp",
            "-z",
            "conv,ip",
            "-z",
            "conv,ipv6",
            "-z",
            "conv,ip,icmp",
            "-z",
            "conv,ipv6,icmpv6",
        ]);
    let output = checked_output(&mut tshark)?;
    let text = String::from_utf8(output.stdout)?;
    let mut convs = Conversations::new();
    let mut kind = "";
    let mut table = None;
    for line in text.lines() {
        if let Some(name) = line.strip_suffix(" Conversations") {
            kind = name.trim();
            continue;
        }
        if let Some(filter) = line.strip_prefix("Filter:") {
            table = match (kind, filter) {
                ("TCP", "<No Filter>") => Some(Table::Tcp),
                ("UDP", "<No Filter>") => Some(Table::Udp),
                ("IPv4" | "IPv6", "<No Filter>") => Some(Table::Ip),
                ("IPv4", "icmp") | ("IPv6", "icmpv6") => Some(Table::Icmp),
                _ => None,
            };
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        let Some(table) = table else { continue };
        if t.len() < 12 || t[1] != "<->" {
            continue;
        }
        let with_port = matches!(table, Table::Tcp | Table::Udp);
        let parsed = (|| {
            let a = endpoint(t[0], with_port)?;
            let b = endpoint(t[2], with_port)?;
            // Columns: "<-" (B to A) frames bytes, then "->" (A to B).
            let ba = (t[3].parse::<u64>().ok()?, size_range(t[4], t[5])?);
            let ab = (t[6].parse::<u64>().ok()?, size_range(t[7], t[8])?);
            Some((a, b, ab, ba))
        })();
        let Some((a, b, ab, ba)) = parsed else {
            return Err(format!("unparsed tshark line: {line}").into());
        };
        add(&mut convs, table, a, b, (ab.0, ab.1.0, ab.1.1), (ba.0, ba.1.0, ba.1.1));
    }
    Ok(convs)
}

// ------------------------------------------------------------ comparison

#[derive(Default)]
struct Comparison {
    compared: BTreeMap<Table, usize>,
    mismatches: Vec<String>,
}

fn compare(ours: &Conversations, theirs: &Conversations) -> Comparison {
    let mut result = Comparison::default();
    let mut keys: Vec<&(Table, ConvKey)> = ours.keys().chain(theirs.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        *result.compared.entry(key.0).or_default() += 1;
        let show = |s: Option<&[Sent; 2]>| match s {
            None => "absent".to_owned(),
            Some([low, high]) => format!(
                "low sent {} frames/{}..={} bytes, high sent {} frames/{}..={} bytes",
                low.frames, low.bytes_lo, low.bytes_hi, high.frames, high.bytes_lo, high.bytes_hi
            ),
        };
        let same = match (ours.get(key), theirs.get(key)) {
            (Some(o), Some(t)) => t[0].matches(&o[0]) && t[1].matches(&o[1]),
            _ => false,
        };
        if !same {
            result.mismatches.push(format!(
                "{:?} {:?} <-> {:?}: flowwatch {}; tshark {}",
                key.0,
                key.1.0,
                key.1.1,
                show(ours.get(key)),
                show(theirs.get(key))
            ));
        }
    }
    result
}

#[test]
fn replay_matches_tshark_conversations() -> TestResult {
    let dir = data_dir();
    if !dir.is_dir() {
        skip_without_shared_data(&format!("replay oracle: no shared data folder at {}", dir.display()));
        return Ok(());
    }
    if !tshark_available() {
        println!("SKIP replay oracle: tshark is not installed (apt-get install tshark)");
        return Ok(());
    }
    let mut files = Vec::new();
    captures(&dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        skip_without_shared_data(&format!("replay oracle: no .pcap/.pcapng files under {}", dir.display()));
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    let mut failures = Vec::new();
    println!("{:<62} {:>6} {:>6} {:>6} {:>6} {:>10}", "capture", "tcp", "udp", "ip", "icmp", "mismatches");
    for file in &files {
        let ours = flowwatch_conversations(file, scratch.path())?;
        let theirs = tshark_conversations(file)?;
        let result = compare(&ours, &theirs);
        let count = |t: Table| result.compared.get(&t).copied().unwrap_or(0);
        let name = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
        println!(
            "{:<62} {:>6} {:>6} {:>6} {:>6} {:>10}",
            name,
            count(Table::Tcp),
            count(Table::Udp),
            count(Table::Ip),
            count(Table::Icmp),
            result.mismatches.len()
        );
        for mismatch in result.mismatches.iter().take(10) {
            println!("    {mismatch}");
        }
        if !result.mismatches.is_empty() {
            failures.push(format!("{name}: {} mismatching conversations", result.mismatches.len()));
        }
    }
    assert!(failures.is_empty(), "replay disagrees with tshark:\n{}", failures.join("\n"));
    Ok(())
}

#[test]
fn tshark_sizes_parse_as_ranges() {
    assert_eq!(size_range("9654", "bytes"), Some((9654, 9654)));
    assert_eq!(size_range("176", "kB"), Some((176_000, 176_999)));
    assert_eq!(size_range("12", "MB"), Some((12_000_000, 12_999_999)));
    assert_eq!(endpoint("fe80::1:5353", true), Some(("fe80::1".parse().expect("address"), Some(5353))));
}

#[test]
fn comparison_flags_a_one_frame_difference() {
    let a: Endpoint = ("10.0.0.1".parse().expect("address"), Some(1));
    let b: Endpoint = ("10.0.0.2".parse().expect("address"), Some(2));
    let mut ours = Conversations::new();
    add(&mut ours, Table::Udp, a, b, (3, 300, 300), (1, 100, 100));
    let mut theirs = Conversations::new();
    add(&mut theirs, Table::Udp, b, a, (1, 100, 100), (3, 300, 300));
    assert!(compare(&ours, &theirs).mismatches.is_empty());
    let mut off = Conversations::new();
    add(&mut off, Table::Udp, b, a, (1, 100, 100), (4, 300, 300));
    assert_eq!(compare(&ours, &off).mismatches.len(), 1);
    let mut rounded = Conversations::new();
    add(&mut rounded, Table::Udp, a, b, (3, 0, 999), (1, 100, 100));
    assert!(compare(&ours, &rounded).mismatches.is_empty());
}
