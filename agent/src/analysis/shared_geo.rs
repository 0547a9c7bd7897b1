//! One GeoIP enricher shared by the geo detector and event enrichment, so
//! the databases are loaded once and both stages share one cache.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use crate::{
    detect::{GeoLocation, GeoLookup},
    enrich::{GeoEnricher, GeoStats},
    event::Event,
};

#[derive(Clone)]
pub struct SharedGeo(Arc<Mutex<GeoEnricher>>);

impl SharedGeo {
    pub fn new(enricher: GeoEnricher) -> Self {
        Self(Arc::new(Mutex::new(enricher)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut GeoEnricher) -> T) -> T {
        // A panic elsewhere cannot leave the cache inconsistent for lookups.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn enrich(&self, event: &mut Event) {
        self.with(|geo| geo.enrich(event));
    }

    pub fn has_location(&self) -> bool {
        self.with(|geo| geo.has_location())
    }

    pub fn stats(&self) -> GeoStats {
        self.with(|geo| geo.stats())
    }
}

impl GeoLookup for SharedGeo {
    fn locate(&mut self, ip: IpAddr) -> GeoLocation {
        self.with(|geo| match geo.country_and_asn(ip) {
            Some((country, asn)) => GeoLocation { country: country.map(str::to_owned), asn, is_public: true },
            None => GeoLocation { country: None, asn: None, is_public: false },
        })
    }
}
