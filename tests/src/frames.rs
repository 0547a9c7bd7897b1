//! Building Ethernet frames byte by byte, for raw injection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub type Mac = [u8; 6];

pub const ETH_HEADER_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;
pub const IPV4_HEADER_LEN: usize = 20;
pub const IPV6_HEADER_LEN: usize = 40;
pub const UDP_HEADER_LEN: usize = 8;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad service (outer QinQ) tag.
pub const TPID_8021AD: u16 = 0x88a8;

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_DSTOPTS: u8 = 60;

/// One VLAN tag as it appears in the frame: TPID then TCI (PCP 0, DEI 0).
#[derive(Clone, Copy, Debug)]
pub struct VlanTag {
    pub tpid: u16,
    pub vid: u16,
}

/// dst MAC, src MAC, the tags in order (outer first), ethertype, payload.
pub fn ethernet(dst: Mac, src: Mac, tags: &[VlanTag], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_HEADER_LEN + tags.len() * VLAN_TAG_LEN + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for tag in tags {
        f.extend_from_slice(&tag.tpid.to_be_bytes());
        f.extend_from_slice(&(tag.vid & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 =
        data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header (IHL 5, TTL 64, DF, valid checksum) followed by `payload`.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (IPV4_HEADER_LEN + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 header (hop limit 64) followed by `payload`, whose first header is `next_header`.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.push(next_header);
    h.push(64);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// A UDP header with a valid checksum over the pseudo-header, then `payload`.
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let len = (UDP_HEADER_LEN + payload.len()) as u16;
    let mut d = Vec::with_capacity(len as usize);
    d.extend_from_slice(&src.port().to_be_bytes());
    d.extend_from_slice(&dst.port().to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(40 + d.len());
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(t)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&t.octets());
            pseudo.extend_from_slice(&[0, PROTO_UDP]);
            pseudo.extend_from_slice(&len.to_be_bytes());
        }
        (s, t) => {
            pseudo.extend_from_slice(&to_v6(s).octets());
            pseudo.extend_from_slice(&to_v6(t).octets());
            pseudo.extend_from_slice(&u32::from(len).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, PROTO_UDP]);
        }
    }
    pseudo.extend_from_slice(&d);
    let sum = match checksum(&pseudo) {
        0 => 0xffff,
        s => s,
    };
    d[6..8].copy_from_slice(&sum.to_be_bytes());
    d
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// A complete Ethernet frame carrying one UDP datagram of `payload_len`
/// bytes from `src` to `dst` (same address family), behind `tags`.
///
/// # Panics
/// When `src` and `dst` are of different address families.
pub fn udp_frame(
    dst_mac: Mac,
    src_mac: Mac,
    tags: &[VlanTag],
    src: SocketAddr,
    dst: SocketAddr,
    payload_len: usize,
) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let datagram = udp(src, dst, &payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ethernet(dst_mac, src_mac, tags, ETHERTYPE_IPV4, &ipv4(s, d, PROTO_UDP, &datagram))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ethernet(dst_mac, src_mac, tags, ETHERTYPE_IPV6, &ipv6(s, d, PROTO_UDP, &datagram))
        }
        _ => panic!("udp_frame: {src} and {dst} are of different address families"),
    }
}

/// `count` IPv6 Destination Options headers (8 bytes each, PadN only)
/// chained in front of `payload`, whose protocol is `last_next_header`.
/// Returns the next-header value for the IPv6 header and the bytes.
pub fn ipv6_dstopts_chain(count: usize, last_next_header: u8, payload: &[u8]) -> (u8, Vec<u8>) {
    let mut out = Vec::with_capacity(count * 8 + payload.len());
    for i in 0..count {
        let next = if i + 1 == count { last_next_header } else { PROTO_DSTOPTS };
        // next header, hdr ext len 0 (= 8 bytes), PadN option of 4 data bytes.
        out.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    out.extend_from_slice(payload);
    (if count == 0 { last_next_header } else { PROTO_DSTOPTS }, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ipv4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), PROTO_UDP, &[1, 2, 3]);
        assert_eq!(p.len(), 23);
        assert_eq!(checksum(&p[..IPV4_HEADER_LEN]), 0, "a valid header sums to 0xffff");
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 23);
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is ddf2, checksum 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn tagged_udp_frame_has_expected_length_and_layout() {
        let src: SocketAddr = "10.1.1.2:4000".parse().expect("addr");
        let dst: SocketAddr = "10.1.1.1:4001".parse().expect("addr");
        let tags = [VlanTag { tpid: TPID_8021AD, vid: 200 }, VlanTag { tpid: TPID_8021Q, vid: 300 }];
        let f = udp_frame([1; 6], [2; 6], &tags, src, dst, 64);
        assert_eq!(f.len(), 14 + 8 + 20 + 8 + 64);
        assert_eq!(&f[12..14], &[0x88, 0xa8]);
        assert_eq!(&f[14..16], &200u16.to_be_bytes());
        assert_eq!(&f[16..18], &[0x81, 0x00]);
        assert_eq!(&f[18..20], &300u16.to_be_bytes());
        assert_eq!(&f[20..22], &[0x08, 0x00]);
    }

    #[test]
    fn udp_v6_checksum_verifies_over_pseudo_header() {
        let src: SocketAddr = "[fd00::2]:5000".parse().expect("addr");
        let dst: SocketAddr = "[fd00::1]:5001".parse().expect("addr");
        let d = udp(src, dst, &[9; 11]);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&to_v6(src.ip()).octets());
        pseudo.extend_from_slice(&to_v6(dst.ip()).octets());
        pseudo.extend_from_slice(&(d.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, PROTO_UDP]);
        pseudo.extend_from_slice(&d);
        assert_eq!(checksum(&pseudo), 0);
    }

    #[test]
    fn dstopts_chain_links_headers() {
        let (first, bytes) = ipv6_dstopts_chain(3, PROTO_UDP, &[0xaa]);
        assert_eq!(first, PROTO_DSTOPTS);
        assert_eq!(bytes.len(), 25);
        assert_eq!(bytes[0], PROTO_DSTOPTS);
        assert_eq!(bytes[8], PROTO_DSTOPTS);
        assert_eq!(bytes[16], PROTO_UDP);
    }
}
