//! Small frame builders shared by the parser tests. Every header is written
//! byte by byte so malformed variants are easy to make by patching bytes.
#![allow(dead_code, reason = "each test crate uses a different subset of the builders")]

use agent_common::parse::ParsedPacket;

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86dd;
pub const ETH_ARP: u16 = 0x0806;
pub const TPID_8021Q: u16 = 0x8100;
pub const TPID_8021AD: u16 = 0x88a8;
pub const TPID_LEGACY: u16 = 0x9100;

pub const PROTO_HOPOPTS: u8 = 0;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_NONE: u8 = 59;
pub const PROTO_DSTOPTS: u8 = 60;

pub const SRC4: [u8; 4] = [192, 0, 2, 1];
pub const DST4: [u8; 4] = [198, 51, 100, 7];
/// `SRC4` / `DST4` as IPv4-mapped IPv6, written out rather than computed.
pub const SRC4_MAPPED: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
pub const DST4_MAPPED: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7];
/// 2001:db8::1 and 2001:db8:0:1::2
pub const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];

/// Untagged Ethernet header.
pub fn eth(ethertype: u16) -> Vec<u8> {
    eth_tagged(&[], ethertype)
}

/// Ethernet header with in-frame VLAN tags `(tpid, tci)`, outermost first.
pub fn eth_tagged(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
    let mut out = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    for &(tpid, tci) in tags {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&tci.to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    out
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPv4 header (IHL from `options`, which must be a multiple of 4 bytes)
/// followed by `payload`. `flags_frag` is bytes 6–7: DF 0x4000, MF 0x2000,
/// offset in 8-byte units in the low 13 bits.
pub fn ipv4(protocol: u8, flags_frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && options.len() <= 40, "bad IPv4 options length");
    let header_len = 20 + options.len();
    let total = u16::try_from(header_len + payload.len()).expect("IPv4 packet too long");
    let mut hdr = vec![0x40 | (header_len / 4) as u8, 0];
    hdr.extend_from_slice(&total.to_be_bytes());
    hdr.extend_from_slice(&0x1234u16.to_be_bytes());
    hdr.extend_from_slice(&flags_frag.to_be_bytes());
    hdr.extend_from_slice(&[64, protocol, 0, 0]);
    hdr.extend_from_slice(&SRC4);
    hdr.extend_from_slice(&DST4);
    hdr.extend_from_slice(options);
    let sum = checksum(&hdr);
    hdr[10..12].copy_from_slice(&sum.to_be_bytes());
    hdr.extend_from_slice(payload);
    hdr
}

/// IPv6 header followed by `payload` (extension headers and upper layer).
pub fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("IPv6 payload too long");
    let mut hdr = vec![0x60, 0x00, 0x00, 0x00];
    hdr.extend_from_slice(&len.to_be_bytes());
    hdr.extend_from_slice(&[next, 64]);
    hdr.extend_from_slice(&SRC6);
    hdr.extend_from_slice(&DST6);
    hdr.extend_from_slice(payload);
    hdr
}

/// Generic IPv6 extension header (hop-by-hop, routing, destination options)
/// of `(hdr_ext_len + 1) * 8` bytes, filled with one PadN option.
pub fn ext6(next: u8, hdr_ext_len: u8) -> Vec<u8> {
    let len = (usize::from(hdr_ext_len) + 1) * 8;
    let mut out = vec![0u8; len];
    out[0] = next;
    out[1] = hdr_ext_len;
    out[2] = 1; // PadN
    out[3] = (len - 4) as u8;
    out
}

/// IPv6 fragment header; `offset` in 8-byte units.
pub fn frag6(next: u8, offset: u16, more: bool) -> Vec<u8> {
    assert!(offset < 0x2000, "fragment offset is 13 bits");
    let field = (offset << 3) | u16::from(more);
    let mut out = vec![next, 0];
    out.extend_from_slice(&field.to_be_bytes());
    out.extend_from_slice(&0xdead_beefu32.to_be_bytes());
    out
}

/// TCP header with `options` (a multiple of 4 bytes; data offset follows).
pub fn tcp(sport: u16, dport: u16, flags: u8, options: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && options.len() <= 40, "bad TCP options length");
    let doff = (20 + options.len()) / 4;
    let mut out = Vec::new();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&1000u32.to_be_bytes());
    out.extend_from_slice(&2000u32.to_be_bytes());
    out.extend_from_slice(&[(doff as u8) << 4, flags]);
    out.extend_from_slice(&65535u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(options);
    out
}

/// UDP header followed by `payload`.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP datagram too long");
    let mut out = Vec::new();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

/// ICMP / ICMPv6 header (type, code, checksum, identifier, sequence).
pub fn icmp(icmp_type: u8, code: u8) -> Vec<u8> {
    vec![icmp_type, code, 0, 0, 0x12, 0x34, 0x00, 0x01]
}

/// Concatenates header pieces into one frame.
pub fn frame(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Expected result for an IPv4 packet between `SRC4` and `DST4`.
pub fn expect4(protocol: u8, src_port: u16, dst_port: u16, header_len: u32) -> ParsedPacket {
    ParsedPacket {
        src_addr: SRC4_MAPPED,
        dst_addr: DST4_MAPPED,
        src_port,
        dst_port,
        protocol,
        vlan_id: 0,
        inner_vlan_id: 0,
        tcp_flags: 0,
        pkt_flags: 0,
        header_len,
    }
}

/// Expected result for an IPv6 packet between `SRC6` and `DST6`.
pub fn expect6(protocol: u8, src_port: u16, dst_port: u16, header_len: u32) -> ParsedPacket {
    ParsedPacket { src_addr: SRC6, dst_addr: DST6, ..expect4(protocol, src_port, dst_port, header_len) }
}
