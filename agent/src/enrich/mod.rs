//! GeoIP enrichment: country, city, coordinates, AS number and organisation
//! of the remote side of an event, from MaxMind DB (.mmdb) files.
//!
//! Reads GeoLite2/GeoIP2 and DB-IP Lite databases (GeoIP2 layout) and
//! ip-location-db files (flat layout), City, Country and ASN alike; the
//! layout of each file is found by sampling its records ([`schema`]).
//! Addresses in reserved ranges are labelled with their [`Scope`] and never
//! looked up. An LRU cache sits in front of the databases; its hit rate is
//! in [`GeoStats`].

mod cache;
mod config;
mod database;
mod discovery;
mod error;
mod record;
mod schema;
mod scope;
mod stats;

use std::net::IpAddr;

use tracing::{debug, info, warn};

use self::{cache::GeoCache, database::GeoDatabase, record::GeoRecord, scope::lookup_address, stats::Counters};
pub use self::{
    config::{DEFAULT_GEO_CACHE_SIZE, GeoArgs, GeoConfig},
    discovery::WELL_KNOWN_DIRS,
    error::EnrichError,
    scope::{Scope, classify},
    stats::GeoStats,
};
use crate::event::{Event, RemoteInfo};

/// Describes remote addresses from one or more databases, through a cache.
///
/// Databases are asked in order and each field comes from the first one
/// that knows it, so a City database and an ASN database combine.
///
/// Repeated addresses are cheap: after the first lookup an address costs
/// one hash-map probe, and [`GeoEnricher::country`] then allocates nothing,
/// so a detector may ask for every flow.
pub struct GeoEnricher {
    databases: Vec<GeoDatabase>,
    cache: GeoCache,
    counters: Counters,
}

impl GeoEnricher {
    /// Opens the databases `config` names, or finds them in its search
    /// directories. `None`, with one warning saying how to provide a
    /// database, when nothing was named and nothing was found; an error
    /// naming the file when a database cannot be used.
    pub fn open(config: &GeoConfig) -> Result<Option<Self>, EnrichError> {
        let paths = if config.databases.is_empty() {
            discovery::search(&config.search_dirs)
        } else {
            discovery::expand(&config.databases)?
        };
        if paths.is_empty() {
            warn!(
                "no GeoIP database found in {}: events carry no location and the geo detector is off; \
                 pass -g PATH (repeat for a City and an ASN database) or install one of {} there \
                 (GeoLite2 via geoipupdate, or DB-IP Lite)",
                config.search_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                discovery::searched_names(),
            );
            return Ok(None);
        }
        let databases = paths.iter().map(|path| GeoDatabase::open(path)).collect::<Result<Vec<_>, _>>()?;
        for database in &databases {
            info!(
                path = %database.path().display(),
                database_type = database.database_type(),
                "GeoIP database opened: {}",
                database.shape().provides()
            );
        }
        let enricher = Self { databases, cache: GeoCache::new(config.cache_size), counters: Counters::default() };
        if !enricher.has_location() {
            warn!(
                "no GeoIP location database (only ASN): events carry no country and the geo detector is off; \
                 pass a City or Country database with -g"
            );
        }
        Ok(Some(enricher))
    }

    /// Whether any database gives countries (the geo detector needs them).
    pub fn has_location(&self) -> bool {
        self.databases.iter().any(|database| database.shape().location)
    }

    /// Where `ip` is: its scope, and for a public address what the databases know.
    pub fn locate(&mut self, ip: IpAddr) -> RemoteInfo {
        let scope = classify(ip);
        let mut remote = RemoteInfo { ip: Some(ip), scope: scope.as_str(), ..RemoteInfo::default() };
        if let Some(record) = self.record(ip, scope) {
            record.describe(&mut remote);
        }
        remote
    }

    /// The ISO country code of `ip`; `None` for reserved or unknown
    /// addresses. Borrowed from the cache: nothing is allocated on a hit.
    pub fn country(&mut self, ip: IpAddr) -> Option<&str> {
        self.record(ip, classify(ip))?.country.as_deref()
    }

    /// Country code and AS number of a public `ip`, borrowed from the cache
    /// (what the geo detector asks for every flow, without building a whole
    /// [`RemoteInfo`]); `None` for reserved addresses, which are not counted
    /// as lookups (the detector asks about every flow; the lookup counts are
    /// of event enrichment and the detector's public lookups).
    pub fn country_and_asn(&mut self, ip: IpAddr) -> Option<(Option<&str>, Option<u32>)> {
        let scope = classify(ip);
        if !scope.is_public() {
            return None;
        }
        self.record(ip, scope).map(|record| (record.country.as_deref(), record.asn))
    }

    /// Describes the event's remote side ([`Event::remote_ip`]) in `event.remote`.
    pub fn enrich(&mut self, event: &mut Event) {
        event.remote = event.remote_ip().map(|ip| self.locate(ip));
    }

    pub fn stats(&self) -> GeoStats {
        self.counters.stats(self.cache.hits(), self.cache.misses())
    }

    /// The cached record of a public address, looked up on a miss.
    fn record(&mut self, ip: IpAddr, scope: Scope) -> Option<&GeoRecord> {
        self.counters.lookups += 1;
        if !scope.is_public() {
            self.counters.reserved += 1;
            return None;
        }
        let key = lookup_address(ip);
        let (databases, counters) = (&self.databases, &mut self.counters);
        Some(self.cache.get_or_insert_with(key, || look_up(databases, key, counters)))
    }
}

/// The merge of every database's answer for `ip`.
fn look_up(databases: &[GeoDatabase], ip: IpAddr, counters: &mut Counters) -> GeoRecord {
    let mut merged = GeoRecord::default();
    for database in databases {
        match database.lookup(ip) {
            Ok(Some(record)) => merged.fill_gaps_from(record),
            Ok(None) => {}
            Err(error) => {
                counters.lookup_errors += 1;
                let path = database.path().display();
                if counters.lookup_errors == 1 {
                    warn!(
                        %ip, path = %path, %error,
                        "GeoIP lookup failed; further failures are only counted (lookup_errors in the GeoIP stats)"
                    );
                } else {
                    debug!(%ip, path = %path, %error, "GeoIP lookup failed");
                }
            }
        }
    }
    if merged.is_empty() {
        counters.not_found += 1;
    }
    merged
}
