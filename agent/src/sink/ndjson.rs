//! Newline-delimited JSON to a file or stdout, one object per line.

use std::{
    fmt,
    fs::OpenOptions,
    io::{self, Write},
    path::PathBuf,
    str::FromStr,
};

use serde::Serialize;

use crate::flow::FlowRecord;

/// `-` means stdout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputPath {
    Stdout,
    File(PathBuf),
}

impl FromStr for OutputPath {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "-" { Self::Stdout } else { Self::File(PathBuf::from(s)) })
    }
}

deserialize_from_str!(OutputPath);

impl fmt::Display for OutputPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("-"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open {path} for writing: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing records failed: {0}")]
    Write(#[from] io::Error),
    #[error("encoding a record failed: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Lines are encoded straight into one reused buffer (no per-record
/// allocation; `Vec` writes are the fast path for serde_json) that goes to
/// the output whenever it passes [`FLUSH_AT`] bytes and at every flush.
pub struct NdjsonWriter {
    out: Box<dyn Write + Send>,
    buffer: Vec<u8>,
}

/// Buffered bytes that trigger a write to the output.
const FLUSH_AT: usize = 1 << 16;

impl NdjsonWriter {
    /// Files are truncated: one run, one file.
    pub fn open(path: &OutputPath) -> Result<Self, SinkError> {
        let out: Box<dyn Write + Send> = match path {
            OutputPath::Stdout => Box::new(io::stdout()),
            OutputPath::File(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(path)
                    .map_err(|source| SinkError::Open { path: path.clone(), source })?,
            ),
        };
        Ok(Self { out, buffer: Vec::with_capacity(FLUSH_AT + 4096) })
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<(), SinkError> {
        let line_start = self.buffer.len();
        if let Err(err) = serde_json::to_writer(&mut self.buffer, record) {
            // Never leave half a line behind.
            self.buffer.truncate(line_start);
            return Err(err.into());
        }
        self.end_line()
    }

    /// One flow record, through its own encoder rather than serde's: the
    /// same bytes ([`FlowRecord::write_json`]), at a fraction of the cost.
    pub fn write_flow(&mut self, record: &FlowRecord<'_>) -> Result<(), SinkError> {
        record.write_json(&mut self.buffer);
        self.end_line()
    }

    fn end_line(&mut self) -> Result<(), SinkError> {
        self.buffer.push(b'\n');
        if self.buffer.len() >= FLUSH_AT {
            self.write_out()?;
        }
        Ok(())
    }

    /// Called after every poll, so readers see complete lines promptly.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.write_out()?;
        self.out.flush()?;
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), SinkError> {
        let written = self.out.write_all(&self.buffer);
        // Dropped on failure too: a failed write ends the run.
        self.buffer.clear();
        Ok(written?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_object_per_line() -> Result<(), Box<dyn std::error::Error>> {
        let file = tempfile::NamedTempFile::new()?;
        let mut writer = NdjsonWriter::open(&OutputPath::File(file.path().to_owned()))?;
        #[derive(serde::Serialize)]
        struct Line {
            kind: &'static str,
            n: u32,
        }
        writer.write(&Line { kind: "flow", n: 1 })?;
        writer.write(&Line { kind: "stats", n: 2 })?;
        writer.flush()?;
        let text = std::fs::read_to_string(file.path())?;
        assert_eq!(text, "{\"kind\":\"flow\",\"n\":1}\n{\"kind\":\"stats\",\"n\":2}\n");
        Ok(())
    }

    /// A type serde_json refuses (a map with non-string keys) after a good line.
    #[test]
    fn a_record_that_fails_to_encode_leaves_no_partial_line() -> Result<(), Box<dyn std::error::Error>> {
        let file = tempfile::NamedTempFile::new()?;
        let mut writer = NdjsonWriter::open(&OutputPath::File(file.path().to_owned()))?;
        writer.write(&[1, 2])?;
        let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(matches!(writer.write(&bad), Err(SinkError::Encode(_))));
        writer.write(&[3])?;
        writer.flush()?;
        assert_eq!(std::fs::read_to_string(file.path())?, "[1,2]\n[3]\n");
        Ok(())
    }

    #[test]
    fn lines_past_the_buffer_size_reach_the_file_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let file = tempfile::NamedTempFile::new()?;
        let mut writer = NdjsonWriter::open(&OutputPath::File(file.path().to_owned()))?;
        let lines = 3 * FLUSH_AT / 8;
        for n in 0..lines {
            writer.write(&n)?;
        }
        writer.flush()?;
        let text = std::fs::read_to_string(file.path())?;
        let expected: String = (0..lines).map(|n| format!("{n}\n")).collect();
        assert_eq!(text, expected);
        Ok(())
    }

    /// A flow record is one line of the bytes its encoder writes.
    #[test]
    fn flow_records_are_lines_of_their_encoding() -> Result<(), Box<dyn std::error::Error>> {
        let file = tempfile::NamedTempFile::new()?;
        let mut writer = NdjsonWriter::open(&OutputPath::File(file.path().to_owned()))?;
        let record = crate::sink::test_support::flow_record();
        writer.write(&[1])?;
        writer.write_flow(&record)?;
        writer.flush()?;
        let mut expected = b"[1]\n".to_vec();
        record.write_json(&mut expected);
        expected.push(b'\n');
        assert_eq!(std::fs::read(file.path())?, expected);
        Ok(())
    }

    #[test]
    fn dash_is_stdout() {
        assert_eq!("-".parse::<OutputPath>().ok(), Some(OutputPath::Stdout));
    }
}
