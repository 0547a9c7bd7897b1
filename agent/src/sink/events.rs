//! Alert events as NDJSON, one object per line, to stdout or to a file that
//! is appended to and optionally rotated by size.

use std::{
    io::{self, Write},
    time::Instant,
};

use tracing::warn;

use super::{
    EventSink, OutputPath, SinkStartError,
    rate_limit::RateLimitedWarning,
    rotating_file::{RotatingFile, Rotation},
    stats::{Counters, DeliveryCounts},
};
use crate::event::{Event, Severity};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    pub path: OutputPath,
    pub level: Severity,
    /// Files only; `None` lets the file grow.
    pub rotation: Option<Rotation>,
}

enum Output {
    Stdout,
    File(RotatingFile),
}

/// Events are rare next to flow records, so every line is written and
/// flushed as it comes: a reader (`tail -f`, a log shipper) sees an alert at
/// once, and a crash loses none that were reported as delivered.
pub struct EventsSink {
    output: Output,
    target: String,
    line: Vec<u8>,
    counters: Counters,
    failure_warning: RateLimitedWarning,
}

impl EventsSink {
    pub fn open(config: &EventsConfig) -> Result<Self, SinkStartError> {
        let output = match &config.path {
            OutputPath::Stdout => Output::Stdout,
            OutputPath::File(path) => {
                Output::File(RotatingFile::open(path, config.rotation).map_err(|source| SinkStartError::Open {
                    what: "events",
                    path: path.clone(),
                    source,
                })?)
            }
        };
        Ok(Self {
            output,
            target: config.path.to_string(),
            line: Vec::with_capacity(1024),
            counters: Counters::default(),
            failure_warning: RateLimitedWarning::default(),
        })
    }

    fn write(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, event)?;
        self.line.push(b'\n');
        match &mut self.output {
            Output::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(&self.line)?;
                stdout.flush()
            }
            Output::File(file) => file.write_line(&self.line),
        }
    }
}

impl EventSink for EventsSink {
    fn name(&self) -> &'static str {
        "events"
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn deliver(&mut self, event: &Event) {
        self.counters.accepted();
        match self.write(event) {
            Ok(()) => self.counters.delivered(1),
            Err(error) => {
                self.counters.failed(1);
                if let Some(failures) = self.failure_warning.record(Instant::now()) {
                    warn!(target = %self.target, failures, "cannot write alert events: {error}");
                }
            }
        }
    }

    /// Nothing is buffered: every line is written as it is delivered.
    fn flush(&mut self) {}

    fn stats(&self) -> DeliveryCounts {
        self.counters.snapshot()
    }

    fn close(self: Box<Self>, _deadline: Instant) -> DeliveryCounts {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::test_support::event;

    #[test]
    fn appends_one_json_object_per_line_across_opens() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.ndjson");
        let config = EventsConfig { path: OutputPath::File(path.clone()), level: Severity::Low, rotation: None };
        for id in [1, 2] {
            let mut sink = EventsSink::open(&config)?;
            sink.deliver(&event(id));
            let counts = Box::new(sink).close(Instant::now());
            assert_eq!(counts, DeliveryCounts { accepted: 1, delivered: 1, ..DeliveryCounts::default() });
        }
        let text = std::fs::read_to_string(&path)?;
        let expected = format!("{}\n{}\n", serde_json::to_string(&event(1))?, serde_json::to_string(&event(2))?);
        assert_eq!(text, expected);
        Ok(())
    }

    #[test]
    fn rotates_whole_events() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.ndjson");
        let line_len = serde_json::to_string(&event(1))?.len() as u64 + 1;
        // Room for two events per file.
        let rotation = Rotation { max_size: 2 * line_len + 1, keep: 5 };
        let config =
            EventsConfig { path: OutputPath::File(path.clone()), level: Severity::Low, rotation: Some(rotation) };
        let mut sink = EventsSink::open(&config)?;
        for id in 1..=3 {
            sink.deliver(&event(id));
        }
        let line = |id| serde_json::to_string(&event(id)).map(|json| json + "\n");
        assert_eq!(std::fs::read_to_string(&path)?, line(3)?);
        assert_eq!(std::fs::read_to_string(dir.path().join("events.ndjson.1"))?, line(1)? + &line(2)?);
        Ok(())
    }

    #[test]
    fn an_unwritable_path_is_a_start_error_naming_it() {
        let config = EventsConfig {
            path: OutputPath::File("/nonexistent-dir/events.ndjson".into()),
            level: Severity::Low,
            rotation: None,
        };
        let error = EventsSink::open(&config).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("cannot open /nonexistent-dir/events.ndjson for events: No such file or directory (os error 2)")
        );
    }
}
