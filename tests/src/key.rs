//! The flow key the tests compare on: what the agent's records carry and
//! what the pcap ground truth computes.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// (src ip, src port, dst ip, dst port, protocol, vlan, inner vlan).
/// For ICMP/ICMPv6 the ports are type (src) and code (dst).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub proto: u8,
    pub vlan: u16,
    pub inner_vlan: u16,
}

impl FlowKey {
    pub fn new(src: SocketAddr, dst: SocketAddr, proto: u8) -> Self {
        FlowKey {
            src_ip: src.ip(),
            src_port: src.port(),
            dst_ip: dst.ip(),
            dst_port: dst.port(),
            proto,
            vlan: 0,
            inner_vlan: 0,
        }
    }

    pub fn udp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self::new(src, dst, PROTO_UDP)
    }

    pub fn tcp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self::new(src, dst, PROTO_TCP)
    }

    /// An ICMP (IPv4) or ICMPv6 (IPv6) key, chosen by the address family.
    pub fn icmp(src: IpAddr, dst: IpAddr, icmp_type: u8, code: u8) -> Self {
        let proto = if src.is_ipv4() { PROTO_ICMP } else { PROTO_ICMPV6 };
        Self::new(SocketAddr::new(src, icmp_type.into()), SocketAddr::new(dst, code.into()), proto)
    }

    pub fn with_vlan(mut self, vlan: u16, inner_vlan: u16) -> Self {
        self.vlan = vlan;
        self.inner_vlan = inner_vlan;
        self
    }

    /// The same conversation seen from the other side.
    pub fn reversed(&self) -> Self {
        FlowKey { src_ip: self.dst_ip, src_port: self.dst_port, dst_ip: self.src_ip, dst_port: self.src_port, ..*self }
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "proto {} {} -> {} vlan {}/{}",
            self.proto,
            SocketAddr::new(self.src_ip, self.src_port),
            SocketAddr::new(self.dst_ip, self.dst_port),
            self.vlan,
            self.inner_vlan
        )
    }
}
