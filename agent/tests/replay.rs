//! `flowwatch replay` end to end on tiny pcap/pcapng files built here byte
//! by byte (pcap-parser only reads), run through the real binary.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

mod common;

use common::*;

// ---------------------------------------------------------------- running

struct Run {
    output: Output,
    records: Vec<Value>,
}

impl Run {
    fn flows(&self) -> Vec<&Value> {
        self.records.iter().filter(|r| r["type"] == "flow").collect()
    }

    fn stats(&self) -> &Value {
        let last = self.records.last().expect("at least the stats line");
        assert_eq!(last["type"], "stats", "the last line is the final stats line");
        assert_eq!(last["final"], true);
        last
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

fn write_capture(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

fn replay(dir: &Path, inputs: &[&Path], extra: &[&str]) -> Result<Run, Box<dyn std::error::Error>> {
    replay_with_stdin(dir, inputs, extra, None)
}

fn replay_with_stdin(
    dir: &Path,
    inputs: &[&Path],
    extra: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Run, Box<dyn std::error::Error>> {
    let flows = dir.join("flows.ndjson");
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowwatch"));
    command.arg("replay").args(inputs).arg("--flows").arg(&flows).args(extra);
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn()?;
    if let Some(bytes) = stdin {
        child.stdin.take().expect("piped").write_all(bytes)?;
    }
    let output = child.wait_with_output()?;
    let text = std::fs::read_to_string(&flows).unwrap_or_default();
    let records = text.lines().map(serde_json::from_str).collect::<Result<Vec<Value>, _>>()?;
    Ok(Run { output, records })
}

fn udp_exchange(link: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<Packet> {
    let t0 = BASE_S * NS;
    vec![
        packet(t0, link(ipv4_udp(A, 5000, B, 53, 10))),
        packet(t0 + 1_000_000, link(ipv4_udp(B, 53, A, 5000, 100))),
        packet(t0 + 2_000_000, link(ipv4_udp(A, 5000, B, 53, 20))),
        packet(t0 + 3_000_000, link(ipv4_udp(B, 53, A, 5000, 200))),
        packet(t0 + 4_000_000, link(ipv4_udp(A, 5000, B, 53, 30))),
    ]
}

/// The records of [`udp_exchange`]; `overhead` is the link header length.
fn assert_one_udp_biflow(run: &Run, overhead: u64) {
    let flows = run.flows();
    assert_eq!(flows.len(), 1, "{:?}", run.records);
    let flow = flows[0];
    assert_eq!(flow["reason"], "shutdown");
    assert_eq!((flow["src_ip"].as_str(), flow["src_port"].as_u64()), (Some("10.0.0.1"), Some(5000)));
    assert_eq!((flow["dst_ip"].as_str(), flow["dst_port"].as_u64()), (Some("10.0.0.2"), Some(53)));
    assert_eq!(flow["proto"], 17);
    assert_eq!(flow["orig_direction"], "ingress");
    assert_eq!(flow["orig_packets"], 3);
    assert_eq!(flow["orig_bytes"], 3 * (28 + overhead) + 60);
    assert_eq!(flow["resp_packets"], 2);
    assert_eq!(flow["resp_bytes"], 2 * (28 + overhead) + 300);
    assert_eq!(flow["start"], "2023-11-14T22:13:20Z");
    assert_eq!(flow["end"], "2023-11-14T22:13:20.004Z");
    let stats = run.stats();
    assert_eq!(stats["ingress"]["packets"], 5);
    assert_eq!(stats["ingress"]["flows_inserted"], 2);
    assert_eq!(stats["flow_packets"], 5);
    assert_eq!(stats["packets_unaccounted"], 0);
    assert_eq!(stats["egress"]["packets"], 0);
}

// ---------------------------------------------------------------- tests

#[test]
fn ethernet_udp_both_directions_make_one_biflow() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file =
        write_capture(dir.path(), "udp.pcap", &pcap(1, false, 65535, &udp_exchange(|ip| ethernet(0x0800, &ip))))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_one_udp_biflow(&run, 14);
    assert_eq!(run.flows()[0]["interface"], "udp.pcap");
    assert_eq!(run.flows()[0]["ifindex"], 1);
    Ok(())
}

#[test]
fn snaplen_cut_packets_count_their_original_length() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS;
    let big = ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 1400));
    let packets = vec![packet(t0, big.clone()), packet(t0 + 1_000, big.clone())];
    // 64 bytes keep the headers: both packets still count in full.
    let file = write_capture(dir.path(), "cut.pcap", &pcap(1, false, 64, &packets))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    let flow = run.flows()[0];
    assert_eq!((flow["orig_packets"].as_u64(), flow["orig_bytes"].as_u64()), (Some(2), Some(2 * 1442)));
    assert_eq!(flow["orig"]["len_max"], 1442);
    assert_eq!(run.stats()["ingress"]["bytes"], 2 * 1442);

    // Cut inside the IP header: a truncated packet, still counted in bytes.
    let file = write_capture(dir.path(), "cut-header.pcap", &pcap(1, false, 20, &packets))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert!(run.flows().is_empty());
    let stats = run.stats();
    assert_eq!(stats["ingress"]["malformed_truncated"], 2);
    assert_eq!(stats["ingress"]["bytes"], 2 * 1442);
    assert_eq!(stats["packets_unaccounted"], 0);
    Ok(())
}

#[test]
fn microsecond_and_nanosecond_pcaps_keep_their_precision() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS + 123_456_789;
    let packets = vec![
        packet(t0, ethernet(0x0800, &ipv4_udp(A, 1, B, 2, 0))),
        packet(t0 + 1_001, ethernet(0x0800, &ipv4_udp(A, 1, B, 2, 0))),
    ];
    let micro = write_capture(dir.path(), "us.pcap", &pcap(1, false, 65535, &packets))?;
    let nano = write_capture(dir.path(), "ns.pcap", &pcap(1, true, 65535, &packets))?;
    let run = replay(dir.path(), &[&micro], &[])?;
    let flow = run.flows()[0];
    assert_eq!(
        (flow["start"].as_str(), flow["end"].as_str()),
        (Some("2023-11-14T22:13:20.123456Z"), Some("2023-11-14T22:13:20.123457Z"))
    );
    let run = replay(dir.path(), &[&nano], &[])?;
    let flow = run.flows()[0];
    assert_eq!(
        (flow["start"].as_str(), flow["end"].as_str()),
        (Some("2023-11-14T22:13:20.123456789Z"), Some("2023-11-14T22:13:20.12345779Z"))
    );
    assert_eq!(flow["orig"]["iat_min_ms"], 0.001001);
    Ok(())
}

#[test]
fn pcapng_interfaces_keep_their_own_link_type_and_resolution() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS + 500_000_000;
    let interfaces = [
        Interface { link_type: 1, tsresol: None, name: "eth0" },
        Interface { link_type: 101, tsresol: Some(9), name: "tun0" },
    ];
    let mut raw = packet(t0 + 7, ipv6_udp(1, 4000, 2, 443, 50));
    raw.interface = 1;
    let mut raw_reply = packet(t0 + 2_000_000_011, ipv6_udp(2, 443, 1, 4000, 70));
    raw_reply.interface = 1;
    let packets = vec![
        packet(t0 + 3_000, ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 10))),
        raw,
        packet(t0 + 1_000_000_000, ethernet(0x0800, &ipv4_udp(B, 53, A, 5000, 10))),
        raw_reply,
    ];
    let file = write_capture(dir.path(), "two.pcapng", &pcapng(&interfaces, &packets))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    let flows = run.flows();
    assert_eq!(flows.len(), 2);
    let eth = flows.iter().find(|f| f["ifindex"] == 1).expect("flow on interface 0");
    assert_eq!(eth["interface"], "eth0");
    assert_eq!((eth["orig_packets"].as_u64(), eth["orig_bytes"].as_u64()), (Some(1), Some(52)));
    assert_eq!((eth["resp_packets"].as_u64(), eth["resp_bytes"].as_u64()), (Some(1), Some(52)));
    assert_eq!(
        (eth["start"].as_str(), eth["end"].as_str()),
        (Some("2023-11-14T22:13:20.500003Z"), Some("2023-11-14T22:13:21.5Z"))
    );
    let raw = flows.iter().find(|f| f["ifindex"] == 2).expect("flow on interface 1");
    assert_eq!(raw["interface"], "tun0");
    assert_eq!((raw["src_ip"].as_str(), raw["dst_port"].as_u64()), (Some("2001:db8::1"), Some(443)));
    assert_eq!((raw["orig_packets"].as_u64(), raw["orig_bytes"].as_u64()), (Some(1), Some(98)));
    assert_eq!((raw["resp_packets"].as_u64(), raw["resp_bytes"].as_u64()), (Some(1), Some(118)));
    assert_eq!(
        (raw["start"].as_str(), raw["end"].as_str()),
        (Some("2023-11-14T22:13:20.500000007Z"), Some("2023-11-14T22:13:22.500000011Z"))
    );
    Ok(())
}

#[test]
fn linux_cooked_captures_sll_and_sll2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = write_capture(dir.path(), "sll.pcap", &pcap(113, false, 65535, &udp_exchange(|ip| sll(0x0800, &ip))))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_one_udp_biflow(&run, 16);
    let file = write_capture(dir.path(), "sll2.pcap", &pcap(276, false, 65535, &udp_exchange(|ip| sll2(0x0800, &ip))))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_one_udp_biflow(&run, 20);
    // Raw IP, and an ARP frame in a cooked capture counts as non-IP.
    let mut packets = udp_exchange(|ip| ip);
    packets.push(packet(BASE_S * NS + 5_000_000, vec![0x60]));
    let file = write_capture(dir.path(), "raw.pcap", &pcap(101, false, 65535, &packets))?;
    let run = replay(dir.path(), &[&file], &[])?;
    let flow = run.flows()[0];
    assert_eq!((flow["orig_bytes"].as_u64(), flow["resp_bytes"].as_u64()), (Some(3 * 28 + 60), Some(2 * 28 + 300)));
    assert_eq!(run.stats()["ingress"]["malformed_truncated"], 1);
    let arp = vec![packet(BASE_S * NS, sll(0x0806, &[0; 28]))];
    let file = write_capture(dir.path(), "arp.pcap", &pcap(113, false, 65535, &arp))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert_eq!(run.stats()["ingress"]["non_ip"], 1);
    assert_eq!(run.stats()["packets_unaccounted"], 0);
    Ok(())
}

#[test]
fn idle_timeout_follows_capture_time() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS;
    let burst = |start: u64| {
        (0..3).map(move |i| packet(start + i * 100_000_000, ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 10))))
    };
    let packets: Vec<Packet> = burst(t0).chain(burst(t0 + 60 * NS)).collect();
    let file = write_capture(dir.path(), "bursts.pcap", &pcap(1, false, 65535, &packets))?;
    let run = replay(dir.path(), &[&file], &["--idle-timeout", "30s"])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    let flows = run.flows();
    assert_eq!(flows.len(), 2, "{:?}", run.records);
    assert_eq!((flows[0]["reason"].as_str(), flows[0]["orig_packets"].as_u64()), (Some("idle"), Some(3)));
    assert_eq!(flows[0]["start"], "2023-11-14T22:13:20Z");
    assert_eq!(flows[0]["end"], "2023-11-14T22:13:20.2Z");
    assert_eq!((flows[1]["reason"].as_str(), flows[1]["orig_packets"].as_u64()), (Some("shutdown"), Some(3)));
    assert_eq!(flows[1]["start"], "2023-11-14T22:14:20Z");
    assert_ne!(flows[0]["flow_id"], flows[1]["flow_id"]);
    assert_eq!(run.stats()["flows_emitted"], 2);
    assert_eq!(run.stats()["time"], "2023-11-14T22:14:20.2Z");

    // One long idle timeout: a single record.
    let run = replay(dir.path(), &[&file], &["--idle-timeout", "90s"])?;
    assert_eq!(run.flows().len(), 1);
    assert_eq!(run.flows()[0]["orig_packets"], 6);

    // Active timeout on capture time: an interim record per 20 s of a long flow.
    let steady: Vec<Packet> =
        (0..7).map(|i| packet(t0 + i * 10 * NS, ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 10)))).collect();
    let file = write_capture(dir.path(), "steady.pcap", &pcap(1, false, 65535, &steady))?;
    let run = replay(dir.path(), &[&file], &["--active-timeout", "20s"])?;
    let reasons: Vec<&str> = run.flows().iter().filter_map(|f| f["reason"].as_str()).collect();
    let packets: u64 = run.flows().iter().filter_map(|f| f["orig_packets"].as_u64()).sum();
    assert_eq!(packets, 7);
    assert!(reasons.len() >= 3 && reasons[..reasons.len() - 1].iter().all(|r| *r == "active"), "{reasons:?}");
    assert_eq!(reasons.last(), Some(&"shutdown"));
    Ok(())
}

#[test]
fn packet_count_and_capture_duration_limits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS;
    let packets: Vec<Packet> =
        (0..10).map(|i| packet(t0 + i * NS, ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 10)))).collect();
    let file = write_capture(dir.path(), "ten.pcap", &pcap(1, false, 65535, &packets))?;
    let run = replay(dir.path(), &[&file], &["-c", "4"])?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(run.stats()["ingress"]["packets"], 4);
    assert_eq!(run.flows()[0]["orig_packets"], 4);
    let run = replay(dir.path(), &[&file], &["-t", "2.5"])?;
    assert_eq!(run.stats()["ingress"]["packets"], 3);
    assert_eq!(run.stats()["time"], "2023-11-14T22:13:22.5Z");
    Ok(())
}

#[test]
fn blocks_larger_than_the_read_buffer_are_read_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let t0 = BASE_S * NS;
    // 200 kB frames: three times the initial 64 KiB buffer.
    let jumbo = ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 200_000));
    let packets = vec![packet(t0, jumbo.clone()), packet(t0 + 1_000, jumbo.clone()), packet(t0 + 2_000, jumbo)];
    let legacy = write_capture(dir.path(), "jumbo.pcap", &pcap(1, false, 262_144, &packets))?;
    let ng = write_capture(
        dir.path(),
        "jumbo.pcapng",
        &pcapng(&[Interface { link_type: 1, tsresol: None, name: "eth0" }], &packets),
    )?;
    for file in [legacy, ng] {
        let run = replay(dir.path(), &[&file], &[])?;
        assert!(run.output.status.success(), "{}", run.stderr());
        assert_eq!(run.flows()[0]["orig_bytes"], 3 * 200_042);
    }
    Ok(())
}

#[test]
fn several_files_and_stdin_replay_as_one_capture() -> TestResult {
    let dir = tempfile::tempdir()?;
    let all = udp_exchange(|ip| ethernet(0x0800, &ip));
    let (first, second) = all.split_at(2);
    let first = write_capture(dir.path(), "part1.pcap", &pcap(1, false, 65535, first))?;
    let second_bytes = pcapng(&[Interface { link_type: 1, tsresol: Some(9), name: "eth0" }], second);
    let run = replay_with_stdin(dir.path(), &[&first, Path::new("-")], &[], Some(&second_bytes))?;
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_one_udp_biflow(&run, 14);
    Ok(())
}

#[test]
fn truncated_file_flushes_earlier_flows_then_fails_with_the_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut bytes = pcap(1, false, 65535, &udp_exchange(|ip| ethernet(0x0800, &ip)));
    // A sixth record whose data stops short.
    let good_len = bytes.len();
    bytes.extend(
        pcap(1, false, 65535, &[packet(BASE_S * NS + 9_000_000, ethernet(0x0800, &ipv4_udp(A, 5000, B, 53, 100)))])
            [24..]
            .iter(),
    );
    bytes.truncate(good_len + 16 + 40);
    let file = write_capture(dir.path(), "cut.pcap", &bytes)?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(!run.output.status.success(), "a truncated file must fail");
    let stderr = run.stderr();
    assert!(stderr.contains("cut.pcap"), "{stderr}");
    assert!(stderr.contains(&format!("truncated at byte offset {good_len}")), "{stderr}");
    // Everything before the cut was flushed, with the final stats line.
    assert_one_udp_biflow(&run, 14);

    // The same for pcapng: the last block cut in half.
    let mut bytes =
        pcapng(&[Interface { link_type: 1, tsresol: None, name: "eth0" }], &udp_exchange(|ip| ethernet(0x0800, &ip)));
    let good_len = bytes.len();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&200u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 20]);
    let file = write_capture(dir.path(), "cut.pcapng", &bytes)?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(!run.output.status.success());
    assert!(run.stderr().contains(&format!("cut.pcapng: truncated at byte offset {good_len}")), "{}", run.stderr());
    assert_eq!(run.flows().len(), 1);
    assert_eq!(run.stats()["ingress"]["packets"], 5);
    Ok(())
}

#[test]
fn corrupt_block_fails_with_the_offset_after_flushing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut bytes =
        pcapng(&[Interface { link_type: 1, tsresol: None, name: "eth0" }], &udp_exchange(|ip| ethernet(0x0800, &ip)));
    let good_len = bytes.len();
    // An enhanced packet block whose trailing length disagrees with its header.
    let mut bad = pcapng_block(6, &[0; 20]);
    let end = bad.len();
    bad[end - 4..].copy_from_slice(&99u32.to_le_bytes());
    bytes.extend(bad);
    bytes.extend(pcapng_block(6, &[0; 20]));
    let file = write_capture(dir.path(), "bad.pcapng", &bytes)?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(!run.output.status.success());
    assert!(
        run.stderr().contains(&format!("bad.pcapng: corrupt capture at byte offset {good_len}")),
        "{}",
        run.stderr()
    );
    assert_eq!(run.flows().len(), 1);
    assert_eq!(run.stats()["flow_packets"], 5);

    // A packet on an interface that was never described.
    let mut bytes = pcapng(&[Interface { link_type: 1, tsresol: None, name: "eth0" }], &[]);
    let offset = bytes.len();
    let mut epb = 3u32.to_le_bytes().to_vec();
    epb.extend_from_slice(&[0; 16]);
    bytes.extend(pcapng_block(6, &epb));
    let file = write_capture(dir.path(), "noif.pcapng", &bytes)?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(!run.output.status.success());
    assert!(
        run.stderr().contains(&format!("byte offset {offset}: packet on interface 3, but the section describes 1")),
        "{}",
        run.stderr()
    );
    Ok(())
}

#[test]
fn unsupported_link_type_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = write_capture(dir.path(), "wifi.pcap", &pcap(105, false, 65535, &[packet(BASE_S * NS, vec![0; 40])]))?;
    let run = replay(dir.path(), &[&file], &[])?;
    assert!(!run.output.status.success());
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "wifi.pcap: link type 105 (IEEE 802.11) is not supported; supported: 1 (Ethernet), 113 (Linux cooked SLL)"
        ),
        "{stderr}"
    );
    assert_eq!(run.stats()["ingress"]["packets"], 0);
    Ok(())
}

#[test]
fn missing_empty_and_foreign_inputs_fail_clearly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("nope.pcap");
    let run = replay(dir.path(), &[&missing], &[])?;
    assert!(!run.output.status.success());
    assert!(run.stderr().contains("cannot open") && run.stderr().contains("nope.pcap"), "{}", run.stderr());
    let empty = write_capture(dir.path(), "empty.pcap", &[])?;
    let run = replay(dir.path(), &[&empty], &[])?;
    assert!(run.stderr().contains("empty.pcap: empty input"), "{}", run.stderr());
    let text = write_capture(dir.path(), "notes.txt", b"hello, this is not a capture file at all\n")?;
    let run = replay(dir.path(), &[&text], &[])?;
    assert!(!run.output.status.success());
    assert!(run.stderr().contains("notes.txt: not a pcap or pcapng file"), "{}", run.stderr());
    let short = write_capture(dir.path(), "short.pcap", &pcap(1, false, 65535, &[])[..10])?;
    let run = replay(dir.path(), &[&short], &[])?;
    assert!(run.stderr().contains("short.pcap: truncated at byte offset 0"), "{}", run.stderr());
    Ok(())
}
