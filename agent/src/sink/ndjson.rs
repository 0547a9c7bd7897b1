//! Newline-delimited JSON to a file or stdout, one object per line.

use std::{
    fmt,
    fs::OpenOptions,
    io::{self, Write},
    path::PathBuf,
    str::FromStr,
};

use serde::Serialize;

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
        self.buffer.push(b'\n');
        if self.buffer.len() >= FLUSH_AT {
            self.write_out()?;
        }
        Ok(())
    }

    /// One line that `encode` appends to the buffer itself, for records
    /// with an encoder faster than serde's (flow records).
    pub fn write_encoded(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<(), SinkError> {
        encode(&mut self.buffer);
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

    #[test]
    fn dash_is_stdout() {
        assert_eq!("-".parse::<OutputPath>().ok(), Some(OutputPath::Stdout));
    }
}
