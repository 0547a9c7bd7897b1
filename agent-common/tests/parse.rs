//! Parser tests on frames built byte by byte. Every Ok case compares the whole
//! `ParsedPacket`, so any field the parser gets wrong fails the test.

mod common;

use agent_common::flow::{
    DIRECTION_EGRESS, FlowKey, PKT_FIRST_FRAGMENT, PKT_FRAGMENT, PKT_IP_OPTIONS, PKT_QINQ,
    tcp_flags::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG},
};
use agent_common::parse::{ParseError, ParsedPacket, ipv4_mapped, parse_ethernet, parse_ip};
use common::*;

fn parse(frame: &[u8]) -> Result<ParsedPacket, ParseError> {
    parse_ethernet(frame, None)
}

fn ipv4_udp_frame() -> Vec<u8> {
    frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 0, &[], &udp(5353, 53, b"hello"))])
}

// ---------------------------------------------------------------- IPv4

#[test]
fn ipv4_udp() {
    let f = ipv4_udp_frame();
    assert_eq!(parse(&f), Ok(expect4(PROTO_UDP, 5353, 53, 14 + 20 + 8)));
}

#[test]
fn ipv4_mapped_helper_matches_layout() {
    assert_eq!(ipv4_mapped(SRC4), SRC4_MAPPED);
    assert_eq!(ipv4_mapped([255, 255, 255, 255]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255]);
}

#[test]
fn ipv4_tcp_flags() {
    let cases = [SYN, SYN | ACK, FIN, RST, FIN | ACK, RST | ACK, PSH | ACK, URG | ACK, ECE | CWR | SYN, 0, 0xff];
    for flags in cases {
        let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_TCP, 0x4000, &[], &tcp(40000, 443, flags, &[]))]);
        let expected = ParsedPacket { tcp_flags: flags, ..expect4(PROTO_TCP, 40000, 443, 14 + 20 + 20) };
        assert_eq!(parse(&f), Ok(expected), "flags {flags:#04x}");
    }
}

#[test]
fn ipv4_tcp_header_len_includes_options() {
    // Data offset 5..=15: header_len = eth + ip + doff * 4, whatever the payload.
    for doff in 5u32..=15 {
        let options = vec![1u8; (doff as usize - 5) * 4]; // NOPs
        let f = frame(&[
            &eth(ETH_IPV4),
            &ipv4(PROTO_TCP, 0, &[], &[tcp(1234, 80, SYN, &options), b"payload".to_vec()].concat()),
        ]);
        let expected = ParsedPacket { tcp_flags: SYN, ..expect4(PROTO_TCP, 1234, 80, 14 + 20 + doff * 4) };
        assert_eq!(parse(&f), Ok(expected), "doff {doff}");
    }
}

#[test]
fn ipv4_tcp_options_may_extend_past_frame_end() {
    // Only the fixed 20 bytes are needed; a cut inside the options is still a flow update.
    let mut f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_TCP, 0, &[], &tcp(1, 2, ACK, &[1; 20]))]);
    f.truncate(14 + 20 + 20 + 4);
    let expected = ParsedPacket { tcp_flags: ACK, ..expect4(PROTO_TCP, 1, 2, 14 + 20 + 40) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv4_udp_header_len_is_l4_offset_plus_8() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[0xaa; 100]))]);
    let parsed = parse(&f).expect("valid frame");
    assert_eq!(parsed.header_len, 42);
    assert_eq!(f.len(), 42 + 100);
}

#[test]
fn ipv4_icmp() {
    for (icmp_type, code) in [(8u8, 0u8), (0, 0), (3, 3), (11, 1)] {
        let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_ICMP, 0, &[], &icmp(icmp_type, code))]);
        let expected = expect4(PROTO_ICMP, u16::from(icmp_type), u16::from(code), 14 + 20 + 8);
        assert_eq!(parse(&f), Ok(expected), "type {icmp_type} code {code}");
    }
}

#[test]
fn ipv4_other_protocol_has_no_ports() {
    // GRE carrying something that would look like ports if it were read.
    let gre = [0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x54];
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_GRE, 0, &[], &gre)]);
    assert_eq!(parse(&f), Ok(expect4(PROTO_GRE, 0, 0, 14 + 20)));
    // Another upper layer with no payload at all.
    let f = frame(&[&eth(ETH_IPV4), &ipv4(132, 0, &[], &[])]);
    assert_eq!(parse(&f), Ok(expect4(132, 0, 0, 14 + 20)));
}

#[test]
fn ipv4_options_shift_l4() {
    for ihl in 6u32..=15 {
        // NOP options: read as a UDP header they would give ports 0x0101.
        let options = vec![1u8; (ihl as usize - 5) * 4];
        let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 0, &options, &udp(123, 124, b"ntp"))]);
        let expected = ParsedPacket { pkt_flags: PKT_IP_OPTIONS, ..expect4(PROTO_UDP, 123, 124, 14 + ihl * 4 + 8) };
        assert_eq!(parse(&f), Ok(expected), "ihl {ihl}");
    }
}

#[test]
fn ipv4_options_cut_before_l4_is_truncated() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_TCP, 0, &[1; 40], &tcp(1, 2, SYN, &[]))]);
    // Keep the fixed header and part of the options only.
    assert_eq!(parse(&f[..14 + 20 + 8]), Err(ParseError::Truncated));
    // The same cut for a protocol without ports is fine: nothing past the IP header is read.
    let g = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_GRE, 0, &[1; 40], &[])]);
    let expected = ParsedPacket { pkt_flags: PKT_IP_OPTIONS, ..expect4(PROTO_GRE, 0, 0, 14 + 60) };
    assert_eq!(parse(&g[..14 + 20 + 8]), Ok(expected));
}

#[test]
fn ipv4_first_fragment_has_ports() {
    // MF set, offset 0; with and without DF noise in the reserved/DF bits.
    for flags_frag in [0x2000u16, 0x6000] {
        let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, flags_frag, &[], &udp(500, 4500, &[0; 64]))]);
        let expected = ParsedPacket { pkt_flags: PKT_FIRST_FRAGMENT, ..expect4(PROTO_UDP, 500, 4500, 14 + 20 + 8) };
        assert_eq!(parse(&f), Ok(expected), "flags_frag {flags_frag:#06x}");
    }
}

#[test]
fn ipv4_dont_fragment_is_not_a_fragment() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 0x4000, &[], &udp(1, 2, &[]))]);
    assert_eq!(parse(&f), Ok(expect4(PROTO_UDP, 1, 2, 42)));
}

#[test]
fn ipv4_non_first_fragment_has_no_ports() {
    // Middle fragment (MF + offset), last fragment (offset only), largest offset.
    for flags_frag in [0x2000u16 | 185, 185, 1, 0x1fff] {
        for protocol in [PROTO_UDP, PROTO_TCP, PROTO_ICMP] {
            // Payload that would parse as ports/flags if the parser looked.
            let payload = [0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0];
            let f = frame(&[&eth(ETH_IPV4), &ipv4(protocol, flags_frag, &[], &payload)]);
            let expected = ParsedPacket { pkt_flags: PKT_FRAGMENT, ..expect4(protocol, 0, 0, 14 + 20) };
            assert_eq!(parse(&f), Ok(expected), "flags_frag {flags_frag:#06x} proto {protocol}");
        }
    }
}

#[test]
fn ipv4_non_first_fragment_with_options() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_UDP, 100, &[1; 8], &[0xff; 16])]);
    let expected = ParsedPacket { pkt_flags: PKT_FRAGMENT | PKT_IP_OPTIONS, ..expect4(PROTO_UDP, 0, 0, 14 + 28) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv4_ihl_below_5_is_bad_header() {
    for ihl in 0u8..5 {
        let mut f = ipv4_udp_frame();
        f[14] = 0x40 | ihl;
        assert_eq!(parse(&f), Err(ParseError::BadHeader), "ihl {ihl}");
    }
}

#[test]
fn ipv4_wrong_version_is_bad_header() {
    for version in [0u8, 1, 5, 6, 7, 15] {
        let mut f = ipv4_udp_frame();
        f[14] = (version << 4) | 5;
        assert_eq!(parse(&f), Err(ParseError::BadHeader), "version {version}");
    }
}

#[test]
fn truncated_ethernet() {
    let f = ipv4_udp_frame();
    for len in 0..14 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
        assert_eq!(parse_ethernet(&f[..len], Some(5)), Err(ParseError::Truncated), "len {len}");
    }
}

#[test]
fn truncated_ipv4_header() {
    let f = ipv4_udp_frame();
    for len in 14..14 + 20 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
}

#[test]
fn truncated_tcp() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_TCP, 0, &[], &tcp(1, 2, SYN, &[]))]);
    for len in 34..34 + 20 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
    assert!(parse(&f[..34 + 20]).is_ok());
}

#[test]
fn tcp_data_offset_below_5_is_bad_header() {
    for doff in 0u8..5 {
        let mut f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_TCP, 0, &[], &tcp(1, 2, SYN, &[]))]);
        f[34 + 12] = doff << 4;
        assert_eq!(parse(&f), Err(ParseError::BadHeader), "doff {doff}");
    }
}

#[test]
fn truncated_udp() {
    let f = ipv4_udp_frame();
    for len in 34..34 + 8 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
    // Exactly the UDP header, no payload: fine.
    assert_eq!(parse(&f[..42]), Ok(expect4(PROTO_UDP, 5353, 53, 42)));
}

#[test]
fn truncated_icmp() {
    let f = frame(&[&eth(ETH_IPV4), &ipv4(PROTO_ICMP, 0, &[], &icmp(8, 0))]);
    for len in 34..34 + 4 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
    // Type and code present: header_len still names the full 8-byte ICMP header.
    assert_eq!(parse(&f[..38]), Ok(expect4(PROTO_ICMP, 8, 0, 42)));
}

// ---------------------------------------------------------------- IPv6

#[test]
fn ipv6_udp() {
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_UDP, &udp(546, 547, b"dhcp"))]);
    assert_eq!(parse(&f), Ok(expect6(PROTO_UDP, 546, 547, 14 + 40 + 8)));
}

#[test]
fn ipv6_tcp() {
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_TCP, &tcp(51000, 22, SYN | ACK, &[]))]);
    let expected = ParsedPacket { tcp_flags: SYN | ACK, ..expect6(PROTO_TCP, 51000, 22, 14 + 40 + 20) };
    assert_eq!(parse(&f), Ok(expected));

    // With 20 bytes of options (doff 10).
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_TCP, &tcp(51000, 22, PSH | ACK, &[1; 20]))]);
    let expected = ParsedPacket { tcp_flags: PSH | ACK, ..expect6(PROTO_TCP, 51000, 22, 14 + 40 + 40) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_icmpv6_echo() {
    for (icmp_type, code) in [(128u8, 0u8), (129, 0), (135, 0), (1, 4)] {
        let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_ICMPV6, &icmp(icmp_type, code))]);
        let expected = expect6(PROTO_ICMPV6, u16::from(icmp_type), u16::from(code), 14 + 40 + 8);
        assert_eq!(parse(&f), Ok(expected), "type {icmp_type}");
    }
}

#[test]
fn ipv6_extension_headers_before_udp() {
    let payload = frame(&[
        &ext6(PROTO_DSTOPTS, 0), // hop-by-hop, 8 bytes
        &ext6(PROTO_ROUTING, 1), // destination options, 16 bytes
        &ext6(PROTO_UDP, 2),     // routing, 24 bytes
        &udp(1000, 2000, b"x"),
    ]);
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_HOPOPTS, &payload)]);
    let expected =
        ParsedPacket { pkt_flags: PKT_IP_OPTIONS, ..expect6(PROTO_UDP, 1000, 2000, 14 + 40 + 8 + 16 + 24 + 8) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_first_fragment_has_ports() {
    let payload = frame(&[&frag6(PROTO_UDP, 0, true), &udp(53, 33000, &[0; 32])]);
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_FRAGMENT, &payload)]);
    let expected = ParsedPacket {
        pkt_flags: PKT_IP_OPTIONS | PKT_FIRST_FRAGMENT,
        ..expect6(PROTO_UDP, 53, 33000, 14 + 40 + 8 + 8)
    };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_atomic_fragment_is_not_a_fragment() {
    // Offset 0 and M clear (RFC 6946): a whole datagram.
    let payload = frame(&[&frag6(PROTO_TCP, 0, false), &tcp(1, 2, ACK, &[])]);
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_FRAGMENT, &payload)]);
    let expected =
        ParsedPacket { tcp_flags: ACK, pkt_flags: PKT_IP_OPTIONS, ..expect6(PROTO_TCP, 1, 2, 14 + 40 + 8 + 20) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_non_first_fragment_has_no_ports() {
    for (offset, more) in [(1u16, true), (100, true), (100, false), (0x1fff, false)] {
        for next in [PROTO_TCP, PROTO_UDP, PROTO_ICMPV6] {
            let payload = frame(&[&frag6(next, offset, more), &[0x11; 24]]);
            let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_FRAGMENT, &payload)]);
            let expected =
                ParsedPacket { pkt_flags: PKT_IP_OPTIONS | PKT_FRAGMENT, ..expect6(next, 0, 0, 14 + 40 + 8) };
            assert_eq!(parse(&f), Ok(expected), "offset {offset} more {more} next {next}");
        }
    }
}

#[test]
fn ipv6_non_first_fragment_after_other_extension_headers() {
    let payload = frame(&[&ext6(PROTO_FRAGMENT, 0), &frag6(PROTO_UDP, 7, true), &[0x22; 16]]);
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_HOPOPTS, &payload)]);
    let expected =
        ParsedPacket { pkt_flags: PKT_IP_OPTIONS | PKT_FRAGMENT, ..expect6(PROTO_UDP, 0, 0, 14 + 40 + 8 + 8) };
    assert_eq!(parse(&f), Ok(expected));
}

fn ipv6_with_dstopts_chain(count: usize) -> Vec<u8> {
    let mut payload = Vec::new();
    for i in 0..count {
        let next = if i + 1 == count { PROTO_UDP } else { PROTO_DSTOPTS };
        payload.extend_from_slice(&ext6(next, 0));
    }
    payload.extend_from_slice(&udp(7, 9, b"x"));
    let first = if count == 0 { PROTO_UDP } else { PROTO_DSTOPTS };
    frame(&[&eth(ETH_IPV6), &ipv6(first, &payload)])
}

#[test]
fn ipv6_six_extension_headers_ok() {
    let f = ipv6_with_dstopts_chain(6);
    let expected = ParsedPacket { pkt_flags: PKT_IP_OPTIONS, ..expect6(PROTO_UDP, 7, 9, 14 + 40 + 6 * 8 + 8) };
    assert_eq!(parse(&f), Ok(expected));

    // Six of mixed kinds, the last a (first) fragment header.
    let payload = frame(&[
        &ext6(PROTO_DSTOPTS, 0),
        &ext6(PROTO_ROUTING, 1),
        &ext6(PROTO_DSTOPTS, 0),
        &ext6(PROTO_ROUTING, 0),
        &ext6(PROTO_FRAGMENT, 0),
        &frag6(PROTO_TCP, 0, true),
        &tcp(80, 8080, SYN, &[]),
    ]);
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_HOPOPTS, &payload)]);
    let expected = ParsedPacket {
        tcp_flags: SYN,
        pkt_flags: PKT_IP_OPTIONS | PKT_FIRST_FRAGMENT,
        ..expect6(PROTO_TCP, 80, 8080, 14 + 40 + 8 + 16 + 8 + 8 + 8 + 8 + 20)
    };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_seven_extension_headers_too_deep() {
    assert_eq!(parse(&ipv6_with_dstopts_chain(7)), Err(ParseError::TooDeep));
    assert_eq!(parse(&ipv6_with_dstopts_chain(12)), Err(ParseError::TooDeep));
    // Seven ending in "no next header" is just as deep.
    let mut payload = Vec::new();
    for i in 0..7 {
        payload.extend_from_slice(&ext6(if i == 6 { PROTO_NONE } else { PROTO_ROUTING }, 0));
    }
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_ROUTING, &payload)]);
    assert_eq!(parse(&f), Err(ParseError::TooDeep));
}

#[test]
fn ipv6_truncated_extension_header() {
    // Next header says hop-by-hop, the frame ends right after the IPv6 header.
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_HOPOPTS, &[])]);
    assert_eq!(parse(&f), Err(ParseError::Truncated));
    // The first 4 bytes of an extension header are needed.
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_DSTOPTS, &ext6(PROTO_UDP, 0)[..3])]);
    assert_eq!(parse(&f), Err(ParseError::Truncated));
    // A length field pointing past the end of the frame.
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_DSTOPTS, &ext6(PROTO_UDP, 200)[..16])]);
    assert_eq!(parse(&f), Err(ParseError::Truncated));
    // Every cut of a valid chain before the UDP header ends.
    let f = ipv6_with_dstopts_chain(3);
    for len in 54..f.len() - 1 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
}

#[test]
fn ipv6_no_next_header() {
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_NONE, &[0xab; 12])]);
    assert_eq!(parse(&f), Ok(expect6(PROTO_NONE, 0, 0, 14 + 40)));
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_HOPOPTS, &ext6(PROTO_NONE, 0))]);
    let expected = ParsedPacket { pkt_flags: PKT_IP_OPTIONS, ..expect6(PROTO_NONE, 0, 0, 14 + 48) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn ipv6_wrong_version_is_bad_header() {
    for version in [0u8, 4, 7, 15] {
        let mut f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_UDP, &udp(1, 2, &[]))]);
        f[14] = version << 4;
        assert_eq!(parse(&f), Err(ParseError::BadHeader), "version {version}");
    }
}

#[test]
fn truncated_ipv6_header() {
    let f = frame(&[&eth(ETH_IPV6), &ipv6(PROTO_UDP, &udp(1, 2, &[]))]);
    for len in 14..14 + 40 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
    for len in 54..62 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
}

// ---------------------------------------------------------------- VLAN

#[test]
fn single_8021q_tag() {
    // PCP 5, DEI 1, VID 100: only the VID is kept.
    let tci = (5 << 13) | (1 << 12) | 100;
    let f = frame(&[&eth_tagged(&[(TPID_8021Q, tci)], ETH_IPV4), &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[]))]);
    let expected = ParsedPacket { vlan_id: 100, ..expect4(PROTO_UDP, 1, 2, 18 + 20 + 8) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn single_tag_ipv6() {
    let f = frame(&[&eth_tagged(&[(TPID_8021Q, 0x0fff)], ETH_IPV6), &ipv6(PROTO_TCP, &tcp(1, 2, RST, &[]))]);
    let expected = ParsedPacket { vlan_id: 4095, tcp_flags: RST, ..expect6(PROTO_TCP, 1, 2, 18 + 40 + 20) };
    assert_eq!(parse(&f), Ok(expected));
}

#[test]
fn qinq_8021ad_then_8021q() {
    for outer_tpid in [TPID_8021AD, TPID_LEGACY, TPID_8021Q] {
        let f = frame(&[
            &eth_tagged(&[(outer_tpid, 0xe000 | 200), (TPID_8021Q, 0x2000 | 300)], ETH_IPV4),
            &ipv4(PROTO_TCP, 0, &[], &tcp(1, 2, SYN, &[])),
        ]);
        let expected = ParsedPacket {
            vlan_id: 200,
            inner_vlan_id: 300,
            tcp_flags: SYN,
            pkt_flags: PKT_QINQ,
            ..expect4(PROTO_TCP, 1, 2, 22 + 20 + 20)
        };
        assert_eq!(parse(&f), Ok(expected), "outer tpid {outer_tpid:#06x}");
    }
}

#[test]
fn three_tags_too_deep() {
    let f = frame(&[
        &eth_tagged(&[(TPID_8021AD, 1), (TPID_8021Q, 2), (TPID_8021Q, 3)], ETH_IPV4),
        &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[])),
    ]);
    assert_eq!(parse(&f), Err(ParseError::TooDeep));
}

#[test]
fn truncated_vlan_tag() {
    let f = frame(&[
        &eth_tagged(&[(TPID_8021AD, 1), (TPID_8021Q, 2)], ETH_IPV4),
        &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[])),
    ]);
    for len in 14..22 {
        assert_eq!(parse(&f[..len]), Err(ParseError::Truncated), "len {len}");
    }
}

#[test]
fn metadata_vlan_untagged_frame() {
    // Priority bits set in the metadata TCI must be masked off.
    let tci: u16 = (7 << 13) | (1 << 12) | 0x00a;
    let f = ipv4_udp_frame();
    let expected = ParsedPacket { vlan_id: 0x00a, ..expect4(PROTO_UDP, 5353, 53, 42) };
    assert_eq!(parse_ethernet(&f[..], Some(tci)), Ok(expected));
    // A metadata tag with VID 0 (priority-only) leaves the key untagged.
    assert_eq!(parse_ethernet(&f[..], Some(0xe000)), Ok(expect4(PROTO_UDP, 5353, 53, 42)));
}

#[test]
fn metadata_vlan_plus_frame_tag_is_qinq() {
    let f = frame(&[&eth_tagged(&[(TPID_8021Q, 0x3000 | 42)], ETH_IPV4), &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[]))]);
    let expected =
        ParsedPacket { vlan_id: 10, inner_vlan_id: 42, pkt_flags: PKT_QINQ, ..expect4(PROTO_UDP, 1, 2, 18 + 20 + 8) };
    assert_eq!(parse_ethernet(&f[..], Some(0x8000 | 10)), Ok(expected));
}

#[test]
fn metadata_vlan_plus_two_frame_tags_too_deep() {
    let f = frame(&[
        &eth_tagged(&[(TPID_8021AD, 1), (TPID_8021Q, 2)], ETH_IPV4),
        &ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[])),
    ]);
    assert_eq!(parse_ethernet(&f[..], Some(10)), Err(ParseError::TooDeep));
}

// ---------------------------------------------------------------- non-IP

#[test]
fn arp_is_non_ip() {
    let arp =
        [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2];
    let f = frame(&[&eth(ETH_ARP), &arp]);
    assert_eq!(parse(&f), Err(ParseError::NonIp));
    assert_eq!(parse_ethernet(&f[..], Some(5)), Err(ParseError::NonIp));
    // Tagged ARP too.
    let f = frame(&[&eth_tagged(&[(TPID_8021Q, 5)], ETH_ARP), &arp]);
    assert_eq!(parse(&f), Err(ParseError::NonIp));
}

#[test]
fn ieee_8023_length_field_is_non_ip() {
    // 802.3 + LLC (STP BPDU); an 802.3 length that happens to look like nothing else.
    for length in [0x0026u16, 0x0000, 0x05dc, 0x05ff] {
        let f = frame(&[&eth(length), &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0], &[0u8; 30]]);
        assert_eq!(parse(&f), Err(ParseError::NonIp), "length {length:#06x}");
    }
    // LLDP and IPX-ish ethertypes, and a frame with nothing after the header.
    for ethertype in [0x88ccu16, 0x8137, 0x0801, 0x86de] {
        assert_eq!(parse(&eth(ethertype)), Err(ParseError::NonIp), "ethertype {ethertype:#06x}");
    }
}

// ---------------------------------------------------------------- raw IP

#[test]
fn parse_ip_raw_ipv4() {
    let p = ipv4(PROTO_UDP, 0, &[], &udp(68, 67, b"bootp"));
    assert_eq!(parse_ip(&p[..]), Ok(expect4(PROTO_UDP, 68, 67, 28)));
    let p = ipv4(PROTO_TCP, 0, &[1; 4], &tcp(5, 6, FIN | ACK, &[1; 12]));
    let expected =
        ParsedPacket { tcp_flags: FIN | ACK, pkt_flags: PKT_IP_OPTIONS, ..expect4(PROTO_TCP, 5, 6, 24 + 32) };
    assert_eq!(parse_ip(&p[..]), Ok(expected));
}

#[test]
fn parse_ip_raw_ipv6() {
    let p = ipv6(PROTO_TCP, &tcp(443, 50000, ACK, &[]));
    let expected = ParsedPacket { tcp_flags: ACK, ..expect6(PROTO_TCP, 443, 50000, 60) };
    assert_eq!(parse_ip(&p[..]), Ok(expected));
    let p = ipv6(PROTO_FRAGMENT, &frag6(PROTO_UDP, 3, false));
    let expected = ParsedPacket { pkt_flags: PKT_FRAGMENT | PKT_IP_OPTIONS, ..expect6(PROTO_UDP, 0, 0, 48) };
    assert_eq!(parse_ip(&p[..]), Ok(expected));
}

#[test]
fn parse_ip_bad_version_nibble() {
    let mut p = ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[]));
    for nibble in [0u8, 1, 5, 7, 8, 15] {
        p[0] = (nibble << 4) | 5;
        assert_eq!(parse_ip(&p[..]), Err(ParseError::BadHeader), "nibble {nibble}");
    }
}

#[test]
fn parse_ip_truncated() {
    let empty: &[u8] = &[];
    assert_eq!(parse_ip(empty), Err(ParseError::Truncated));
    let p = ipv4(PROTO_UDP, 0, &[], &udp(1, 2, &[]));
    for len in 1..20 {
        assert_eq!(parse_ip(&p[..len]), Err(ParseError::Truncated), "len {len}");
    }
    let p = ipv6(PROTO_UDP, &udp(1, 2, &[]));
    for len in 1..40 {
        assert_eq!(parse_ip(&p[..len]), Err(ParseError::Truncated), "len {len}");
    }
}

// ---------------------------------------------------------------- flow key

#[test]
fn flow_key_copies_every_field() {
    let f = frame(&[
        &eth_tagged(&[(TPID_8021AD, 11), (TPID_8021Q, 22)], ETH_IPV4),
        &ipv4(PROTO_TCP, 0, &[], &tcp(1111, 2222, SYN, &[])),
    ]);
    let key = parse(&f).expect("valid frame").flow_key(7, DIRECTION_EGRESS);
    assert_eq!(
        key,
        FlowKey {
            src_addr: SRC4_MAPPED,
            dst_addr: DST4_MAPPED,
            src_port: 1111,
            dst_port: 2222,
            ifindex: 7,
            vlan_id: 11,
            inner_vlan_id: 22,
            protocol: PROTO_TCP,
            direction: DIRECTION_EGRESS,
            generation: 0,
            _pad: 0,
        }
    );
}
