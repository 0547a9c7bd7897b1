//! What the databases know about one address, whatever their schema.

use crate::event::RemoteInfo;

/// Location and network of one public address: the merge of every
/// database's answer. This is what the cache holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeoRecord {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// City name in English.
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub asn: Option<u32>,
    /// The AS's organisation.
    pub org: Option<String>,
}

impl GeoRecord {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Takes from `other` every field this record lacks, so that the first
    /// database to know a field wins (a City database for the location, an
    /// ASN database for the network).
    pub fn fill_gaps_from(&mut self, other: Self) {
        fill(&mut self.country, other.country);
        fill(&mut self.city, other.city);
        // Coordinates are one fact: never a latitude from one database and a
        // longitude from another.
        if self.latitude.is_none() && self.longitude.is_none() {
            self.latitude = other.latitude;
            self.longitude = other.longitude;
        }
        fill(&mut self.asn, other.asn);
        fill(&mut self.org, other.org);
    }

    /// Copies the fields into an event's remote description.
    pub fn describe(&self, remote: &mut RemoteInfo) {
        remote.country.clone_from(&self.country);
        remote.city.clone_from(&self.city);
        remote.latitude = self.latitude;
        remote.longitude = self.longitude;
        remote.asn = self.asn;
        remote.org.clone_from(&self.org);
    }
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city_answer() -> GeoRecord {
        GeoRecord {
            country: Some("GB".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            ..GeoRecord::default()
        }
    }

    #[test]
    fn the_first_database_to_know_a_field_wins() {
        let mut merged = city_answer();
        merged.fill_gaps_from(GeoRecord {
            country: Some("FR".into()),
            asn: Some(1221),
            org: Some("Telstra Pty Ltd".into()),
            ..GeoRecord::default()
        });
        assert_eq!(merged, GeoRecord { asn: Some(1221), org: Some("Telstra Pty Ltd".into()), ..city_answer() });
    }

    #[test]
    fn coordinates_come_from_one_database() {
        let mut merged = GeoRecord { latitude: Some(10.0), ..GeoRecord::default() };
        merged.fill_gaps_from(city_answer());
        assert_eq!((merged.latitude, merged.longitude), (Some(10.0), None));
    }

    #[test]
    fn empty_means_no_field_known() {
        assert!(GeoRecord::default().is_empty());
        assert!(!GeoRecord { asn: Some(1), ..GeoRecord::default() }.is_empty());
    }
}
