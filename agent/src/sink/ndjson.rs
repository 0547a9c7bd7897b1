//! Newline-delimited JSON to a file or stdout, one object per line.

use std::{
    fmt,
    fs::OpenOptions,
    io::{self, BufWriter, Write},
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

pub struct NdjsonWriter {
    out: BufWriter<Box<dyn Write + Send>>,
}

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
        Ok(Self { out: BufWriter::with_capacity(1 << 16, out) })
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<(), SinkError> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Called after every poll, so readers see complete lines promptly.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
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

    #[test]
    fn dash_is_stdout() {
        assert_eq!("-".parse::<OutputPath>().ok(), Some(OutputPath::Stdout));
    }
}
