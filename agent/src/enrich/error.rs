//! What can go wrong while opening GeoIP databases, each naming the file.

use std::path::PathBuf;

use maxminddb::MaxMindDbError;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot read GeoIP database {}: {source}; check the path given to -g/--geoip-db", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "GeoIP database {} is corrupt or not a MaxMind DB (.mmdb) file: {source}; \
         download it again or pass another database with -g/--geoip-db",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        #[source]
        source: MaxMindDbError,
    },
    #[error(
        "GeoIP database {} (type \"{database_type}\") has no country, city or ASN fields; \
         pass a City, Country or ASN database (GeoLite2, GeoIP2, DB-IP Lite or ip-location-db)",
        path.display()
    )]
    NoGeoFields { path: PathBuf, database_type: String },
    #[error("no GeoIP database in directory {}: expected one of {names}", dir.display())]
    EmptyDirectory { dir: PathBuf, names: String },
}

impl EnrichError {
    /// Sorts a reader error into "could not read" and "not a database".
    pub(crate) fn opening(path: PathBuf, source: MaxMindDbError) -> Self {
        match source {
            MaxMindDbError::Io(source) => Self::Read { path, source },
            source => Self::Invalid { path, source },
        }
    }
}
