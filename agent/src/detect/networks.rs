//! Which addresses are "ours": exfiltration, rare protocols and geo need to
//! know the inside from the outside, and scans and floods must not treat
//! group addresses (multicast, broadcast) as hosts that ought to answer.

use std::net::IpAddr;

use ipnet::IpNet;

/// Address ranges as (network, mask) integers per address family: the
/// internal ones (`detectors.internal_networks`), about which every flow
/// asks for both of its addresses, or any other list checked per flow
/// (`dns_tunnel.transfer_allowed`). A masked compare is a fraction of the
/// cost of `IpNet::contains` over a mixed list, with the same answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Networks {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Networks {
    pub fn new(internal: Vec<IpNet>) -> Self {
        let mut networks = Self { v4: Vec::new(), v6: Vec::new() };
        for net in internal {
            match net {
                IpNet::V4(net) => networks.v4.push((net.network().to_bits(), net.netmask().to_bits())),
                IpNet::V6(net) => networks.v6.push((net.network().to_bits(), net.netmask().to_bits())),
            }
        }
        networks
    }

    /// Whether `ip` is in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                let bits = v4.to_bits();
                self.v4.iter().any(|&(network, mask)| bits & mask == network)
            }
            IpAddr::V6(v6) => {
                let bits = v6.to_bits();
                self.v6.iter().any(|&(network, mask)| bits & mask == network)
            }
        }
    }

    /// Multicast, the limited broadcast and the unspecified address: many
    /// senders and no answers are normal there (mDNS, SSDP, DHCP).
    pub fn is_group(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified(),
            IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
        }
    }
}

/// RFC 1918, carrier-grade NAT, loopback, link-local, "this network", and
/// their IPv6 counterparts (unique-local, link-local, loopback): ranges that
/// are never the far end of an Internet connection.
pub fn default_internal_networks() -> Vec<IpNet> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_internal_and_public_ones_are_not() -> Result<(), Box<dyn std::error::Error>> {
        let networks = Networks::new(default_internal_networks());
        assert_eq!(default_internal_networks().len(), 10);
        assert!(networks.contains("172.16.0.111".parse()?));
        assert!(networks.contains("fe80::1".parse()?));
        assert!(!networks.contains("64.13.134.52".parse()?));
        assert!(!networks.contains("2001:db8::1".parse()?));
        // Range edges.
        assert!(networks.contains("172.31.255.255".parse()?));
        assert!(!networks.contains("172.32.0.0".parse()?));
        assert!(!networks.contains("11.0.0.0".parse()?));
        assert!(networks.contains("100.127.0.1".parse()?));
        assert!(!networks.contains("100.128.0.1".parse()?));
        // An IPv4-mapped IPv6 address is IPv6 here, as for `IpNet::contains`.
        assert!(!networks.contains("::ffff:10.0.0.1".parse()?));
        Ok(())
    }

    #[test]
    fn group_addresses_are_recognised() -> Result<(), Box<dyn std::error::Error>> {
        assert!(Networks::is_group("239.255.255.250".parse()?));
        assert!(Networks::is_group("255.255.255.255".parse()?));
        assert!(Networks::is_group("ff02::fb".parse()?));
        assert!(!Networks::is_group("192.168.2.1".parse()?));
        Ok(())
    }
}
