//! GeoIP lookup rate, cached and uncached. A measurement to run by hand,
//! not a test:
//!
//! ```sh
//! cargo run --release -p agent --example geo_lookups [-- DB.mmdb...]
//! ```
//!
//! Without arguments it writes a GeoLite2-shaped City database of 200,000
//! IPv4 /24 networks (GeoIP2 layout) and an ASN database, so that tree depth
//! and record decoding resemble the real thing; pass real databases to
//! measure those instead (addresses are then drawn from the whole IPv4
//! space, many of them absent).

use std::{
    error::Error,
    hint::black_box,
    net::{IpAddr, Ipv4Addr},
    num::NonZeroUsize,
    path::{Path, PathBuf},
    time::Instant,
};

use agent::enrich::{GeoConfig, GeoEnricher, classify};
use mmdb_writer::{Value, Writer, ipnet::Ipv4Net};

const NETWORKS: u32 = 200_000;
const LOOKUPS: usize = 1_000_000;
const HOT_ADDRESSES: usize = 1_000;

/// xorshift64: reproducible addresses without a dependency.
struct Addresses(u64);

impl Addresses {
    fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }

    /// A public address inside one of the synthetic /24 networks (or anywhere).
    fn next(&mut self, synthetic: bool) -> IpAddr {
        loop {
            let bits = if synthetic {
                network(self.next_u32() % NETWORKS) | (self.next_u32() & 0xff)
            } else {
                self.next_u32()
            };
            let ip = IpAddr::V4(Ipv4Addr::from_bits(bits));
            if classify(ip).is_public() {
                return ip;
            }
        }
    }
}

/// The `index`th synthetic /24: spread over 1.0.0.0–223.255.255.0.
fn network(index: u32) -> u32 {
    (1 << 24) + index.wrapping_mul(1_109) % (222 << 16) * 256
}

fn synthetic_databases(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut city = Writer::new("GeoLite2-City");
    let mut asn = Writer::new("GeoLite2-ASN");
    for index in 0..NETWORKS {
        let net = Ipv4Net::new(Ipv4Addr::from_bits(network(index)), 24)?;
        let place = index % 5_000;
        city.insert_value(
            net,
            Value::map([
                ("country", Value::map([("iso_code", Value::from(format!("C{}", place % 250)))])),
                ("city", Value::map([("names", Value::map([("en", Value::from(format!("City {place}")))]))])),
                (
                    "location",
                    Value::map([
                        ("latitude", Value::Double(f64::from(place % 180) - 90.0)),
                        ("longitude", Value::Double(f64::from(place % 360) - 180.0)),
                    ]),
                ),
            ]),
        )?;
        asn.insert_value(
            net,
            Value::map([
                ("autonomous_system_number", Value::from(64_512 + index % 1_000)),
                ("autonomous_system_organization", Value::from(format!("Network {}", index % 1_000))),
            ]),
        )?;
    }
    let paths = vec![dir.join("city.mmdb"), dir.join("asn.mmdb")];
    std::fs::write(&paths[0], city.to_bytes()?)?;
    std::fs::write(&paths[1], asn.to_bytes()?)?;
    Ok(paths)
}

fn enricher(databases: &[PathBuf], cache_size: usize) -> Result<GeoEnricher, Box<dyn Error>> {
    let config = GeoConfig {
        databases: databases.to_vec(),
        cache_size: NonZeroUsize::new(cache_size).ok_or("cache size 0")?,
        ..GeoConfig::default()
    };
    GeoEnricher::open(&config)?.ok_or_else(|| "no database".into())
}

/// Calls per second of `call` over `addresses`.
fn rate(addresses: &[IpAddr], mut call: impl FnMut(IpAddr)) -> f64 {
    let start = Instant::now();
    for &ip in addresses {
        call(ip);
    }
    addresses.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn Error>> {
    let given: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let scratch = tempfile::tempdir()?;
    let synthetic = given.is_empty();
    let databases = if synthetic { synthetic_databases(scratch.path())? } else { given };

    let mut addresses = Addresses(0x9e37_79b9_7f4a_7c15);
    let distinct: Vec<IpAddr> = (0..LOOKUPS).map(|_| addresses.next(synthetic)).collect();
    let hot: Vec<IpAddr> = (0..HOT_ADDRESSES).map(|_| addresses.next(synthetic)).collect();
    let repeated: Vec<IpAddr> = hot.iter().copied().cycle().take(LOOKUPS).collect();

    // Cache of one entry and a million distinct addresses: every call a miss.
    let mut cold = enricher(&databases, 1)?;
    let uncached = rate(&distinct, |ip| drop(black_box(cold.locate(ip))));
    let cold_stats = cold.stats();

    let mut warm = enricher(&databases, 65_536)?;
    let cached_locate = rate(&repeated, |ip| drop(black_box(warm.locate(ip))));
    let cached_country = rate(&repeated, |ip| {
        black_box(warm.country(ip));
    });
    let warm_stats = warm.stats();

    println!("databases: {}", databases.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    println!(
        "uncached locate : {uncached:>12.0} lookups/s  (hit rate {:.4}, not found {})",
        cold_stats.hit_rate, cold_stats.not_found
    );
    println!("cached locate   : {cached_locate:>12.0} lookups/s");
    println!(
        "cached country  : {cached_country:>12.0} lookups/s  (hit rate {:.4} over both cached runs)",
        warm_stats.hit_rate
    );
    Ok(())
}
