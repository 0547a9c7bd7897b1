//! Privileged tests of the harness itself (no agent needed): namespaces,
//! veth, traffic generators and the tcpdump ground truth agree exactly.

use anyhow::{Result, ensure};
use integration_tests::capture::Capture;
use integration_tests::frames::{self, TPID_8021AD, TPID_8021Q, VlanTag};
use integration_tests::key::FlowKey;
use integration_tests::lab::Lab;
use integration_tests::malformed::Malformed;
use integration_tests::netns::NetNs;
use integration_tests::require_root;
use integration_tests::traffic::{self, RawSender};
use std::path::Path;

fn udp_roundtrip_matches_tcpdump(v6: bool) -> Result<()> {
    let lab = Lab::new()?;
    let cap = Capture::start(&lab.a, &lab.veth.a_if)?;
    let (a, b) = (lab.a_addr(v6, 6001), lab.b_addr(v6, 5001));
    let a_sock = traffic::udp_socket(&lab.a, a)?;
    let b_sock = traffic::udp_socket(&lab.b, b)?;
    traffic::udp_send(&b_sock, a, 25, 100)?;
    assert_eq!(traffic::udp_expect(&a_sock, 25, 100)?, vec![b; 25]);
    traffic::udp_send(&a_sock, b, 10, 100)?;
    traffic::udp_expect(&b_sock, 10, 100)?;
    let pcap = cap.stop()?;
    let frame = if v6 { 14 + 40 + 8 + 100 } else { 14 + 20 + 8 + 100 };
    let fwd = pcap.count(&FlowKey::udp(b, a));
    let rev = pcap.count(&FlowKey::udp(a, b));
    assert_eq!((fwd.packets, fwd.bytes), (25, 25 * frame), "{}", pcap.describe());
    assert_eq!((rev.packets, rev.bytes), (10, 10 * frame), "{}", pcap.describe());
    // A quiet link: static neighbours mean no ARP and no neighbour
    // discovery, and the MLD reports were through before the capture began.
    assert_eq!(pcap.with_ethertype(0x0806), 0, "ARP on the link:\n{}", pcap.describe());
    assert_eq!(pcap.frames.len(), 35, "unexpected frames on the link:\n{}", pcap.describe());
    Ok(())
}

#[test]
fn udp_ipv4_counts_match_tcpdump() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    udp_roundtrip_matches_tcpdump(false)
}

#[test]
fn udp_ipv6_counts_match_tcpdump() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    udp_roundtrip_matches_tcpdump(true)
}

#[test]
fn tcp_exchange_with_offloads_off_sends_wire_sized_segments() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    lab.veth.disable_offloads()?;
    let cap = Capture::start(&lab.a, &lab.veth.a_if)?;
    let x = traffic::tcp_exchange(&lab.a, &lab.b, lab.b_addr(false, 8080), 100 * 1024)?;
    let pcap = cap.stop()?;
    let fwd = pcap.count(&FlowKey::tcp(x.client, x.server));
    let rev = pcap.count(&FlowKey::tcp(x.server, x.client));
    // 100 KiB over a 1448-byte MSS is at least 71 data segments each way.
    assert!(fwd.packets >= 71 && rev.packets >= 71, "{}", pcap.describe());
    assert!(fwd.bytes > 100 * 1024 && rev.bytes > 100 * 1024, "{}", pcap.describe());
    assert!(pcap.max_wire_len() <= 1514, "a frame of {} bytes: offloads still on", pcap.max_wire_len());
    Ok(())
}

#[test]
fn ping_ipv4_and_ipv6_are_answered_and_captured() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    let cap = Capture::start(&lab.a, &lab.veth.a_if)?;
    traffic::ping(&lab.b, lab.a_ip(false), 4, 56)?;
    traffic::ping(&lab.b, lab.a_ip(true), 4, 56)?;
    let pcap = cap.stop()?;
    let (a4, b4, a6, b6) = (lab.a_ip(false), lab.b_ip(false), lab.a_ip(true), lab.b_ip(true));
    let req4 = pcap.count(&FlowKey::icmp(b4, a4, 8, 0));
    let rep4 = pcap.count(&FlowKey::icmp(a4, b4, 0, 0));
    let req6 = pcap.count(&FlowKey::icmp(b6, a6, 128, 0));
    let rep6 = pcap.count(&FlowKey::icmp(a6, b6, 129, 0));
    assert_eq!((req4.packets, req4.bytes, rep4.packets, rep4.bytes), (4, 4 * 98, 4, 4 * 98), "{}", pcap.describe());
    assert_eq!((req6.packets, req6.bytes, rep6.packets, rep6.bytes), (4, 4 * 118, 4, 4 * 118), "{}", pcap.describe());
    Ok(())
}

#[test]
fn raw_frames_arrive_byte_exact() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    let cap = Capture::start(&lab.a, &lab.veth.a_if)?;
    // The frame cut inside its VLAN tag is freed by the receiving kernel
    // (skb_vlan_untag) before packet taps see it, though XDP sees it first:
    // check that every frame left b on the sending side.
    let cap_b = Capture::start(&lab.b, &lab.veth.b_if)?;
    let raw = RawSender::open(&lab.b, &lab.veth.b_if)?;
    let (src, dst) = (lab.b_addr(false, 4000), lab.a_addr(false, 4001));
    let (m_a, m_b) = (lab.veth.a_mac, lab.veth.b_mac);
    let one = frames::udp_frame(m_a, m_b, &[VlanTag { tpid: TPID_8021Q, vid: 100 }], src, dst, 64);
    let two = frames::udp_frame(
        m_a,
        m_b,
        &[VlanTag { tpid: TPID_8021AD, vid: 200 }, VlanTag { tpid: TPID_8021Q, vid: 300 }],
        src,
        dst,
        64,
    );
    raw.send_n(&one, 3)?;
    raw.send_n(&two, 2)?;
    let ep = lab.endpoints_b_to_a();
    for kind in Malformed::ALL {
        raw.send(&kind.frame(&ep))?;
    }
    lab.barrier()?;
    let pcap = cap.stop()?;
    let sent = cap_b.stop()?;
    let c1 = pcap.count(&FlowKey::udp(src, dst).with_vlan(100, 0));
    let c2 = pcap.count(&FlowKey::udp(src, dst).with_vlan(200, 300));
    assert_eq!((c1.packets, c1.bytes), (3, 3 * (one.len() as u64)), "{}", pcap.describe());
    assert_eq!((c2.packets, c2.bytes), (2, 2 * (two.len() as u64)), "{}", pcap.describe());
    for kind in Malformed::ALL {
        let len = kind.frame(&ep).len() as u32;
        ensure!(sent.frames.iter().any(|f| f.wire_len == len), "{kind:?} ({len} bytes) not sent");
        if kind != Malformed::TruncatedVlanTag {
            ensure!(pcap.frames.iter().any(|f| f.wire_len == len), "{kind:?} ({len} bytes) not received");
        }
    }
    Ok(())
}

#[test]
fn run_in_creates_sockets_inside_the_namespace_and_guards_clean_up() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let lab = Lab::new()?;
    let a_addr = lab.a_addr(false, 0);
    // The address exists only in namespace a.
    assert!(traffic::udp_socket(&lab.a, a_addr).is_ok());
    assert!(std::net::UdpSocket::bind(a_addr).is_err(), "{a_addr} is bindable outside the test namespace");
    assert!(traffic::udp_socket(&lab.b, a_addr).is_err());
    // The veth ends are not in the root namespace.
    let root_links =
        String::from_utf8_lossy(&std::process::Command::new("ip").args(["-o", "link"]).output()?.stdout).into_owned();
    assert!(!root_links.contains(&lab.veth.a_if) && !root_links.contains(&lab.veth.b_if));
    let (a_name, b_name) = (lab.a.name().to_owned(), lab.b.name().to_owned());
    drop(lab);
    assert!(!Path::new("/run/netns").join(&a_name).exists());
    assert!(!Path::new("/run/netns").join(&b_name).exists());
    // Cleanup also runs when a test panics.
    let ns_path = std::sync::Mutex::new(None);
    let caught = std::panic::catch_unwind(|| {
        let ns = NetNs::new().expect("netns");
        *ns_path.lock().expect("lock") = Some(ns.path());
        panic!("deliberate");
    });
    assert!(caught.is_err());
    let path = ns_path.lock().expect("lock").clone().expect("path recorded");
    assert!(!path.exists(), "{} survived a panic", path.display());
    Ok(())
}
