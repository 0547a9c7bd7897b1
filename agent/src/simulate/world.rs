//! The outside world the hosts talk to: named web sites, NTP servers, a git
//! server reached over SSH, the intranet server, and the resolver. Fixed
//! for a seed and shared read-only by every activity.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{
    addresses::{GATEWAY_MAC, INTRANET_SERVER, INTRANET_SERVER_MAC, RESOLVER, benign_server_pool},
    dist::{LogNormal, Popularity},
    frame::Endpoint,
    payload::Filler,
    population::Host,
    rng::SimRng,
    tcp::TcpEnd,
    units::{MICROS, Nanos, secs_f64},
};

/// A server and the path to it, as seen from the capture point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Server {
    pub endpoint: Endpoint,
    /// Round trip from the capture point to the server and back.
    pub rtt: Nanos,
    /// Bottleneck throughput of the path, bytes per second.
    pub rate: u64,
}

impl Server {
    /// The server as the listening end of a TCP connection on `port`.
    pub fn tcp_end(&self, port: u16) -> TcpEnd {
        TcpEnd { endpoint: self.endpoint, port, rtt: self.rtt, mss: 1460, window: 65_535, window_scale: 9 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub server: Server,
    /// Served over TLS (port 443) rather than plain HTTP (80).
    pub https: bool,
    /// TTL of its DNS A record, seconds.
    pub dns_ttl: u32,
}

pub struct World {
    /// The benign LAN hosts.
    pub hosts: Vec<Host>,
    /// Bytes of opaque payloads.
    pub filler: Filler,
    pub sites: Vec<Site>,
    popularity: Popularity,
    pub ntp_servers: Vec<Server>,
    /// Reached with SSH by developer hosts.
    pub git_server: Server,
    pub intranet: Server,
    pub resolver: Server,
}

/// Host labels and domains of the simulated web; names are under domains
/// reserved for examples (RFC 2606), never real ones.
const LABELS: [&str; 12] =
    ["www", "cdn", "api", "static", "img", "mail", "news", "shop", "login", "docs", "video", "maps"];
const DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];

/// Round trip from a European LAN by the server's country.
fn rtt_median_ms(addr: Ipv4Addr) -> f64 {
    match addr.octets()[0] {
        216 => 105.0, // US
        89 => 28.0,   // SE
        _ => 16.0,    // GB
    }
}

fn remote(ip: Ipv4Addr, rng: &mut SimRng) -> Server {
    let rtt_ms = LogNormal::new(rtt_median_ms(ip), 0.25, 3.0, 400.0).sample(rng);
    // Initial TTL 64 (Linux) or 128 (Windows) minus 8-20 hops.
    let initial = if rng.random_bool(0.75) { 64 } else { 128 };
    let ttl = initial - rng.random_range(8..=20u8);
    let rate = LogNormal::new(3.0e6, 0.7, 2.0e5, 1.2e7).sample_u64(rng);
    Server { endpoint: Endpoint { ip, mac: GATEWAY_MAC, ttl }, rtt: secs_f64(rtt_ms / 1e3), rate }
}

/// LAN servers answer within a fraction of a millisecond at switch speed.
fn local(ip: Ipv4Addr, mac: [u8; 6]) -> Server {
    Server { endpoint: Endpoint { ip, mac, ttl: 64 }, rtt: 300 * MICROS, rate: 60_000_000 }
}

impl World {
    pub fn generate(hosts: Vec<Host>, filler: Filler, rng: &mut SimRng) -> Self {
        let pool = benign_server_pool();
        let pick = |rng: &mut SimRng| pool[rng.random_range(0..pool.len())];
        let mut sites = Vec::new();
        for domain in DOMAINS {
            for label in LABELS {
                let ip = pick(rng);
                sites.push(Site {
                    name: format!("{label}.{domain}"),
                    server: remote(ip, rng),
                    https: rng.random_bool(0.85),
                    dns_ttl: [60, 300, 300, 3600][rng.random_range(0..4)],
                });
            }
        }
        // Ranks are shuffled so the most popular site is not always www.example.com.
        let mut order: Vec<usize> = (0..sites.len()).collect();
        rand::seq::SliceRandom::shuffle(order.as_mut_slice(), rng);
        let sites = order.into_iter().map(|i| sites[i].clone()).collect::<Vec<_>>();
        let ntp_servers = (0..3).map(|_| remote(pick(rng), rng)).collect();
        let git_server = remote(pick(rng), rng);
        Self {
            hosts,
            filler,
            popularity: Popularity::zipf(sites.len(), 1.1),
            sites,
            ntp_servers,
            git_server,
            intranet: local(INTRANET_SERVER, INTRANET_SERVER_MAC),
            resolver: Server { rtt: 200 * MICROS, ..local(RESOLVER, GATEWAY_MAC) },
        }
    }

    /// A site to visit, popular ones more often.
    pub fn pick_site(&self, rng: &mut SimRng) -> &Site {
        &self.sites[self.popularity.pick(rng)]
    }

    /// How long the resolver takes to answer: from its cache in well under a
    /// millisecond, or after recursion in tens of milliseconds.
    pub fn resolver_delay(&self, rng: &mut SimRng) -> Nanos {
        if rng.random_bool(0.7) {
            secs_f64(LogNormal::new(0.4, 0.5, 0.1, 5.0).sample(rng) / 1e3)
        } else {
            secs_f64(LogNormal::new(35.0, 0.8, 5.0, 800.0).sample(rng) / 1e3)
        }
    }
}
