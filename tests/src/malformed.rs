//! Frames the agent's parser must refuse, one kind per counter it bumps.
//!
//! A frame shorter than an Ethernet header cannot be injected: the kernel's
//! AF_PACKET send path refuses frames below the device's minimum header
//! length (`dev_validate_header`), and veth would drop it anyway. So the
//! "truncated Ethernet" case is a frame cut inside its VLAN tag.

use crate::frames::{self, Mac, VlanTag};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Ethertype 0x8100 followed by only 2 of the tag's 4 bytes.
    TruncatedVlanTag,
    /// Ethertype IPv4 followed by 10 bytes of a 20-byte header.
    TruncatedIpv4Header,
    /// A full IPv4 header (protocol TCP) followed by 10 bytes of a 20-byte TCP header.
    TruncatedTcpHeader,
    /// IPv4 with IHL 4 (16 bytes), impossible: minimum is 5.
    Ipv4IhlBelow5,
    /// IPv6 with a chain of 8 Destination Options headers before UDP.
    Ipv6EightExtHeaders,
}

/// Which `malformed_*` stats field each kind must land in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Truncated,
    Header,
    TooDeep,
}

/// Who a malformed frame claims to be from and to.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    pub dst_mac: Mac,
    pub src_mac: Mac,
    pub src_v4: Ipv4Addr,
    pub dst_v4: Ipv4Addr,
    pub src_v6: Ipv6Addr,
    pub dst_v6: Ipv6Addr,
}

impl Malformed {
    pub const ALL: [Malformed; 5] = [
        Malformed::TruncatedVlanTag,
        Malformed::TruncatedIpv4Header,
        Malformed::TruncatedTcpHeader,
        Malformed::Ipv4IhlBelow5,
        Malformed::Ipv6EightExtHeaders,
    ];

    pub fn counter(self) -> Counter {
        match self {
            Malformed::TruncatedVlanTag | Malformed::TruncatedIpv4Header | Malformed::TruncatedTcpHeader => {
                Counter::Truncated
            }
            Malformed::Ipv4IhlBelow5 => Counter::Header,
            Malformed::Ipv6EightExtHeaders => Counter::TooDeep,
        }
    }

    pub fn frame(self, ep: &Endpoints) -> Vec<u8> {
        match self {
            Malformed::TruncatedVlanTag => {
                let mut f = frames::ethernet(ep.dst_mac, ep.src_mac, &[], frames::TPID_8021Q, &[]);
                f.extend_from_slice(&[0x00, 0x64]);
                f
            }
            Malformed::TruncatedIpv4Header => {
                let ip = frames::ipv4(ep.src_v4, ep.dst_v4, frames::PROTO_UDP, &[]);
                frames::ethernet(ep.dst_mac, ep.src_mac, &[], frames::ETHERTYPE_IPV4, &ip[..10])
            }
            Malformed::TruncatedTcpHeader => {
                // Total length claims a full 20-byte TCP header; only 10 bytes follow.
                let mut ip = frames::ipv4(ep.src_v4, ep.dst_v4, frames::PROTO_TCP, &[0; 20]);
                ip.truncate(frames::IPV4_HEADER_LEN + 10);
                frames::ethernet(ep.dst_mac, ep.src_mac, &[], frames::ETHERTYPE_IPV4, &ip)
            }
            Malformed::Ipv4IhlBelow5 => {
                let src = SocketAddr::new(ep.src_v4.into(), 4444);
                let dst = SocketAddr::new(ep.dst_v4.into(), 4445);
                let mut ip = frames::ipv4(ep.src_v4, ep.dst_v4, frames::PROTO_UDP, &frames::udp(src, dst, &[0; 16]));
                ip[0] = 0x44;
                frames::ethernet(ep.dst_mac, ep.src_mac, &[], frames::ETHERTYPE_IPV4, &ip)
            }
            Malformed::Ipv6EightExtHeaders => {
                let src = SocketAddr::new(ep.src_v6.into(), 4444);
                let dst = SocketAddr::new(ep.dst_v6.into(), 4445);
                let (first, chain) = frames::ipv6_dstopts_chain(8, frames::PROTO_UDP, &frames::udp(src, dst, &[0; 16]));
                frames::ethernet(
                    ep.dst_mac,
                    ep.src_mac,
                    &[] as &[VlanTag],
                    frames::ETHERTYPE_IPV6,
                    &frames::ipv6(ep.src_v6, ep.dst_v6, first, &chain),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Endpoints {
        Endpoints {
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_mac: [2, 0, 0, 0, 0, 2],
            src_v4: Ipv4Addr::new(10, 0, 0, 2),
            dst_v4: Ipv4Addr::new(10, 0, 0, 1),
            src_v6: "fd00::2".parse().expect("v6"),
            dst_v6: "fd00::1".parse().expect("v6"),
        }
    }

    #[test]
    fn lengths_are_as_documented() {
        let e = ep();
        assert_eq!(Malformed::TruncatedVlanTag.frame(&e).len(), 16);
        assert_eq!(Malformed::TruncatedIpv4Header.frame(&e).len(), 24);
        assert_eq!(Malformed::TruncatedTcpHeader.frame(&e).len(), 44);
        let ihl = Malformed::Ipv4IhlBelow5.frame(&e);
        assert_eq!(ihl[14], 0x44);
        assert_eq!(Malformed::Ipv6EightExtHeaders.frame(&e).len(), 14 + 40 + 64 + 8 + 16);
    }

    #[test]
    fn independent_parser_rejects_the_broken_and_walks_the_deep_chain() {
        let e = ep();
        for kind in Malformed::ALL {
            let parsed = crate::packet::parse_frame(&kind.frame(&e));
            if kind == Malformed::Ipv6EightExtHeaders {
                // Legal IPv6, only deeper than the agent walks.
                let key = parsed.expect("8 extension headers are legal IPv6");
                assert_eq!((key.proto, key.src_port, key.dst_port), (17, 4444, 4445));
            } else {
                assert_eq!(parsed, None, "{kind:?}");
            }
        }
    }
}
