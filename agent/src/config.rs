//! The TOML config file (`--config PATH`).
//!
//! Each table holds the settings of one part of the agent, with the same
//! names and spellings as its command-line flags; unknown keys are errors,
//! reported with their line. A setting given on the command line wins over
//! the file's, setting by setting (a list such as `--mail-to` replaces the
//! file's list as a whole); defaults apply to what neither gives.
//!
//! ```toml
//! [sinks]
//! alert_level = "medium"
//!
//! [sinks.events]
//! path = "/var/log/flowwatch/events.ndjson"
//! max_size = "50MiB"
//! keep = 10
//!
//! [sinks.webhook]
//! url = "https://hooks.example.org/flowwatch"
//! level = "high"
//!
//! [detectors.port_scan]
//! # see README "Detectors" for every setting and its default
//! ```

use std::{
    io,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::{detect::DetectorsConfig, sink::SinkSettings};

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[sinks]`: where alerts and flow exports go.
    #[serde(default)]
    pub sinks: SinkSettings,
    /// `[detectors]`: thresholds and windows of the rule detectors.
    #[serde(default)]
    pub detectors: DetectorsConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// toml's message gives the line and column and quotes the line.
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{setting}: {problem}")]
    Invalid { setting: String, problem: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
