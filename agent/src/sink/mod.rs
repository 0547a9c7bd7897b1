//! Where records go.

mod ndjson;

pub use ndjson::{NdjsonWriter, OutputPath, SinkError};
