//! Enrichment counters for the stats record.

use serde::Serialize;

/// `lookups = reserved + cache_hits + cache_misses`: every address asked
/// about is either reserved (never looked up) or went through the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GeoStats {
    /// Addresses asked about.
    pub lookups: u64,
    /// Of those, in a reserved range: labelled, not looked up.
    pub reserved: u64,
    pub cache_hits: u64,
    /// Public addresses looked up in the databases.
    pub cache_misses: u64,
    /// `cache_hits / (cache_hits + cache_misses)`; 0 before any public address.
    pub hit_rate: f64,
    /// Misses no database had anything for.
    pub not_found: u64,
    /// Database reads that failed (a corrupt record); the address is then
    /// described by the other databases, or not at all.
    pub lookup_errors: u64,
}

/// The counters [`GeoStats`] is made from, except the cache's own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub lookups: u64,
    pub reserved: u64,
    pub not_found: u64,
    pub lookup_errors: u64,
}

impl Counters {
    pub fn stats(&self, cache_hits: u64, cache_misses: u64) -> GeoStats {
        let cached = cache_hits + cache_misses;
        GeoStats {
            lookups: self.lookups,
            reserved: self.reserved,
            cache_hits,
            cache_misses,
            hit_rate: if cached == 0 { 0.0 } else { cache_hits as f64 / cached as f64 },
            not_found: self.not_found,
            lookup_errors: self.lookup_errors,
        }
    }
}
