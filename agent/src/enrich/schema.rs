//! The record layouts flowwatch reads, and how to tell them apart.
//!
//! Two layouts exist in the wild:
//! - GeoIP2 (MaxMind GeoLite2/GeoIP2, DB-IP Lite): nested maps,
//!   `country.iso_code`, `city.names.en`, `location.latitude`/`longitude`.
//! - flat (sapics/ip-location-db): top-level `country_code`, `city` (a
//!   plain string), `latitude`/`longitude` stored as 32-bit floats.
//!
//! ASN databases of both families (GeoLite2-ASN, DB-IP ASN Lite, GeoIP2-ISP,
//! ip-location-db `asn`) put `autonomous_system_number` and
//! `autonomous_system_organization` at the top level, so both record types
//! read them and an ASN database needs no layout of its own.
//!
//! The records borrow their strings from the database and only the fields
//! flowwatch reports are decoded; everything else is skipped unread.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, Visitor},
};

use super::record::GeoRecord;

/// Which record type a database's records decode into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    GeoIp2,
    Flat,
}

/// What a database can tell, found by looking at its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub schema: Schema,
    /// Country, city or coordinates.
    pub location: bool,
    /// AS number or organisation.
    pub asn: bool,
}

impl Shape {
    /// The shape of a database whose sampled records carried `keys`.
    pub fn from_keys(keys: &ProbeKeys) -> Self {
        Self {
            schema: if keys.geoip2_location { Schema::GeoIp2 } else { Schema::Flat },
            location: keys.geoip2_location || keys.flat_location,
            asn: keys.asn,
        }
    }

    /// For logs: what this database provides.
    pub fn provides(&self) -> &'static str {
        match (self.location, self.asn) {
            (true, true) => "location and ASN",
            (true, false) => "location",
            (false, true) => "ASN",
            (false, false) => "nothing flowwatch reads",
        }
    }
}

/// Which of the keys that identify a layout a sample of records carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeKeys {
    pub geoip2_location: bool,
    pub flat_location: bool,
    pub asn: bool,
}

impl ProbeKeys {
    pub fn add(&mut self, probe: &RecordProbe) {
        self.geoip2_location |=
            probe.country.is_some() || probe.location.is_some() || probe.registered_country.is_some();
        self.flat_location |= probe.country_code.is_some() || probe.latitude.is_some();
        self.asn |= probe.autonomous_system_number.is_some() || probe.autonomous_system_organization.is_some();
    }

    /// Every layout question is answered: more records cannot change the shape.
    pub fn settled(&self) -> bool {
        (self.geoip2_location || self.flat_location) && self.asn
    }
}

/// The identifying keys of one record, their values skipped. `city` is not
/// among them: it is a map in one layout and a string in the other.
#[derive(Deserialize)]
pub struct RecordProbe {
    country: Option<IgnoredAny>,
    registered_country: Option<IgnoredAny>,
    location: Option<IgnoredAny>,
    country_code: Option<IgnoredAny>,
    latitude: Option<IgnoredAny>,
    autonomous_system_number: Option<IgnoredAny>,
    autonomous_system_organization: Option<IgnoredAny>,
}

/// A GeoIP2-layout record.
#[derive(Deserialize)]
pub struct GeoIp2Record<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    city: Option<Names<'a>>,
    location: Option<Location>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    names: Option<English<'a>>,
}

#[derive(Deserialize)]
struct English<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default, deserialize_with = "coordinate")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    longitude: Option<f64>,
}

/// An ip-location-db (flat layout) record.
#[derive(Deserialize)]
pub struct FlatRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
    #[serde(default, deserialize_with = "coordinate")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "coordinate")]
    longitude: Option<f64>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

impl From<GeoIp2Record<'_>> for GeoRecord {
    fn from(record: GeoIp2Record<'_>) -> Self {
        let (latitude, longitude) = record.location.map_or((None, None), |l| (l.latitude, l.longitude));
        Self {
            country: country(record.country.and_then(|c| c.iso_code)),
            city: text(record.city.and_then(|c| c.names).and_then(|n| n.en)),
            latitude,
            longitude,
            asn: asn(record.autonomous_system_number),
            org: text(record.autonomous_system_organization),
        }
    }
}

impl From<FlatRecord<'_>> for GeoRecord {
    fn from(record: FlatRecord<'_>) -> Self {
        Self {
            country: country(record.country_code),
            city: text(record.city),
            latitude: record.latitude,
            longitude: record.longitude,
            asn: asn(record.autonomous_system_number),
            org: text(record.autonomous_system_organization),
        }
    }
}

/// ip-location-db writes every column, known or not, so unknown is "".
fn text(value: Option<&str>) -> Option<String> {
    value.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `ZZ` is the user-assigned code DB-IP and others use for "unknown".
fn country(code: Option<&str>) -> Option<String> {
    text(code.filter(|&c| c != "ZZ"))
}

/// AS 0 is reserved (RFC 7607); ip-location-db writes it when it has no number.
fn asn(number: Option<u32>) -> Option<u32> {
    number.filter(|&n| n != 0)
}

/// Reads a latitude or longitude stored as a 64-bit or 32-bit float.
///
/// Widening a 32-bit float as is turns the database's 51.5085 into
/// 51.508499145507812; the shortest decimal that reads back as the same
/// 32-bit value is the number the database's author wrote.
fn coordinate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    struct CoordinateVisitor;

    impl Visitor<'_> for CoordinateVisitor {
        type Value = f64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a coordinate (float or double)")
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
            Ok(value)
        }

        fn visit_f32<E: de::Error>(self, value: f32) -> Result<f64, E> {
            value.to_string().parse().map_err(E::custom)
        }
    }

    struct Coordinate(f64);

    impl<'de> Deserialize<'de> for Coordinate {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            // The decoder checks the stored type against the one asked for, so ask
            // for any and let the visitor take either width.
            deserializer.deserialize_any(CoordinateVisitor).map(Coordinate)
        }
    }

    Ok(Option::<Coordinate>::deserialize(deserializer)?.map(|c| c.0).filter(|v| v.is_finite()))
}
