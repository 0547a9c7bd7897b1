//! `flowwatch simulate` end to end: the capture is reproducible, every frame
//! is well formed with valid checksums, it replays through the real parser
//! and flow engine, each injection produces the flows its label describes,
//! and no benign flow matches any label.
//!
//! One capture with every injection and one without any (same seed) are
//! generated once and shared by the tests.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Cursor, Write as _},
    net::{IpAddr, Ipv4Addr},
    path::Path,
    process::Command,
    sync::{OnceLock, atomic::AtomicBool},
    time::Duration,
};

use agent::{
    flow::{FlowEngine, PollOutput, StatsRecord},
    replay::{CaptureReader, ReplayConfig, ReplaySink, SinkFailure, replay},
    simulate::{InjectionKind, SimConfig, SimReport, simulate},
};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use models::{AnomalyKind, FlowObservation, Label};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SEED: u64 = 11;
const LAN_RESOLVER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 1);
const INTRANET_SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 2);
const FLOOD_VICTIM: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 4);

fn config(injections: Vec<InjectionKind>) -> SimConfig {
    SimConfig { duration: Duration::from_secs(180), hosts: 12, injections, ..SimConfig::new(SEED) }
}

/// A simulated capture and what replaying it gave.
struct Run {
    pcap: Vec<u8>,
    report: SimReport,
    flows: Vec<FlowObservation>,
    replayed_packets: u64,
    stats: StatsRecord,
}

struct Fixture {
    injected: Run,
    benign: Run,
}

/// Collects flow records as the models see them.
#[derive(Default)]
struct Collect {
    flows: Vec<FlowObservation>,
}

impl ReplaySink for Collect {
    fn interface(&mut self, _: u32, _: String) {}

    fn poll(&mut self, out: &PollOutput, _: &FlowEngine) -> Result<(), SinkFailure> {
        self.flows.extend(out.records.iter().map(FlowObservation::from));
        Ok(())
    }

    fn stats(&mut self, _: &StatsRecord) -> Result<(), SinkFailure> {
        Ok(())
    }
}

fn run(config: &SimConfig) -> Result<Run, Box<dyn std::error::Error>> {
    let mut pcap = Vec::new();
    let report = simulate(config, &mut pcap)?;
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(&pcap)?;
    file.flush()?;
    let replay_config = ReplayConfig {
        engine: Default::default(),
        poll_interval: Duration::from_secs(1),
        max_packets: None,
        max_duration: None,
        realtime: false,
    };
    let mut sink = Collect::default();
    let summary = replay(&[file.path().to_owned()], &replay_config, &AtomicBool::new(false), &mut sink)?;
    Ok(Run { pcap, report, flows: sink.flows, replayed_packets: summary.packets, stats: summary.final_stats })
}

fn fixture() -> Result<&'static Fixture, String> {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let injected = run(&config(InjectionKind::ALL.to_vec())).map_err(|e| format!("injected run: {e}"))?;
            let benign = run(&config(Vec::new())).map_err(|e| format!("benign run: {e}"))?;
            Ok(Fixture { injected, benign })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn label(run: &Run, kind: AnomalyKind, attacker: Option<Ipv4Addr>) -> Result<&Label, String> {
    run.report
        .labels
        .0
        .iter()
        .find(|l| l.kind == kind && attacker.is_none_or(|a| l.attacker == Some(IpAddr::V4(a))))
        .ok_or_else(|| format!("no {kind} label in {:?}", run.report.labels))
}

fn matching<'a>(run: &'a Run, label: &Label) -> Vec<&'a FlowObservation> {
    run.flows.iter().filter(|flow| label.matches(flow)).collect()
}

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

// ------------------------------------------------------------ the capture

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() -> TestResult {
    let fixture = fixture()?;
    let mut again = Vec::new();
    let report = simulate(&config(InjectionKind::ALL.to_vec()), &mut again)?;
    assert!(again == fixture.injected.pcap, "a second run with the same seed wrote different bytes");
    assert_eq!(report, fixture.injected.report);
    let mut labels_a = Vec::new();
    let mut labels_b = Vec::new();
    report.labels.write(&mut labels_a)?;
    fixture.injected.report.labels.write(&mut labels_b)?;
    assert_eq!(labels_a, labels_b);

    let mut other = Vec::new();
    simulate(&SimConfig { seed: SEED + 1, ..config(Vec::new()) }, &mut other)?;
    assert!(other != fixture.benign.pcap, "seeds {SEED} and {} wrote the same capture", SEED + 1);
    Ok(())
}

#[test]
fn every_frame_is_well_formed_in_time_order_with_valid_checksums() -> TestResult {
    let fixture = fixture()?;
    let pcap: &'static [u8] = &fixture.injected.pcap;
    let mut reader = CaptureReader::new("injected".into(), Cursor::new(pcap))?;
    let (mut frames, mut last_ns) = (0u64, 0u64);
    while let Some(result) = reader.next_packet(|packet| -> Result<u64, String> {
        let parsed = SlicedPacket::from_ethernet(packet.data).map_err(|e| format!("frame {frames}: {e}"))?;
        let Some(NetSlice::Ipv4(ip)) = &parsed.net else { return Err(format!("frame {frames} is not IPv4")) };
        let ip_header = ip.header().to_header();
        if ip_header.header_checksum != ip_header.calc_header_checksum() {
            return Err(format!("frame {frames}: bad IPv4 header checksum"));
        }
        let valid = match &parsed.transport {
            Some(TransportSlice::Tcp(tcp)) => {
                tcp.checksum()
                    == tcp.to_header().calc_checksum_ipv4(&ip_header, tcp.payload()).map_err(|e| e.to_string())?
            }
            Some(TransportSlice::Udp(udp)) => {
                udp.checksum()
                    == udp.to_header().calc_checksum_ipv4(&ip_header, udp.payload()).map_err(|e| e.to_string())?
            }
            _ => return Err(format!("frame {frames} is neither TCP nor UDP")),
        };
        if !valid {
            return Err(format!("frame {frames}: bad TCP/UDP checksum"));
        }
        if packet.orig_len as usize != packet.data.len() {
            return Err(format!("frame {frames} was cut by the snaplen"));
        }
        Ok(packet.timestamp_ns)
    })? {
        let ts = result?;
        assert!(ts >= last_ns, "frame {frames} goes back in time");
        last_ns = ts;
        frames += 1;
    }
    assert_eq!(frames, fixture.injected.report.packets);
    assert!(last_ns < SimConfig::new(SEED).start_ns + 180_000_000_000);
    Ok(())
}

#[test]
fn replay_counts_every_packet_with_nothing_malformed_or_lost() -> TestResult {
    let fixture = fixture()?;
    for run in [&fixture.injected, &fixture.benign] {
        assert_eq!(run.replayed_packets, run.report.packets);
        let ingress = &run.stats.ingress;
        assert_eq!(ingress.packets, run.report.packets);
        assert_eq!(
            (ingress.non_ip, ingress.malformed_truncated, ingress.malformed_header, ingress.malformed_too_deep),
            (0, 0, 0, 0)
        );
        assert_eq!(run.stats.packets_unaccounted, 0);
        assert_eq!(run.flows.iter().map(FlowObservation::packets).sum::<u64>(), run.report.packets);
    }
    Ok(())
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

#[test]
fn tshark_reads_every_frame_without_errors_or_bad_checksums() -> TestResult {
    if !tshark_available() {
        eprintln!("SKIPPED: tshark is not installed (apt-get install tshark)");
        return Ok(());
    }
    let fixture = fixture()?;
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(&fixture.injected.pcap)?;
    file.flush()?;
    let tshark = |filter: &str| -> Result<String, Box<dyn std::error::Error>> {
        let output = Command::new("tshark")
            .env("LC_ALL", "C")
            .args(["-n", "-r"])
            .arg(file.path())
            .args(["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
            .args(["-T", "fields", "-e", "frame.number", "-Y", filter])
            .output()?;
        if !output.status.success() {
            return Err(format!("tshark failed: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        Ok(String::from_utf8(output.stdout)?)
    };
    let frames = tshark("frame")?;
    assert_eq!(frames.lines().count() as u64, fixture.injected.report.packets);
    let bad = tshark(
        "_ws.malformed || _ws.expert.severity >= \"error\" || ip.checksum.status == \"Bad\" \
         || tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\"",
    )?;
    assert!(bad.is_empty(), "frames tshark finds malformed or with bad checksums: {}", &bad[..bad.len().min(200)]);
    // Sequence and acknowledgement numbers are consistent: tshark's TCP
    // analysis sees no gaps, reordering, duplicate ACKs or stray segments
    // (the only retransmissions are the sweep's retried SYNs).
    let inconsistent = tshark(
        "tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order \
         || tcp.analysis.duplicate_ack || tcp.analysis.keep_alive || tcp.analysis.zero_window \
         || tcp.analysis.window_full || (tcp.analysis.retransmission && tcp.flags.syn == 0)",
    )?;
    assert!(
        inconsistent.is_empty(),
        "frames with TCP analysis findings: {}",
        &inconsistent[..inconsistent.len().min(200)]
    );
    Ok(())
}

// ------------------------------------------------------------ labels

#[test]
fn there_is_one_label_per_injection_inside_the_capture() -> TestResult {
    let fixture = fixture()?;
    let labels = &fixture.injected.report.labels.0;
    let kinds: BTreeSet<AnomalyKind> = labels.iter().map(|l| l.kind).collect();
    assert_eq!(labels.len(), InjectionKind::ALL.len());
    assert_eq!(kinds.len(), 7, "port_scan and host_sweep share a kind: {kinds:?}");
    let start = SimConfig::new(SEED).start_ns as f64 / 1e9;
    for label in labels {
        let (Some(from), Some(to)) = (label.start, label.end) else { panic!("{label:?} has no time range") };
        assert!(start <= from && from < to && to <= start + 180.0, "{label:?}");
    }
    assert!(fixture.injected.report.injections.iter().all(|i| i.packets > 0));
    Ok(())
}

#[test]
fn no_benign_flow_matches_any_label() -> TestResult {
    let fixture = fixture()?;
    let labels = &fixture.injected.report.labels;
    let mislabelled: Vec<_> = fixture.benign.flows.iter().filter(|flow| labels.classify(flow).is_some()).collect();
    assert!(mislabelled.is_empty(), "{} benign flows match a label, e.g. {:?}", mislabelled.len(), mislabelled.first());
    // Not vacuous: 12 hosts make a few hundred flows in 3 minutes.
    assert!(fixture.benign.flows.len() >= 300, "only {} benign flows", fixture.benign.flows.len());
    Ok(())
}

/// Protocol and the two endpoints, lower one first.
type ConversationKey = (u8, IpAddr, u16, IpAddr, u16);

/// Packets and bytes per conversation, so that records cut at different
/// times still compare.
fn conversations<'a>(flows: impl Iterator<Item = &'a FlowObservation>) -> BTreeMap<ConversationKey, (u64, u64)> {
    let mut totals = BTreeMap::new();
    for flow in flows {
        let (a, b) = ((flow.src_ip, flow.src_port), (flow.dst_ip, flow.dst_port));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let entry = totals.entry((flow.proto, low.0, low.1, high.0, high.1)).or_insert((0, 0));
        entry.0 += flow.packets();
        entry.1 += flow.bytes();
    }
    totals
}

#[test]
fn injections_add_labelled_flows_and_leave_benign_traffic_unchanged() -> TestResult {
    let fixture = fixture()?;
    let labels = &fixture.injected.report.labels;
    let unlabelled = fixture.injected.flows.iter().filter(|flow| labels.classify(flow).is_none());
    assert!(
        conversations(unlabelled) == conversations(fixture.benign.flows.iter()),
        "the injected capture's unlabelled traffic differs from the benign capture of the same seed"
    );
    // Windows do not overlap, so no flow falls under two labels.
    let ambiguous =
        fixture.injected.flows.iter().filter(|flow| labels.0.iter().filter(|l| l.matches(flow)).count() > 1);
    assert_eq!(ambiguous.count(), 0);
    let injected_packets: u64 = fixture.injected.report.injections.iter().map(|i| i.packets).sum();
    assert_eq!(fixture.injected.report.packets, fixture.benign.report.packets + injected_packets);
    Ok(())
}

// ------------------------------------------------------------ each injection

#[test]
fn port_scan_probes_1000_ports_of_the_intranet_server() -> TestResult {
    let run = &fixture()?.injected;
    let scanner = Ipv4Addr::new(192, 168, 50, 200);
    let label = label(run, AnomalyKind::PortScan, Some(scanner))?;
    assert_eq!(label.victim, Some(IpAddr::V4(INTRANET_SERVER)));
    let flows = matching(run, label);
    let ports: BTreeSet<u16> = flows.iter().filter(|f| f.src_ip == IpAddr::V4(scanner)).map(|f| f.dst_port).collect();
    assert_eq!(ports, (1..=1000).collect());
    assert!(flows.iter().all(|f| f.dst_ip == IpAddr::V4(INTRANET_SERVER) && f.proto == 6 && f.orig.syn == 1));
    // Open ports answer SYN-ACK, the other 997 RST.
    let answered_rst = flows.iter().filter(|f| f.resp.rst == 1).count();
    assert_eq!(answered_rst, 997);
    Ok(())
}

#[test]
fn host_sweep_probes_every_lan_address_on_smb() -> TestResult {
    let run = &fixture()?.injected;
    let sweeper = Ipv4Addr::new(192, 168, 50, 201);
    let label = label(run, AnomalyKind::PortScan, Some(sweeper))?;
    assert_eq!(label.victim, None);
    let flows = matching(run, label);
    let targets: BTreeSet<Ipv4Addr> = flows.iter().filter(|f| f.dst_port == 445).filter_map(|f| v4(f.dst_ip)).collect();
    assert_eq!(targets.len(), 253);
    assert!(targets.iter().all(|ip| ip.octets()[..3] == [192, 168, 50] && *ip != sweeper));
    // 12 hosts, the gateway and two servers are there; the rest get a retry and no answer.
    let answered: BTreeSet<Ipv4Addr> =
        flows.iter().filter(|f| f.resp.packets > 0).filter_map(|f| v4(f.dst_ip)).collect();
    assert_eq!(answered.len(), 15);
    assert!(flows.iter().filter(|f| f.resp.packets == 0).all(|f| f.orig.syn == 2));
    Ok(())
}

#[test]
fn syn_flood_comes_from_tens_of_thousands_of_spoofed_sources() -> TestResult {
    let run = &fixture()?.injected;
    let label = label(run, AnomalyKind::Flood, None)?;
    assert_eq!((label.attacker, label.victim), (None, Some(IpAddr::V4(FLOOD_VICTIM))));
    let flows = matching(run, label);
    let sources: BTreeSet<IpAddr> = flows.iter().map(|f| f.src_ip).collect();
    assert!(sources.len() >= 29_900, "{} distinct sources", sources.len());
    assert!(sources.iter().filter_map(|ip| v4(*ip)).all(|ip| !ip.is_private() && !ip.is_loopback()));
    let syns: u32 = flows.iter().map(|f| f.orig.syn).sum();
    assert_eq!(syns, 30_000);
    assert!(flows.iter().all(|f| f.dst_ip == IpAddr::V4(FLOOD_VICTIM) && f.dst_port == 80));
    // SYN cookies: one SYN-ACK per SYN, nothing completes.
    assert!(flows.iter().all(|f| f.resp.syn == f.orig.syn && f.orig.packets == u64::from(f.orig.syn)));
    Ok(())
}

#[test]
fn exfiltration_uploads_tens_of_megabytes_to_one_outside_host() -> TestResult {
    let run = &fixture()?.injected;
    let label = label(run, AnomalyKind::Exfiltration, None)?;
    let flows = matching(run, label);
    assert_eq!(flows.len(), 1, "{flows:?}");
    let upload = flows[0];
    assert_eq!((upload.dst_ip, upload.dst_port), (label.attacker.ok_or("no attacker")?, 443));
    assert_eq!(Some(upload.src_ip), label.victim);
    // 200 MB at full size; this 3-minute capture's window fits about 81 MB.
    assert!(upload.orig.bytes > 80_000_000, "{} bytes", upload.orig.bytes);
    assert!(upload.orig.bytes > 20 * upload.resp.bytes);
    Ok(())
}

#[test]
fn beacons_check_in_every_minute_within_ten_percent() -> TestResult {
    let run = &fixture()?.injected;
    let label = label(run, AnomalyKind::Beaconing, None)?;
    let mut flows = matching(run, label);
    flows.sort_by_key(|f| f.start_ns);
    assert!(flows.len() >= 2, "{} beacons in 3 minutes", flows.len());
    for pair in flows.windows(2) {
        let interval = (pair[1].start_ns - pair[0].start_ns) as f64 / 1e9;
        assert!((54.0..=66.0).contains(&interval), "beacon interval {interval} s");
    }
    for beacon in &flows {
        assert_eq!((Some(beacon.dst_ip), beacon.dst_port, beacon.proto), (label.attacker, 80, 6));
        // Handshake, a 200-400 byte request, ACKs and FIN: well under 1,200 bytes each way.
        assert!(beacon.orig.bytes < 1_200 && beacon.resp.bytes < 1_200, "{beacon:?}");
    }
    Ok(())
}

#[test]
fn dns_tunnel_sends_large_txt_queries_to_the_resolver() -> TestResult {
    let run = &fixture()?.injected;
    let label = label(run, AnomalyKind::DnsTunnel, None)?;
    assert_eq!(label.victim, Some(IpAddr::V4(LAN_RESOLVER)));
    let flows = matching(run, label);
    assert!(flows.iter().all(|f| f.proto == 17 && f.dst_port == 53 && f.dst_ip == IpAddr::V4(LAN_RESOLVER)));
    let queries: u64 = flows.iter().map(|f| f.orig.packets).sum();
    let written = run.report.injections.iter().find(|i| i.kind == InjectionKind::DnsTunnel).ok_or("no tunnel")?;
    assert_eq!(queries * 2, written.packets);
    assert!(queries >= 1_000, "{queries} queries");
    // DNS message = frame - 42 bytes of Ethernet, IPv4 and UDP headers.
    let sizes: Vec<f64> = flows.iter().map(|f| f.orig.len_mean - 42.0).collect();
    assert!(
        sizes.iter().all(|s| (100.0..=250.0).contains(s)),
        "{:?}",
        sizes.iter().find(|s| !(100.0..=250.0).contains(*s))
    );
    Ok(())
}

#[test]
fn rare_country_and_rare_protocol_talk_to_their_own_servers() -> TestResult {
    let run = &fixture()?.injected;
    let geo = label(run, AnomalyKind::Geo, None)?;
    assert_eq!(geo.attacker, Some(IpAddr::V4(Ipv4Addr::new(67, 43, 156, 77))));
    let visits = matching(run, geo);
    assert_eq!(visits.len(), 4);
    assert!(visits.iter().all(|f| Some(f.src_ip) == geo.victim && f.dst_port == 443));

    let rare = label(run, AnomalyKind::RareProtocol, None)?;
    let mut irc = matching(run, rare);
    irc.sort_by_key(|f| f.start_ns);
    // One session; quiet spells over the 30 s idle timeout cut it into several records.
    assert!(!irc.is_empty());
    assert_eq!((irc[0].proto, irc[0].dst_port, Some(irc[0].src_ip)), (6, 6667, rare.victim));
    assert!(irc.iter().all(|f| f.proto == 6 && (f.dst_port == 6667 || f.src_port == 6667)));
    // No benign host ever uses IRC.
    assert!(fixture()?.benign.flows.iter().all(|f| f.dst_port != 6667 && f.src_port != 6667));
    Ok(())
}

// ------------------------------------------------------------ the command

fn flowwatch(args: &[&str], dir: &Path) -> Result<std::process::Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_flowwatch")).current_dir(dir).args(args).output()
}

#[test]
fn command_writes_the_capture_and_its_labels() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = flowwatch(
        &[
            "simulate",
            "--out",
            "s.pcap",
            "--labels",
            "s.csv",
            "--duration",
            "1m",
            "--hosts",
            "4",
            "--inject",
            "port_scan",
        ],
        dir.path(),
    )?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let labels = models::Labels::load(&dir.path().join("s.csv"))?;
    assert_eq!(labels.0.len(), 1);
    assert_eq!(labels.0[0].kind, AnomalyKind::PortScan);
    assert!(std::fs::metadata(dir.path().join("s.pcap"))?.len() > 100_000);

    let output = flowwatch(&["simulate", "--out", "t.pcap", "--inject", "portscan"], dir.path())?;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown injection \"portscan\""));
    let output = flowwatch(&["simulate", "--out", "t.pcap", "--duration", "30s", "--inject", "all"], dir.path())?;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--duration must be at least 60 s"));
    let output = flowwatch(&["simulate", "--out", "t.pcap", "--duration", "1m", "--packets", "1000"], dir.path())?;
    assert!(output.status.success());
    // 24-byte file header, then 1,000 records.
    let pcap = std::fs::read(dir.path().join("t.pcap"))?;
    let records = pcap_record_count(&pcap[24..]);
    assert_eq!(records, 1000);
    Ok(())
}

fn pcap_record_count(mut records: &[u8]) -> usize {
    let mut count = 0;
    while records.len() >= 16 {
        let caplen = u32::from_le_bytes([records[8], records[9], records[10], records[11]]) as usize;
        records = &records[(16 + caplen).min(records.len())..];
        count += 1;
    }
    count
}
