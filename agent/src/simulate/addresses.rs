#![doc = concat!("Where simulated hosts and servers live.\n\n```text\n", include_str!("address_plan.txt"), "```")]

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::rng::SimRng;

/// The capture's LAN, 192.168.50.0/24.
pub const LAN: Ipv4Block = Ipv4Block::new(Ipv4Addr::new(192, 168, 50, 0), 24);
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 1);
/// The gateway also answers the LAN's DNS queries.
pub const RESOLVER: Ipv4Addr = GATEWAY;
pub const INTRANET_SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 2);
pub const PUBLIC_WEB_SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 4);
/// Benign host `i` is `192.168.50.(FIRST_HOST + i)`.
pub const FIRST_HOST: u8 = 10;
pub const MAX_HOSTS: u16 = 180;
pub const PORT_SCANNER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 200);
pub const HOST_SWEEPER: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 201);
pub const TUNNEL_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 202);

pub const EXFILTRATION_DROP: Ipv4Addr = Ipv4Addr::new(216, 160, 83, 62);
pub const C2_SERVER: Ipv4Addr = Ipv4Addr::new(89, 160, 20, 200);
pub const IRC_SERVER: Ipv4Addr = Ipv4Addr::new(81, 2, 69, 190);
/// BT (Bhutan) in the GeoIP2/GeoLite2 City and Country test databases.
pub const RARE_COUNTRY_BLOCK: Ipv4Block = Ipv4Block::new(Ipv4Addr::new(67, 43, 156, 0), 24);
pub const RARE_COUNTRY_SERVER: Ipv4Addr = Ipv4Addr::new(67, 43, 156, 77);

/// Addresses only injections use; benign traffic never touches them.
const INJECTION_ONLY: [Ipv4Addr; 3] = [EXFILTRATION_DROP, C2_SERVER, IRC_SERVER];

/// The MAC of the gateway's LAN port: every frame to or from the outside carries it.
pub const GATEWAY_MAC: [u8; 6] = [0x00, 0x0d, 0xb9, 0x4a, 0x50, 0x01];
pub const INTRANET_SERVER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x50, 0x02];
pub const PUBLIC_WEB_SERVER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x50, 0x04];
pub const ROGUE_DEVICE_MAC: [u8; 6] = [0xb8, 0x27, 0xeb, 0x5c, 0x0f, 0xc8];
pub const TUNNEL_CLIENT_MAC: [u8; 6] = [0x2c, 0x3a, 0xe8, 0x41, 0x07, 0xca];

/// An IPv4 network, `addr/prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Block {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Block {
    pub const fn new(base: Ipv4Addr, prefix: u8) -> Self {
        Self { base, prefix }
    }

    fn mask(self) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0)
    }

    pub fn contains(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.base) & self.mask()
    }

    /// Number of addresses in the block.
    pub fn size(self) -> u32 {
        !self.mask() + 1
    }

    /// The `i`-th address of the block.
    pub fn nth(self, i: u32) -> Ipv4Addr {
        Ipv4Addr::from((u32::from(self.base) & self.mask()) | (i & !self.mask()))
    }
}

/// A country block of the MaxMind test databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountryBlock {
    pub block: Ipv4Block,
    /// ISO 3166 code the test databases return.
    pub country: &'static str,
}

const fn country(a: u8, b: u8, c: u8, d: u8, prefix: u8, country: &'static str) -> CountryBlock {
    CountryBlock { block: Ipv4Block::new(Ipv4Addr::new(a, b, c, d), prefix), country }
}

/// Where benign outside servers live (checked with `mmdblookup` against
/// GeoIP2-City-Test, GeoLite2-City-Test and GeoLite2-Country-Test).
pub const BENIGN_BLOCKS: [CountryBlock; 6] = [
    country(216, 160, 83, 56, 29, "US"),
    country(81, 2, 69, 142, 31, "GB"),
    country(81, 2, 69, 160, 27, "GB"),
    country(2, 125, 160, 216, 29, "GB"),
    country(89, 160, 20, 112, 28, "SE"),
    country(89, 160, 20, 128, 25, "SE"),
];

/// Addresses benign outside servers may use, in block order: the usable
/// addresses of [`BENIGN_BLOCKS`] (no network or broadcast address in blocks
/// larger than /31) except the injections' own.
pub fn benign_server_pool() -> Vec<Ipv4Addr> {
    BENIGN_BLOCKS
        .iter()
        .flat_map(|cb| {
            let block = cb.block;
            let range = if block.prefix >= 31 { 0..block.size() } else { 1..block.size() - 1 };
            range.map(move |i| block.nth(i))
        })
        .filter(|addr| !INJECTION_ONLY.contains(addr))
        .collect()
}

/// Special-purpose ranges (RFC 6890 and multicast/reserved) a spoofing
/// flooder's random sources would not plausibly come from.
const NOT_ROUTED: [Ipv4Block; 14] = [
    Ipv4Block::new(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Block::new(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Block::new(Ipv4Addr::new(100, 64, 0, 0), 10),
    Ipv4Block::new(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Block::new(Ipv4Addr::new(169, 254, 0, 0), 16),
    Ipv4Block::new(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Block::new(Ipv4Addr::new(192, 0, 0, 0), 24),
    Ipv4Block::new(Ipv4Addr::new(192, 0, 2, 0), 24),
    Ipv4Block::new(Ipv4Addr::new(192, 88, 99, 0), 24),
    Ipv4Block::new(Ipv4Addr::new(192, 168, 0, 0), 16),
    Ipv4Block::new(Ipv4Addr::new(198, 18, 0, 0), 15),
    Ipv4Block::new(Ipv4Addr::new(198, 51, 100, 0), 24),
    Ipv4Block::new(Ipv4Addr::new(203, 0, 113, 0), 24),
    Ipv4Block::new(Ipv4Addr::new(224, 0, 0, 0), 3),
];

/// True for an address a spoofed flood source may have: publicly routed and
/// not in any block this plan gives a role.
pub fn is_spoofable(addr: Ipv4Addr) -> bool {
    let planned = BENIGN_BLOCKS.iter().map(|cb| cb.block).chain([RARE_COUNTRY_BLOCK, LAN]);
    !NOT_ROUTED.iter().copied().chain(planned).any(|block| block.contains(addr))
}

/// A uniformly random spoofable source address.
pub fn spoofed_source(rng: &mut SimRng) -> Ipv4Addr {
    loop {
        let addr = Ipv4Addr::from(rng.random::<u32>());
        if is_spoofable(addr) {
            return addr;
        }
    }
}

/// LAN address of benign host `index`.
pub fn host_addr(index: u16) -> Ipv4Addr {
    LAN.nth(u32::from(FIRST_HOST) + u32::from(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn blocks_contain_what_the_plan_says() {
        assert!(LAN.contains(GATEWAY) && LAN.contains(TUNNEL_CLIENT) && !LAN.contains(C2_SERVER));
        assert_eq!(host_addr(0), Ipv4Addr::new(192, 168, 50, 10));
        assert_eq!(host_addr(MAX_HOSTS - 1), Ipv4Addr::new(192, 168, 50, 189));
        assert!(RARE_COUNTRY_BLOCK.contains(RARE_COUNTRY_SERVER));
        assert_eq!(BENIGN_BLOCKS[4].block.nth(15), Ipv4Addr::new(89, 160, 20, 127));
        assert!(BENIGN_BLOCKS[0].block.contains(EXFILTRATION_DROP));
        assert!(BENIGN_BLOCKS[5].block.contains(C2_SERVER));
        assert!(BENIGN_BLOCKS[2].block.contains(IRC_SERVER));
    }

    #[test]
    fn benign_pool_excludes_injection_addresses_and_block_edges() {
        let pool = benign_server_pool();
        // 6 + 2 + 30 + 6 + 14 + 126 usable, minus the three injection servers.
        assert_eq!(pool.len(), 181);
        assert!(INJECTION_ONLY.iter().all(|addr| !pool.contains(addr)));
        assert!(!pool.contains(&Ipv4Addr::new(216, 160, 83, 56)));
        assert!(pool.contains(&Ipv4Addr::new(81, 2, 69, 142)) && pool.contains(&Ipv4Addr::new(81, 2, 69, 143)));
        assert!(pool.iter().all(|addr| BENIGN_BLOCKS.iter().any(|cb| cb.block.contains(*addr))));
    }

    #[test]
    fn spoofed_sources_avoid_every_planned_and_reserved_block() {
        let mut rng = stream(1, Stream::Population);
        for _ in 0..10_000 {
            let addr = spoofed_source(&mut rng);
            assert!(!addr.is_private() && !addr.is_loopback() && !addr.is_multicast() && !LAN.contains(addr));
            assert!(!RARE_COUNTRY_BLOCK.contains(addr));
        }
        assert!(!is_spoofable(Ipv4Addr::new(89, 160, 20, 130)));
        assert!(is_spoofable(Ipv4Addr::new(8, 8, 8, 8)));
    }
}
