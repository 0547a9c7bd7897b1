//! Which part of the address space an address is in, from the IANA IPv4 and
//! IPv6 Special-Purpose Address Registries (RFC 6890 and later additions).
//!
//! Only `public` addresses are worth a GeoIP lookup: a database has nothing
//! true to say about 10.0.0.1 or fe80::1, and some databases do carry
//! records for reserved space that would mislabel a LAN peer as foreign.
//! IPv4-mapped (`::ffff:0:0/96`) and NAT64 well-known-prefix
//! (`64:ff9b::/96`) addresses are the IPv4 host they embed, so they take
//! that host's scope and are looked up as IPv4.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// The scope of an address; [`Scope::as_str`] is the `scope` field of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Globally routable: the only scope that is looked up.
    Public,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8` ("this network", RFC 791) other than `0.0.0.0`.
    ThisNetwork,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// Carrier-grade NAT space, `100.64/10` (RFC 6598).
    Shared,
    /// `127/8`, `::1`.
    Loopback,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// `192.0.0.0/24` and `2001::/23` (IETF protocol assignments) other than
    /// their globally reachable anycast addresses.
    IetfProtocol,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `192.88.99.0/24`, the deprecated 6to4 relay anycast (RFC 7526).
    SixToFourRelay,
    /// `198.18/15`, `2001:2::/48` (RFC 2544, RFC 5180).
    Benchmarking,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `240/4` (future use) and IPv6 outside `2000::/3` not listed otherwise.
    Reserved,
    /// `255.255.255.255`.
    Broadcast,
    /// `64:ff9b:1::/48`, the local-use IPv4/IPv6 translation prefix (RFC 8215).
    Nat64Local,
    /// `100::/64`, discard-only (RFC 6666).
    Discard,
    /// `2001::/32` (RFC 4380): a tunnel endpoint, not where the peer is.
    Teredo,
    /// `2002::/16` (RFC 3056): a tunnel endpoint, not where the peer is.
    SixToFour,
    /// `5f00::/16`, SRv6 segment identifiers (RFC 9602).
    SegmentRouting,
    /// `fc00::/7` (RFC 4193).
    UniqueLocal,
    /// `fec0::/10`, deprecated site-local (RFC 3879).
    SiteLocal,
}

impl Scope {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified",
            Self::ThisNetwork => "this_network",
            Self::Private => "private",
            Self::Shared => "shared",
            Self::Loopback => "loopback",
            Self::LinkLocal => "link_local",
            Self::IetfProtocol => "ietf_protocol",
            Self::Documentation => "documentation",
            Self::SixToFourRelay => "6to4_relay",
            Self::Benchmarking => "benchmarking",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
            Self::Broadcast => "broadcast",
            Self::Nat64Local => "nat64_local",
            Self::Discard => "discard",
            Self::Teredo => "teredo",
            Self::SixToFour => "6to4",
            Self::SegmentRouting => "segment_routing",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
        }
    }

    pub const fn is_public(self) -> bool {
        matches!(self, Self::Public)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope of `ip`.
pub fn classify(ip: IpAddr) -> Scope {
    match lookup_address(ip) {
        IpAddr::V4(v4) => first_match(V4_RANGES, v4.to_bits(), 32),
        IpAddr::V6(v6) => first_match(V6_RANGES, v6.to_bits(), 128),
    }
}

/// The address a database lookup uses for `ip`: the embedded IPv4 address
/// of an IPv4-mapped or NAT64 well-known-prefix address, else `ip` itself.
/// Databases built without IPv4 aliasing (ip-location-db) only answer the
/// plain IPv4 form, and it makes both spellings share one cache entry.
pub fn lookup_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    const MAPPED: u128 = 0xffff_0000_0000;
    const NAT64_WELL_KNOWN: u128 = 0x0064_ff9b << 96;
    let bits = v6.to_bits();
    let prefix = bits & !u128::from(u32::MAX);
    // Truncation keeps exactly the low 32 bits, the embedded address.
    (prefix == MAPPED || prefix == NAT64_WELL_KNOWN).then(|| Ipv4Addr::from_bits(bits as u32))
}

/// One registry entry: every address whose top `prefix` bits equal
/// `network`'s. IPv4 networks are held in the low 32 bits.
struct Range {
    network: u128,
    prefix: u32,
    scope: Scope,
}

const fn v4(octets: [u8; 4], prefix: u32, scope: Scope) -> Range {
    let [a, b, c, d] = octets;
    Range { network: Ipv4Addr::new(a, b, c, d).to_bits() as u128, prefix, scope }
}

const fn v6(segments: [u16; 8], prefix: u32, scope: Scope) -> Range {
    let [a, b, c, d, e, f, g, h] = segments;
    Range { network: Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits(), prefix, scope }
}

/// The first range containing `address` (a `width`-bit integer); `public`
/// when none does. Ranges are listed with exceptions before the block they
/// punch a hole into, so the first match is the most specific one.
fn first_match(ranges: &[Range], address: impl Into<u128>, width: u32) -> Scope {
    let address = address.into();
    ranges
        .iter()
        .find(|range| same_prefix(range.network, address, width - range.prefix))
        .map_or(Scope::Public, |r| r.scope)
}

/// Whether `a` and `b` agree on all but their low `host_bits` bits.
fn same_prefix(a: u128, b: u128, host_bits: u32) -> bool {
    (a ^ b).checked_shr(host_bits).unwrap_or(0) == 0
}

const V4_RANGES: &[Range] = &[
    v4([0, 0, 0, 0], 32, Scope::Unspecified),
    v4([0, 0, 0, 0], 8, Scope::ThisNetwork),
    v4([10, 0, 0, 0], 8, Scope::Private),
    v4([100, 64, 0, 0], 10, Scope::Shared),
    v4([127, 0, 0, 0], 8, Scope::Loopback),
    v4([169, 254, 0, 0], 16, Scope::LinkLocal),
    v4([172, 16, 0, 0], 12, Scope::Private),
    // Port Control Protocol and TURN anycast are globally reachable.
    v4([192, 0, 0, 9], 32, Scope::Public),
    v4([192, 0, 0, 10], 32, Scope::Public),
    v4([192, 0, 0, 0], 24, Scope::IetfProtocol),
    v4([192, 0, 2, 0], 24, Scope::Documentation),
    v4([192, 88, 99, 0], 24, Scope::SixToFourRelay),
    v4([192, 168, 0, 0], 16, Scope::Private),
    v4([198, 18, 0, 0], 15, Scope::Benchmarking),
    v4([198, 51, 100, 0], 24, Scope::Documentation),
    v4([203, 0, 113, 0], 24, Scope::Documentation),
    v4([224, 0, 0, 0], 4, Scope::Multicast),
    v4([255, 255, 255, 255], 32, Scope::Broadcast),
    v4([240, 0, 0, 0], 4, Scope::Reserved),
];

const V6_RANGES: &[Range] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Scope::Unspecified),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Scope::Loopback),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Scope::Nat64Local),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Scope::Discard),
    // Globally reachable assignments inside 2001::/23: PCP, TURN and DNS-SD
    // SRP anycast, AMT, AS112-v6, ORCHIDv2 and drone DETs.
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, Scope::Public),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, Scope::Public),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, Scope::Public),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, Scope::Public),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, Scope::Public),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Scope::Public),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, Scope::Public),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Scope::Teredo),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Scope::Benchmarking),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Scope::IetfProtocol),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Scope::Documentation),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Scope::SixToFour),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Scope::Documentation),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Scope::SegmentRouting),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Scope::UniqueLocal),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Scope::LinkLocal),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Scope::SiteLocal),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Scope::Multicast),
    // Global unicast; everything else is unassigned IETF-reserved space.
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, Scope::Public),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 0, Scope::Reserved),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_of(address: &str) -> &'static str {
        match address.parse::<IpAddr>() {
            Ok(ip) => classify(ip).as_str(),
            Err(error) => panic!("test address {address:?} does not parse: {error}"),
        }
    }

    fn assert_scopes(expected: &str, addresses: &[&str]) {
        for address in addresses {
            assert_eq!(scope_of(address), expected, "scope of {address}");
        }
    }

    #[test]
    fn unspecified_and_this_network() {
        assert_scopes("unspecified", &["0.0.0.0", "::"]);
        assert_scopes("this_network", &["0.0.0.1", "0.255.255.255"]);
        assert_scopes("public", &["1.0.0.0"]);
    }

    #[test]
    fn private_ipv4_blocks_end_exactly_at_their_boundaries() {
        assert_scopes(
            "private",
            &["10.0.0.0", "10.255.255.255", "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255"],
        );
        assert_scopes(
            "public",
            &["9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0"],
        );
    }

    #[test]
    fn unique_local_and_site_local_ipv6() {
        assert_scopes("unique_local", &["fc00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]);
        assert_scopes("site_local", &["fec0::1", "feff::1"]);
    }

    #[test]
    fn shared_cgnat_space() {
        assert_scopes("shared", &["100.64.0.0", "100.127.255.255"]);
        assert_scopes("public", &["100.63.255.255", "100.128.0.0"]);
    }

    #[test]
    fn loopback() {
        assert_scopes("loopback", &["127.0.0.1", "127.255.255.255", "::1"]);
        assert_scopes("reserved", &["::2"]);
    }

    #[test]
    fn link_local() {
        assert_scopes("link_local", &["169.254.0.0", "169.254.255.255", "fe80::1", "febf:ffff::1"]);
        assert_scopes("public", &["169.253.255.255", "169.255.0.0"]);
    }

    #[test]
    fn multicast() {
        assert_scopes("multicast", &["224.0.0.1", "239.255.255.255", "ff02::1", "ff0e::101"]);
        assert_scopes("public", &["223.255.255.255"]);
    }

    #[test]
    fn documentation() {
        assert_scopes(
            "documentation",
            &["192.0.2.1", "198.51.100.7", "203.0.113.255", "2001:db8::1", "3fff::1", "3fff:fff::1"],
        );
        assert_scopes("public", &["192.0.3.0", "203.0.114.0", "2001:db9::1", "3fff:1000::1"]);
    }

    #[test]
    fn benchmarking() {
        assert_scopes("benchmarking", &["198.18.0.0", "198.19.255.255", "2001:2::1", "2001:2:0:ffff::1"]);
        assert_scopes("public", &["198.17.255.255", "198.20.0.0"]);
        assert_scopes("ietf_protocol", &["2001:2:1::1"]);
    }

    #[test]
    fn broadcast_and_future_use() {
        assert_scopes("broadcast", &["255.255.255.255"]);
        assert_scopes("reserved", &["240.0.0.0", "255.255.255.254"]);
    }

    #[test]
    fn ietf_protocol_assignments_except_their_global_anycast() {
        assert_scopes(
            "ietf_protocol",
            &["192.0.0.0", "192.0.0.8", "192.0.0.170", "2001:1::4", "2001:10::1", "2001:1ff::1"],
        );
        assert_scopes(
            "public",
            &[
                "192.0.0.9",
                "192.0.0.10",
                "2001:1::1",
                "2001:1::2",
                "2001:1::3",
                "2001:3::1",
                "2001:4:112::1",
                "2001:20::1",
                "2001:3f::1",
                "2001:200::1",
            ],
        );
    }

    #[test]
    fn tunnels_and_translation() {
        assert_scopes("teredo", &["2001::1", "2001:0:ffff::1"]);
        assert_scopes("6to4", &["2002:c000:204::1"]);
        assert_scopes("6to4_relay", &["192.88.99.1"]);
        assert_scopes("nat64_local", &["64:ff9b:1::a00:1"]);
    }

    #[test]
    fn other_reserved_ipv6() {
        assert_scopes("discard", &["100::1"]);
        assert_scopes("segment_routing", &["5f00::1"]);
        // IPv4-compatible (deprecated) and unassigned space outside 2000::/3.
        assert_scopes("reserved", &["::102:304", "4000::1", "e000::1"]);
    }

    #[test]
    fn embedded_ipv4_takes_the_ipv4_scope() {
        assert_scopes("private", &["::ffff:10.0.0.1", "64:ff9b::192.168.1.1"]);
        assert_scopes("loopback", &["::ffff:127.0.0.1"]);
        assert_scopes("public", &["::ffff:8.8.8.8", "64:ff9b::1.1.1.1"]);
    }

    #[test]
    fn embedded_ipv4_is_looked_up_as_ipv4() {
        let mapped: IpAddr = Ipv4Addr::new(81, 2, 69, 142).to_ipv6_mapped().into();
        assert_eq!(lookup_address(mapped), IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)));
        let nat64 = IpAddr::V6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304));
        assert_eq!(lookup_address(nat64), IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
        let native = IpAddr::V6(Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111));
        assert_eq!(lookup_address(native), native);
    }

    #[test]
    fn ordinary_internet_addresses_are_public() {
        assert_scopes("public", &["8.8.8.8", "81.2.69.142", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450::1"]);
    }

    /// A range listed after a broader or equal one containing it could never match.
    #[test]
    fn no_range_is_shadowed_by_an_earlier_one() {
        for (table, width) in [(V4_RANGES, 32), (V6_RANGES, 128)] {
            for (i, later) in table.iter().enumerate() {
                for earlier in &table[..i] {
                    let contains = earlier.prefix <= later.prefix
                        && same_prefix(earlier.network, later.network, width - earlier.prefix);
                    assert!(!contains, "{:#x}/{} ({}) is shadowed", later.network, later.prefix, later.scope);
                }
            }
        }
    }
}
