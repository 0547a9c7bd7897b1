//! A small, independent header parser for the pcap ground truth. It shares
//! no code with the agent's parser on purpose: the tests compare the two.

use crate::key::FlowKey;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv6 extension headers walked before giving up (far more than legal traffic uses).
const MAX_EXT_HEADERS: usize = 16;

/// The flow key of an Ethernet frame, or `None` for non-IP or broken frames.
/// Handles up to two VLAN tags (0x8100, 0x88a8, 0x9100) and IPv6
/// hop-by-hop/routing/destination-options/fragment headers.
pub fn parse_frame(f: &[u8]) -> Option<FlowKey> {
    let mut ethertype = be16(f, 12)?;
    let mut off = 14;
    let mut tags = Vec::new();
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) && tags.len() < 2 {
        tags.push(be16(f, off)? & 0x0fff);
        ethertype = be16(f, off + 2)?;
        off += 4;
    }
    let (src_ip, dst_ip, proto, l4) = match ethertype {
        0x0800 => {
            let h = f.get(off..off + 20)?;
            let ihl = usize::from(h[0] & 0x0f);
            if h[0] >> 4 != 4 || ihl < 5 {
                return None;
            }
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
            let non_first_fragment = be16(h, 6)? & 0x1fff != 0;
            let l4 = if non_first_fragment { None } else { Some(off + ihl * 4) };
            (IpAddr::V4(src), IpAddr::V4(dst), h[9], l4)
        }
        0x86dd => {
            let h = f.get(off..off + 40)?;
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&h[8..24]).ok()?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&h[24..40]).ok()?);
            let mut next = h[6];
            let mut l4 = Some(off + 40);
            for _ in 0..MAX_EXT_HEADERS {
                let Some(at) = l4 else { break };
                match next {
                    0 | 43 | 60 => {
                        next = *f.get(at)?;
                        l4 = Some(at + (usize::from(*f.get(at + 1)?) + 1) * 8);
                    }
                    44 => {
                        next = *f.get(at)?;
                        l4 = if be16(f, at + 2)? & 0xfff8 != 0 { None } else { Some(at + 8) };
                    }
                    _ => break,
                }
            }
            if matches!(next, 0 | 43 | 60 | 44) {
                return None;
            }
            (IpAddr::V6(src), IpAddr::V6(dst), next, l4)
        }
        _ => return None,
    };
    let (src_port, dst_port) = match (proto, l4) {
        (6 | 17, Some(at)) => {
            let need = if proto == 6 { 20 } else { 8 };
            f.get(at..at + need)?;
            if proto == 6 && f[at + 12] >> 4 < 5 {
                return None;
            }
            (be16(f, at)?, be16(f, at + 2)?)
        }
        (1 | 58, Some(at)) => (u16::from(*f.get(at)?), u16::from(*f.get(at + 1)?)),
        _ => (0, 0),
    };
    Some(FlowKey {
        src_ip,
        src_port,
        dst_ip,
        dst_port,
        proto,
        vlan: tags.first().copied().unwrap_or(0),
        inner_vlan: tags.get(1).copied().unwrap_or(0),
    })
}

fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{self, TPID_8021AD, TPID_8021Q, VlanTag};
    use std::net::SocketAddr;

    #[test]
    fn parses_plain_tagged_and_double_tagged_udp() {
        let src: SocketAddr = "10.1.1.2:4000".parse().expect("addr");
        let dst: SocketAddr = "10.1.1.1:4001".parse().expect("addr");
        let plain = frames::udp_frame([1; 6], [2; 6], &[], src, dst, 10);
        assert_eq!(parse_frame(&plain), Some(FlowKey::udp(src, dst)));
        let one = frames::udp_frame([1; 6], [2; 6], &[VlanTag { tpid: TPID_8021Q, vid: 100 }], src, dst, 10);
        assert_eq!(parse_frame(&one), Some(FlowKey::udp(src, dst).with_vlan(100, 0)));
        let two = frames::udp_frame(
            [1; 6],
            [2; 6],
            &[VlanTag { tpid: TPID_8021AD, vid: 200 }, VlanTag { tpid: TPID_8021Q, vid: 300 }],
            src,
            dst,
            10,
        );
        assert_eq!(parse_frame(&two), Some(FlowKey::udp(src, dst).with_vlan(200, 300)));
    }

    #[test]
    fn parses_ipv6_udp() {
        let src: SocketAddr = "[fd00::2]:4000".parse().expect("addr");
        let dst: SocketAddr = "[fd00::1]:4001".parse().expect("addr");
        let f = frames::udp_frame([1; 6], [2; 6], &[], src, dst, 3);
        assert_eq!(parse_frame(&f), Some(FlowKey::udp(src, dst)));
    }

    #[test]
    fn non_ip_is_none() {
        let arp = frames::ethernet([0xff; 6], [2; 6], &[], 0x0806, &[0; 28]);
        assert_eq!(parse_frame(&arp), None);
    }
}
