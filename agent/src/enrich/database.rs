//! One open .mmdb file: its layout, found once at open, and lookups in it.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};

use super::{
    error::EnrichError,
    record::GeoRecord,
    schema::{FlatRecord, GeoIp2Record, ProbeKeys, RecordProbe, Schema, Shape},
};

/// How many records are sampled to find a database's layout. Every record
/// of a database has the same layout; a few are read because any single
/// one may lack a field (an anycast network with no country, say).
const PROBE_RECORDS: usize = 256;

pub struct GeoDatabase {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    shape: Shape,
}

impl GeoDatabase {
    /// Reads the file into memory and finds its layout from a sample of records.
    pub fn open(path: &Path) -> Result<Self, EnrichError> {
        let reader = Reader::open_readfile(path).map_err(|e| EnrichError::opening(path.to_owned(), e))?;
        let keys = probe(&reader).map_err(|e| EnrichError::opening(path.to_owned(), e))?;
        let shape = Shape::from_keys(&keys);
        if !shape.location && !shape.asn {
            return Err(EnrichError::NoGeoFields {
                path: path.to_owned(),
                database_type: reader.metadata().database_type.clone(),
            });
        }
        Ok(Self { path: path.to_owned(), reader, shape })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The `database_type` its metadata declares, e.g. `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// What this database knows about `ip`; `None` when it has no record.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<GeoRecord>, MaxMindDbError> {
        // An IPv4-only file (ip-location-db's *-ipv4.mmdb) cannot answer for
        // IPv6; the reader would call the question itself an error.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let found = self.reader.lookup(ip)?;
        let record = match self.shape.schema {
            Schema::GeoIp2 => found.decode::<GeoIp2Record>()?.map(GeoRecord::from),
            Schema::Flat => found.decode::<FlatRecord>()?.map(GeoRecord::from),
        };
        Ok(record.filter(|r| !r.is_empty()))
    }
}

/// The layout keys found in up to [`PROBE_RECORDS`] records.
fn probe(reader: &Reader<Vec<u8>>) -> Result<ProbeKeys, MaxMindDbError> {
    let mut keys = ProbeKeys::default();
    for found in reader.networks(WithinOptions::default().skip_empty_values())?.take(PROBE_RECORDS) {
        if let Some(record) = found?.decode::<RecordProbe>()? {
            keys.add(&record);
        }
        if keys.settled() {
            break;
        }
    }
    Ok(keys)
}
