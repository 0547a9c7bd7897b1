//! Two namespaces joined by a veth pair: the world one test runs in.

use crate::key::FlowKey;
use crate::malformed::Endpoints;
use crate::netns::NetNs;
use crate::traffic;
use crate::veth::VethPair;
use anyhow::Result;
use std::net::{IpAddr, SocketAddr};

/// Namespace `a` (where the agent runs, on `veth.a_if`) and namespace `b`
/// (the remote peer). Fields drop in declaration order: the veth first,
/// then the namespaces.
#[derive(Debug)]
pub struct Lab {
    pub veth: VethPair,
    pub a: NetNs,
    pub b: NetNs,
}

impl Lab {
    pub fn new() -> Result<Self> {
        let a = NetNs::new()?;
        let b = NetNs::new()?;
        let veth = VethPair::new(&a, &b)?;
        Ok(Lab { veth, a, b })
    }

    /// The agent's side, IPv4 or IPv6.
    pub fn a_ip(&self, v6: bool) -> IpAddr {
        if v6 { self.veth.a_v6.into() } else { self.veth.a_v4.into() }
    }

    /// The remote side, IPv4 or IPv6.
    pub fn b_ip(&self, v6: bool) -> IpAddr {
        if v6 { self.veth.b_v6.into() } else { self.veth.b_v4.into() }
    }

    pub fn a_addr(&self, v6: bool, port: u16) -> SocketAddr {
        SocketAddr::new(self.a_ip(v6), port)
    }

    pub fn b_addr(&self, v6: bool, port: u16) -> SocketAddr {
        SocketAddr::new(self.b_ip(v6), port)
    }

    /// Addresses for hand-built frames sent from `b` to `a`.
    pub fn endpoints_b_to_a(&self) -> Endpoints {
        Endpoints {
            dst_mac: self.veth.a_mac,
            src_mac: self.veth.b_mac,
            src_v4: self.veth.b_v4,
            dst_v4: self.veth.a_v4,
            src_v6: self.veth.b_v6,
            dst_v6: self.veth.a_v6,
        }
    }

    /// Sends one 1-byte datagram from `b` to `a` through the normal stack
    /// and waits until `a` receives it. A veth pair keeps frames in order,
    /// so afterwards every frame sent from `b` before it (raw frames the
    /// receiving kernel silently drops included) has been through `a`'s
    /// ingress hook. Returns the datagram's flow key.
    pub fn barrier(&self) -> Result<FlowKey> {
        let rx = traffic::udp_socket(&self.a, self.a_addr(false, 0))?;
        let tx = traffic::udp_socket(&self.b, self.b_addr(false, 0))?;
        traffic::udp_send(&tx, rx.local_addr()?, 1, 1)?;
        traffic::udp_expect(&rx, 1, 1)?;
        Ok(FlowKey::udp(tx.local_addr()?, rx.local_addr()?))
    }
}
