//! The model file: one self-describing file per model.
//!
//! Layout (little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `FLOWWMDL` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | payload length |
//! | 4 | CRC-32 of the payload |
//! | … | payload: the [`Model`] as JSON, zlib-compressed |
//!
//! JSON keeps the file inspectable (`tail -c +25 model.fwm | zlib-flate
//! -uncompress | jq .training`) and extensible (a new field with a serde
//! default reads old files); compression keeps 100 trees well under 1 MB.
//! The header lets a reader tell apart, with a message for each: not a
//! model file, a model of another format version, a truncated copy, a
//! damaged one, and a model trained on another feature schema.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use flate2::{Compression, read::ZlibDecoder, write::ZlibEncoder};

use crate::{FeatureSchema, Model};

pub const MAGIC: &[u8; 8] = b"FLOWWMDL";
/// Bump when the layout above or the meaning of the JSON changes in a way
/// old readers would misread.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;
/// A model is well under this once decompressed; more means a damaged or hostile file.
const MAX_PAYLOAD_JSON: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write model file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path} is not a flowwatch model file (it does not start with \"FLOWWMDL\"); pass a file written by `flowwatch train`"
    )]
    NotAModel { path: PathBuf },
    #[error(
        "{path} is a model file of format version {found}, this flowwatch reads version {supported}; retrain it with this flowwatch (`flowwatch train`)"
    )]
    FormatVersion { path: PathBuf, found: u32, supported: u32 },
    #[error("{path} is truncated: {actual} bytes, the header promises {expected}; copy it again or retrain")]
    Truncated { path: PathBuf, expected: u64, actual: u64 },
    #[error("{path} is corrupt: {reason}; copy it again or retrain")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} was trained on another feature schema ({difference}); retrain it with this flowwatch")]
    SchemaMismatch { path: PathBuf, difference: String },
    #[error("cannot encode the model: {0}")]
    Encode(#[source] io::Error),
}

impl Model {
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let bytes = self.to_bytes()?;
        fs::write(path, bytes).map_err(|source| ModelFileError::Write { path: path.to_owned(), source })
    }

    pub fn load(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = fs::read(path).map_err(|source| ModelFileError::Read { path: path.to_owned(), source })?;
        Self::from_bytes(&bytes, path)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelFileError> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        serde_json::to_writer(&mut encoder, self).map_err(|e| ModelFileError::Encode(e.into()))?;
        let payload = encoder.finish().map_err(ModelFileError::Encode)?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.write_all(&payload).map_err(ModelFileError::Encode)?;
        Ok(bytes)
    }

    /// `origin` names the file in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self, ModelFileError> {
        let path = || origin.to_owned();
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelFileError::NotAModel { path: path() });
        }
        let header = bytes.get(..HEADER_LEN).ok_or_else(|| ModelFileError::Truncated {
            path: path(),
            expected: HEADER_LEN as u64,
            actual: bytes.len() as u64,
        })?;
        let field = |range: std::ops::Range<usize>| &header[range];
        let version = u32::from_le_bytes(le_array(field(8..12)));
        if version != FORMAT_VERSION {
            return Err(ModelFileError::FormatVersion { path: path(), found: version, supported: FORMAT_VERSION });
        }
        let payload_len = u64::from_le_bytes(le_array(field(12..20)));
        let checksum = u32::from_le_bytes(le_array(field(20..24)));
        let payload = &bytes[HEADER_LEN..];
        let expected = (HEADER_LEN as u64).saturating_add(payload_len);
        if (payload.len() as u64) < payload_len {
            return Err(ModelFileError::Truncated { path: path(), expected, actual: bytes.len() as u64 });
        }
        if payload.len() as u64 > payload_len {
            let reason = format!("{} bytes after the model's {expected}", payload.len() as u64 - payload_len);
            return Err(ModelFileError::Corrupt { path: path(), reason });
        }
        if crc32fast::hash(payload) != checksum {
            return Err(ModelFileError::Corrupt { path: path(), reason: "checksum mismatch".to_owned() });
        }
        let mut json = Vec::new();
        ZlibDecoder::new(payload)
            .take(MAX_PAYLOAD_JSON)
            .read_to_end(&mut json)
            .map_err(|e| ModelFileError::Corrupt { path: path(), reason: format!("cannot decompress: {e}") })?;
        let model: Model = serde_json::from_slice(&json)
            .map_err(|e| ModelFileError::Corrupt { path: path(), reason: format!("cannot decode: {e}") })?;
        if let Some(difference) = model.schema().difference(&FeatureSchema::current()) {
            return Err(ModelFileError::SchemaMismatch { path: path(), difference });
        }
        if let Some(reason) = model.inconsistency() {
            return Err(ModelFileError::Corrupt { path: path(), reason });
        }
        Ok(model)
    }
}

/// The header fields are fixed slices of a checked-length header.
fn le_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}
