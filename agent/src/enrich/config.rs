//! GeoIP command-line arguments and the configuration they make.

use std::{num::NonZeroUsize, path::PathBuf};

use clap::Args;

use super::discovery::WELL_KNOWN_DIRS;

/// Remote addresses whose answer is kept: far more than the distinct peers
/// of a busy host in a few minutes, for a few MiB.
pub const DEFAULT_GEO_CACHE_SIZE: NonZeroUsize = match NonZeroUsize::new(65_536) {
    Some(size) => size,
    None => panic!("the default cache size is not zero"),
};

#[derive(Clone, Debug, Args)]
pub struct GeoArgs {
    /// GeoIP database (.mmdb): GeoLite2/GeoIP2 or DB-IP Lite City, Country or ASN, or an ip-location-db file.
    /// Repeat for a location and an ASN database; a directory is searched for the usual file names.
    /// Default: GeoLite2-City.mmdb, GeoLite2-ASN.mmdb, dbip-city-lite-*.mmdb, … in /usr/share/GeoIP,
    /// /var/lib/GeoIP and /usr/local/share/GeoIP.
    #[arg(short = 'g', long = "geoip-db", value_name = "PATH")]
    pub geoip_db: Vec<PathBuf>,

    /// Remote addresses whose location is cached (least recently used are dropped).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_GEO_CACHE_SIZE)]
    pub geo_cache_size: NonZeroUsize,
}

/// What [`GeoEnricher::open`](super::GeoEnricher::open) needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoConfig {
    /// Databases (or directories) named by the operator; empty means search.
    pub databases: Vec<PathBuf>,
    /// Searched, in order, when `databases` is empty.
    pub search_dirs: Vec<PathBuf>,
    pub cache_size: NonZeroUsize,
}

impl Default for GeoConfig {
    fn default() -> Self {
        Self {
            databases: Vec::new(),
            search_dirs: WELL_KNOWN_DIRS.iter().map(PathBuf::from).collect(),
            cache_size: DEFAULT_GEO_CACHE_SIZE,
        }
    }
}

impl From<&GeoArgs> for GeoConfig {
    fn from(args: &GeoArgs) -> Self {
        Self { databases: args.geoip_db.clone(), cache_size: args.geo_cache_size, ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        geo: GeoArgs,
    }

    #[test]
    fn defaults_search_the_well_known_directories() -> Result<(), clap::Error> {
        let config = GeoConfig::from(&Harness::try_parse_from(["flowwatch"])?.geo);
        assert_eq!(config.databases, Vec::<PathBuf>::new());
        assert_eq!(
            config.search_dirs,
            ["/usr/share/GeoIP", "/var/lib/GeoIP", "/usr/local/share/GeoIP"].map(PathBuf::from)
        );
        assert_eq!(config.cache_size.get(), 65_536);
        Ok(())
    }

    #[test]
    fn geoip_db_repeats_in_order() -> Result<(), clap::Error> {
        let args = Harness::try_parse_from([
            "flowwatch",
            "-g",
            "city.mmdb",
            "--geoip-db",
            "asn.mmdb",
            "--geo-cache-size",
            "10",
        ])?;
        let config = GeoConfig::from(&args.geo);
        assert_eq!(config.databases, ["city.mmdb", "asn.mmdb"].map(PathBuf::from));
        assert_eq!(config.cache_size.get(), 10);
        Ok(())
    }

    #[test]
    fn a_zero_cache_size_is_refused() {
        assert!(Harness::try_parse_from(["flowwatch", "--geo-cache-size", "0"]).is_err());
    }
}
