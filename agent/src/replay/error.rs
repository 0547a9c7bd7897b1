//! What can go wrong while replaying, each naming the input and, for bad
//! bytes, where in it.

use std::io;

use crate::flow::SourceError;

use super::link::SUPPORTED_LINK_TYPES;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot open {input}: {source}")]
    Open {
        input: String,
        #[source]
        source: io::Error,
    },
    #[error("{input}: reading failed at byte offset {offset}: {source}")]
    Read {
        input: String,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("{input}: empty input, not a pcap or pcapng file")]
    Empty { input: String },
    #[error("{input}: not a pcap or pcapng file (unrecognised file header)")]
    NotACapture { input: String },
    #[error("{input}: truncated at byte offset {offset}: the file ends inside a {what}")]
    Truncated { input: String, offset: u64, what: &'static str },
    #[error("{input}: corrupt capture at byte offset {offset}: {detail}")]
    Corrupt { input: String, offset: u64, detail: String },
    #[error("{input}: link type {link_type} ({name}) is not supported; supported: {SUPPORTED_LINK_TYPES}")]
    UnsupportedLinkType { input: String, link_type: u32, name: &'static str },
    #[error(
        "{input}: corrupt pcapng at byte offset {offset}: packet on interface {interface}, but the section describes {described} interface(s)"
    )]
    UnknownInterface { input: String, offset: u64, interface: u32, described: usize },
    #[error("{input}: corrupt pcapng at byte offset {offset}: packet before any section header")]
    NoSection { input: String, offset: u64 },
    #[error(
        "{input}: corrupt pcapng at byte offset {offset}: interface {interface} has an invalid timestamp resolution (if_tsresol {tsresol:#04x})"
    )]
    BadTimestampResolution { input: String, offset: u64, interface: u32, tsresol: u8 },
    #[error("reading the replay flow table: {0}")]
    Source(#[from] SourceError),
    #[error("writing records failed: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("--poll-interval must be greater than zero")]
    ZeroPollInterval,
}
