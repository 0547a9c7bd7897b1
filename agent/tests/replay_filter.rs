//! `replay -f EXPR -w FILE` against tcpdump: the packets kept and written
//! must be exactly those `tcpdump -r FILE -w - EXPR` keeps, with the same
//! bytes, lengths and timestamps, and the flows built from them the same as
//! replaying tcpdump's output.
//!
//! The shared-capture test is skipped, with a message, when the data folder
//! (env FLOWWATCH_SHARED_DATA, else ../shared/data) or tcpdump is missing.

mod common;

mod e2e;

use std::{
    path::Path,
    process::{Command, Output},
};

use common::{A, B, NS, ethernet, ipv4_udp, ipv6_udp, packet, pcap, sll};
use e2e::{checked_output, flowwatch, flowwatch_output, s, shared};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn lines(path: &Path) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    std::fs::read_to_string(path)?.lines().map(|line| Ok(serde_json::from_str(line)?)).collect()
}

fn final_stats(records: &[Value]) -> Result<&Value, Box<dyn std::error::Error>> {
    records.last().filter(|r| r["type"] == "stats" && r["final"] == true).ok_or_else(|| "no final stats line".into())
}

#[test]
fn sll_capture_filtered_and_written_byte_for_byte() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.pcap");
    let dns = packet(NS, sll(0x0800, &ipv4_udp(A, 5353, B, 53, 10)));
    let web = packet(NS + 1, sll(0x0800, &ipv4_udp(A, 5353, B, 80, 10)));
    let dns6 = packet(2 * NS + 123_456_789, sll(0x86dd, &ipv6_udp(1, 4000, 2, 53, 100)));
    let other6 = packet(3 * NS, sll(0x86dd, &ipv6_udp(1, 4000, 2, 443, 0)));
    std::fs::write(&input, pcap(113, true, 65_535, &[dns.clone(), web, dns6.clone(), other6]))?;
    let written = dir.path().join("out.pcap");
    let flows = dir.path().join("flows.ndjson");
    let args = ["replay", s(&input), "-f", "udp port 53", "-w", s(&written), "--snaplen", "80"];
    flowwatch(&[&args[..], &["--no-analysis", "--flows", s(&flows)]].concat())?;

    // Same format, the two DNS packets only, the IPv6 one cut to 80 bytes with its length kept.
    assert_eq!(std::fs::read(&written)?, pcap(113, true, 80, &[dns, dns6]));
    let records = lines(&flows)?;
    let stats = final_stats(&records)?;
    assert_eq!(stats["ingress"]["packets"], 2);
    assert_eq!(stats["flows_emitted"], 2);
    assert_eq!(
        stats["filter"],
        serde_json::json!({"expression": "udp port 53", "packets_matched": 2, "packets_rejected": 2})
    );
    assert_eq!(stats["write"]["packets"], 2);
    assert_eq!(stats["write"]["truncated"], 1);
    Ok(())
}

/// The packet `-t` stops at was admitted by the filter but never counted:
/// it must not be in the `-w` file or in `packets_matched` either.
#[test]
fn a_timeout_writes_and_matches_only_the_packets_it_counted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.pcap");
    let dns = |second: u64| packet(second * NS, sll(0x0800, &ipv4_udp(A, 5353, B, 53, 10)));
    let web = packet(NS + 1, sll(0x0800, &ipv4_udp(A, 5353, B, 80, 10)));
    // -t 2s ends at 3 s: the DNS packets at 3 s and 4 s are past it.
    std::fs::write(&input, pcap(113, true, 65_535, &[dns(1), web, dns(2), dns(3), dns(4)]))?;
    let written = dir.path().join("out.pcap");
    let flows = dir.path().join("flows.ndjson");
    let args = ["replay", s(&input), "-f", "udp port 53", "-w", s(&written), "-t", "2s"];
    flowwatch(&[&args[..], &["--no-analysis", "--flows", s(&flows)]].concat())?;

    assert_eq!(std::fs::read(&written)?, pcap(113, true, 262_144, &[dns(1), dns(2)]));
    let records = lines(&flows)?;
    let stats = final_stats(&records)?;
    assert_eq!(stats["ingress"]["packets"], 2);
    assert_eq!(stats["filter"]["packets_matched"], 2);
    assert_eq!(stats["filter"]["packets_rejected"], 1);
    assert_eq!(stats["write"]["packets"], 2);
    Ok(())
}

#[test]
fn invalid_filter_exits_2_with_libpcap_text_before_anything_runs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = dir.path().join("never.pcap");
    let output = flowwatch_output(&["replay", "missing.pcap", "-f", "tcp prot 80", "-w", s(&written)])?;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("can't parse filter expression: syntax error"), "{stderr}");
    assert!(!written.exists(), "the -w file was created before the filter was checked");
    Ok(())
}

#[test]
fn live_filters_refuse_primitives_a_flow_key_lacks_with_exit_2() -> TestResult {
    for args in [
        &["run", "-i", "lo", "-f", "tcp and len > 100"][..],
        &["train", "-i", "lo", "--model", "never.fwm", "-f", "ether host 02:00:00:00:00:01"][..],
    ] {
        let output = flowwatch_output(args)?;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let primitive = if args[0] == "run" { "`len`" } else { "`ether`" };
        assert!(stderr.contains(&format!("uses {primitive}, which live capture cannot evaluate")), "{stderr}");
    }
    Ok(())
}

#[test]
fn one_write_file_refuses_a_second_link_type() -> TestResult {
    let dir = tempfile::tempdir()?;
    let eth = dir.path().join("eth.pcap");
    let cooked = dir.path().join("sll.pcap");
    std::fs::write(&eth, pcap(1, false, 65_535, &[packet(NS, ethernet(0x0800, &ipv4_udp(A, 1, B, 2, 0)))]))?;
    std::fs::write(&cooked, pcap(113, false, 65_535, &[packet(2 * NS, sll(0x0800, &ipv4_udp(A, 1, B, 2, 0)))]))?;
    let written = dir.path().join("out.pcap");
    let flows = dir.path().join("flows.ndjson");
    let output =
        flowwatch_output(&["replay", s(&eth), s(&cooked), "-w", s(&written), "--no-analysis", "--flows", s(&flows)])?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("a pcap file holds one link type, but the input switched from Ethernet to LinuxSll"),
        "{stderr}"
    );
    Ok(())
}

// ------------------------------------------------------------ against tcpdump

fn tcpdump(args: &[&str]) -> Result<Output, Box<dyn std::error::Error>> {
    checked_output(Command::new("tcpdump").args(args))
}

/// Every packet as tcpdump prints it: nanosecond time, headers, all bytes in hex.
fn dump_text(file: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let output = tcpdump(&["-r", s(file), "--time-stamp-precision", "nano", "-tt", "-nn", "-xx"])?;
    Ok(String::from_utf8(output.stdout)?)
}

/// Flow lines without the interface name (the input file's name).
fn flow_lines(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["type"] == "flow")
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().map(|o| o.remove("interface"));
            r
        })
        .collect()
}

#[test]
fn filter_and_write_equal_tcpdump_on_shared_captures() -> TestResult {
    let Some(pcaps) = shared("pcaps") else { return Ok(()) };
    if Command::new("tcpdump").arg("--version").output().is_err() {
        println!("SKIP replay -f/-w oracle: tcpdump is not installed (apt-get install tcpdump)");
        return Ok(());
    }
    let cases = [
        ("chrissanders-packets/http_espn.pcapng", "tcp port 80", 928),
        ("chrissanders-packets/synscan.pcapng", "tcp[tcpflags] & tcp-rst != 0 and src host 64.13.134.52", 5),
        ("stratosphere/test12-icmp-portscan.pcap", "icmp", 37),
        ("stopddos/amp.dns.RRSIG.fragmented.pcap", "udp and not port 53", 753),
        ("kitsune/mirai2000.pcap", "not (tcp or udp) or portrange 1-1023", 1227),
    ];
    let dir = tempfile::tempdir()?;
    for (name, expression, expected_matches) in cases {
        let input = pcaps.join(name);
        let ours = dir.path().join("ours.pcap");
        let theirs = dir.path().join("theirs.pcap");
        let our_flows = dir.path().join("ours.ndjson");
        let their_flows = dir.path().join("theirs.ndjson");
        let common = ["--no-analysis", "--idle-timeout", "5s"];
        let args = ["replay", s(&input), "-f", expression, "-w", s(&ours), "--flows"];
        flowwatch(&[&args[..], &[s(&our_flows)], &common[..]].concat())?;
        tcpdump(&["-r", s(&input), "-w", s(&theirs), expression])?;
        let args = ["replay", s(&theirs), "--flows", s(&their_flows)];
        flowwatch(&[&args[..], &common[..]].concat())?;

        let (our_text, their_text) = (dump_text(&ours)?, dump_text(&theirs)?);
        let matched = their_text.lines().filter(|l| !l.starts_with('\t')).count() as u64;
        assert_eq!(our_text, their_text, "{name} -f {expression:?}: -w output differs from tcpdump's");
        let (our_records, their_records) = (lines(&our_flows)?, lines(&their_flows)?);
        assert_eq!(flow_lines(&our_records), flow_lines(&their_records), "{name} -f {expression:?}: flows differ");
        let (stats, their_stats) = (final_stats(&our_records)?, final_stats(&their_records)?);
        assert_eq!(stats["ingress"], their_stats["ingress"], "{name} -f {expression:?}");
        assert_eq!(stats["filter"]["packets_matched"], matched, "{name} -f {expression:?}");
        assert_eq!(stats["write"]["packets"], matched, "{name} -f {expression:?}");
        // Pinned too, so a tcpdump that matched nothing could not make the comparison vacuous.
        assert_eq!(matched, expected_matches, "{name} -f {expression:?}");
        println!("{name:<48} -f {expression:<56} {matched:>6} packets, identical");
    }
    Ok(())
}
