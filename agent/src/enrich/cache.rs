//! The least-recently-used cache in front of the databases, counting its
//! hits and misses for the stats record.
//!
//! A few remote hosts carry most flows, so most lookups repeat; a hit costs
//! one hash of the address instead of a tree walk and a record decode per
//! database. Misses are cached too, "nothing known" included.

use std::{net::IpAddr, num::NonZeroUsize};

use lru::LruCache;
use rustc_hash::FxBuildHasher;

use super::record::GeoRecord;

pub struct GeoCache {
    entries: LruCache<IpAddr, GeoRecord, FxBuildHasher>,
    hits: u64,
    misses: u64,
}

impl GeoCache {
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self { entries: LruCache::with_hasher(capacity, FxBuildHasher), hits: 0, misses: 0 }
    }

    /// The cached record for `ip`, or the one `look_up` returns, kept
    /// (evicting the least recently used entry when full).
    pub fn get_or_insert_with(&mut self, ip: IpAddr, look_up: impl FnOnce() -> GeoRecord) -> &GeoRecord {
        let mut missed = false;
        let record = self.entries.get_or_insert(ip, || {
            missed = true;
            look_up()
        });
        if missed {
            self.misses += 1;
        } else {
            self.hits += 1;
        }
        record
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn misses(&self) -> u64 {
        self.misses
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
    }

    fn record(asn: u32) -> GeoRecord {
        GeoRecord { asn: Some(asn), ..GeoRecord::default() }
    }

    #[test]
    fn a_hit_returns_the_cached_record_without_looking_up() {
        let mut cache = GeoCache::new(NonZeroUsize::MIN.saturating_add(1));
        assert_eq!(cache.get_or_insert_with(ip(1), || record(1)), &record(1));
        assert_eq!(cache.get_or_insert_with(ip(1), || record(99)), &record(1));
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted() {
        let mut cache = GeoCache::new(NonZeroUsize::MIN.saturating_add(1));
        cache.get_or_insert_with(ip(1), || record(1));
        cache.get_or_insert_with(ip(2), || record(2));
        // Touch 1 so that 2 is the least recently used, then add 3.
        cache.get_or_insert_with(ip(1), || record(91));
        cache.get_or_insert_with(ip(3), || record(3));
        assert_eq!(cache.get_or_insert_with(ip(1), || record(91)), &record(1));
        assert_eq!(cache.get_or_insert_with(ip(2), || record(92)), &record(92));
        assert_eq!((cache.hits(), cache.misses()), (2, 4));
    }
}
