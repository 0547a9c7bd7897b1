//! Property tests: the parser never panics on arbitrary or mutated frames, and
//! whatever it accepts is self-consistent.

mod common;

use agent_common::flow::{PKT_FIRST_FRAGMENT, PKT_FRAGMENT, PKT_IP_OPTIONS, PKT_QINQ, tcp_flags::SYN};
use agent_common::parse::{ParseError, ParsedPacket, parse_ethernet, parse_ip};
use common::*;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Bits the parser itself may set (GSO is set from hook metadata, never by the parser).
const PARSER_FLAGS: u8 = PKT_FRAGMENT | PKT_FIRST_FRAGMENT | PKT_IP_OPTIONS | PKT_QINQ;

/// Checks what must hold for any accepted packet; `min_header_len` is the
/// smallest possible L3 end (Ethernet + IPv4 = 34, raw IPv4 = 20).
fn check_invariants(p: &ParsedPacket, min_header_len: u32) -> Result<(), TestCaseError> {
    if p.pkt_flags & PKT_FRAGMENT != 0 {
        prop_assert_eq!((p.src_port, p.dst_port, p.tcp_flags), (0, 0, 0), "fragment with ports: {:?}", p);
    }
    if !matches!(p.protocol, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6) {
        prop_assert_eq!((p.src_port, p.dst_port), (0, 0), "ports without L4: {:?}", p);
    }
    if p.protocol != PROTO_TCP {
        prop_assert_eq!(p.tcp_flags, 0, "tcp flags on non-TCP: {:?}", p);
    }
    prop_assert!(p.vlan_id <= 0x0fff && p.inner_vlan_id <= 0x0fff, "vlan id over 12 bits: {:?}", p);
    if p.pkt_flags & PKT_QINQ == 0 {
        prop_assert_eq!(p.inner_vlan_id, 0, "inner vlan without QinQ: {:?}", p);
    }
    prop_assert_eq!(p.pkt_flags & !PARSER_FLAGS, 0, "unknown pkt flag: {:?}", p);
    prop_assert!(p.header_len >= min_header_len, "header_len too small: {:?}", p);
    Ok(())
}

fn check_ethernet(frame: &[u8], metadata_vlan: Option<u16>) -> Result<(), TestCaseError> {
    if let Ok(p) = parse_ethernet(frame, metadata_vlan) {
        check_invariants(&p, 14 + 20)?;
        if let Some(tci) = metadata_vlan {
            prop_assert_eq!(p.vlan_id, tci & 0x0fff);
        }
    }
    Ok(())
}

fn check_ip(packet: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(p) = parse_ip(packet) {
        check_invariants(&p, 20)?;
    }
    Ok(())
}

/// A frame with an interesting ethertype and (usually) a plausible IP version
/// and next-header byte, so random tails reach deep into the parser.
fn structured_frame() -> impl Strategy<Value = Vec<u8>> {
    let ethertypes = select(vec![ETH_IPV4, ETH_IPV6, TPID_8021Q, TPID_8021AD, TPID_LEGACY, ETH_ARP, 0x0042]);
    let protocols = select(vec![
        PROTO_HOPOPTS,
        PROTO_ICMP,
        PROTO_TCP,
        PROTO_UDP,
        PROTO_ROUTING,
        PROTO_FRAGMENT,
        PROTO_ICMPV6,
        PROTO_NONE,
        PROTO_DSTOPTS,
        PROTO_GRE,
    ]);
    (ethertypes, protocols, prop::collection::vec(any::<u8>(), 0..400)).prop_map(|(ethertype, proto, mut tail)| {
        match ethertype {
            ETH_IPV4 if tail.len() >= 20 => {
                tail[0] = 0x40 | (tail[0] & 0x0f);
                tail[9] = proto;
            }
            ETH_IPV6 if tail.len() >= 40 => {
                tail[0] = 0x60 | (tail[0] & 0x0f);
                tail[6] = proto;
            }
            _ => {}
        }
        [eth(ethertype), tail].concat()
    })
}

/// A valid IPv6 TCP frame that exercises every part of the parser: a VLAN tag,
/// three extension headers (one a first fragment) and TCP options.
fn valid_ipv6_tcp() -> Vec<u8> {
    let payload = frame(&[
        &ext6(PROTO_DSTOPTS, 0),
        &ext6(PROTO_FRAGMENT, 1),
        &frag6(PROTO_TCP, 0, true),
        &tcp(443, 50123, SYN, &[2, 4, 5, 0xb4, 1, 1, 4, 2]),
        b"data",
    ]);
    frame(&[&eth_tagged(&[(TPID_8021Q, 0x2000 | 77)], ETH_IPV6), &ipv6(PROTO_HOPOPTS, &payload)])
}

fn valid_ipv6_tcp_parsed() -> ParsedPacket {
    ParsedPacket {
        vlan_id: 77,
        tcp_flags: SYN,
        pkt_flags: PKT_IP_OPTIONS | PKT_FIRST_FRAGMENT,
        ..expect6(PROTO_TCP, 443, 50123, 18 + 40 + 8 + 16 + 8 + 28)
    }
}

/// A valid QinQ IPv4 TCP frame with IP options.
fn valid_ipv4_tcp() -> Vec<u8> {
    frame(&[
        &eth_tagged(&[(TPID_8021AD, 5), (TPID_8021Q, 6)], ETH_IPV4),
        &ipv4(PROTO_TCP, 0x4000, &[1; 8], &tcp(22, 60000, SYN, &[1; 4])),
    ])
}

#[test]
fn valid_frames_parse_as_expected() {
    assert_eq!(parse_ethernet(&valid_ipv6_tcp()[..], None), Ok(valid_ipv6_tcp_parsed()));
    let expected = ParsedPacket {
        vlan_id: 5,
        inner_vlan_id: 6,
        tcp_flags: SYN,
        pkt_flags: PKT_QINQ | PKT_IP_OPTIONS,
        ..expect4(PROTO_TCP, 22, 60000, 22 + 28 + 24)
    };
    assert_eq!(parse_ethernet(&valid_ipv4_tcp()[..], None), Ok(expected));
}

/// For frames whose last header is read in full (UDP, TCP without options),
/// every prefix shorter than `header_len` is `Truncated` and every longer one
/// parses exactly like the whole frame.
#[test]
fn every_prefix_is_truncated_or_identical() {
    let frames = [
        frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 0, &[1; 12], &udp(1, 2, b"abc"))]),
        frame(&[&eth_tagged(&[(TPID_8021Q, 9)], ETH_IPV4), &ipv4(PROTO_TCP, 0, &[], &tcp(3, 4, SYN, &[]))]),
        frame(&[
            &eth_tagged(&[(TPID_8021AD, 1), (TPID_8021Q, 2)], ETH_IPV6),
            &ipv6(PROTO_HOPOPTS, &[ext6(PROTO_ROUTING, 1), ext6(PROTO_UDP, 0), udp(5, 6, b"xyz")].concat()),
        ]),
    ];
    for f in &frames {
        let full = parse_ethernet(&f[..], None).expect("valid frame");
        let header_len = full.header_len as usize;
        for len in 0..=f.len() {
            let got = parse_ethernet(&f[..len], None);
            if len < header_len {
                assert_eq!(got, Err(ParseError::Truncated), "len {len} of {f:02x?}");
            } else {
                assert_eq!(got, Ok(full), "len {len} of {f:02x?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), tci in any::<u16>()) {
        check_ethernet(&bytes, None)?;
        check_ethernet(&bytes, Some(tci))?;
        check_ip(&bytes)?;
    }

    #[test]
    fn structured_frames_never_panic(f in structured_frame(), tci in any::<u16>()) {
        check_ethernet(&f, None)?;
        check_ethernet(&f, Some(tci))?;
        check_ip(&f[14..])?;
    }

    /// Ethernet + IP and raw IP agree, offset by the 14-byte Ethernet header.
    #[test]
    fn ethernet_and_raw_ip_agree(v6 in any::<bool>(), proto in any::<u8>(), mut ip in prop::collection::vec(any::<u8>(), 1..300)) {
        let ethertype = if v6 { ETH_IPV6 } else { ETH_IPV4 };
        ip[0] = if v6 { 0x60 } else { 0x40 | (ip[0] & 0x0f) };
        let proto_at = if v6 { 6 } else { 9 };
        if let Some(b) = ip.get_mut(proto_at) {
            *b = proto;
        }
        let f = [eth(ethertype), ip.clone()].concat();
        let raw = parse_ip(&ip[..]);
        let framed = parse_ethernet(&f[..], None);
        match (raw, framed) {
            (Ok(r), Ok(e)) => prop_assert_eq!(ParsedPacket { header_len: r.header_len + 14, ..r }, e),
            (r, e) => prop_assert_eq!(r, e),
        }
    }

    /// A tag in skb metadata parses like the same tag in the frame.
    #[test]
    fn metadata_tag_matches_frame_tag(tci in any::<u16>(), tail in structured_frame()) {
        let inner = &tail[12..]; // ethertype onwards
        let untagged = [&tail[..12], inner].concat();
        let tagged = [&tail[..12], &TPID_8021Q.to_be_bytes()[..], &tci.to_be_bytes()[..], inner].concat();
        let from_metadata = parse_ethernet(&untagged[..], Some(tci));
        let from_frame = parse_ethernet(&tagged[..], None);
        match (from_metadata, from_frame) {
            (Ok(m), Ok(t)) => prop_assert_eq!(ParsedPacket { header_len: m.header_len + 4, ..m }, t),
            (m, t) => prop_assert_eq!(m, t),
        }
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        ipv6 in any::<bool>(),
        flips in prop::collection::vec((any::<Index>(), 1u8..=255), 0..8),
        cut in prop::option::of(any::<Index>()),
        tci in prop::option::of(any::<u16>()),
    ) {
        let mut f = if ipv6 { valid_ipv6_tcp() } else { valid_ipv4_tcp() };
        for (at, xor) in &flips {
            let i = at.index(f.len());
            f[i] ^= xor;
        }
        if let Some(cut) = cut {
            let len = cut.index(f.len() + 1);
            f.truncate(len);
        }
        check_ethernet(&f, tci)?;
        check_ip(f.get(if ipv6 { 18 } else { 22 }..).unwrap_or(&[]))?;
        if ipv6 && flips.is_empty() && cut.is_none() && tci.is_none() {
            prop_assert_eq!(parse_ethernet(&f[..], None), Ok(valid_ipv6_tcp_parsed()));
        }
    }

    /// Flipping a byte of the payload after the L4 header never changes the result.
    #[test]
    fn payload_bytes_are_ignored(at in any::<Index>(), xor in 1u8..=255) {
        let mut f = valid_ipv6_tcp();
        let header_len = valid_ipv6_tcp_parsed().header_len as usize;
        let i = header_len + at.index(f.len() - header_len);
        f[i] ^= xor;
        prop_assert_eq!(parse_ethernet(&f[..], None), Ok(valid_ipv6_tcp_parsed()));
    }
}
