//! The lines of flowwatch output the dashboard shows, read leniently: only
//! the fields it displays, unknown fields and line types ignored, so it keeps
//! working across schema additions. A line that is not JSON at all is counted,
//! never dropped silently.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Seek, SeekFrom},
    net::IpAddr,
    path::PathBuf,
    thread,
    time::Duration,
};

use agent_common::counters::HookCounters;
use serde::Deserialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::event::Severity;

/// One line of flowwatch output, as far as the dashboard cares.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    Flow(FlowLine),
    Event(EventLine),
    Stats(StatsLine),
    /// `analysis` summaries and any future line type.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct FlowLine {
    #[serde(deserialize_with = "unix_seconds")]
    pub start: f64,
    #[serde(deserialize_with = "unix_seconds")]
    pub end: f64,
    pub proto: u8,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub orig_packets: u64,
    pub orig_bytes: u64,
    pub resp_packets: u64,
    pub resp_bytes: u64,
    #[serde(default)]
    pub anomaly: Option<bool>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EventLine {
    pub kind: String,
    pub severity: Severity,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub src_ip: Option<IpAddr>,
    #[serde(default)]
    pub dst_ip: Option<IpAddr>,
    #[serde(deserialize_with = "unix_seconds")]
    pub last_seen: f64,
    #[serde(default = "one")]
    pub occurrences: u64,
    #[serde(default)]
    pub remote: Option<Remote>,
}

fn one() -> u64 {
    1
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Remote {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StatsLine {
    #[serde(deserialize_with = "unix_seconds")]
    pub time: f64,
    pub ingress: HookCounters,
    pub egress: HookCounters,
    #[serde(default)]
    pub flows_active: u64,
    #[serde(default)]
    pub flows_evicted: u64,
    #[serde(default)]
    pub flows_unseen: u64,
    #[serde(default)]
    pub packets_unaccounted: u64,
    /// Present with `-w`.
    #[serde(default)]
    pub write: Option<WriteLine>,
}

impl StatsLine {
    /// Both hooks' counters added up.
    pub fn hooks(&self) -> HookCounters {
        HookCounters::total([&self.ingress, &self.egress])
    }
}

/// The `write` object of a stats line: only its loss counter is shown.
#[derive(Debug, Deserialize)]
pub struct WriteLine {
    /// Live only: samples the kernel could not hand over.
    #[serde(default)]
    pub ring_drops: Option<u64>,
}

/// RFC 3339 as fractional Unix seconds: the dashboard only does arithmetic on times.
fn unix_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let text = <&str>::deserialize(deserializer)?;
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(serde::de::Error::custom)?;
    Ok(at.unix_timestamp_nanos() as f64 / 1e9)
}

impl Line {
    /// `None` for a line that is not flowwatch output (the caller counts it).
    pub fn parse(text: &str) -> Option<Line> {
        serde_json::from_str(text).ok()
    }
}

/// One line of input as the dashboard takes it: blank lines (a writer's
/// trailing newline, a file padded by hand) are skipped, `Some(None)` is a
/// line that is not flowwatch output. Both readers go through here, so a
/// live dashboard and a snapshot count the same lines.
pub fn parse_input_line(text: &str) -> Option<Option<Line>> {
    (!text.trim().is_empty()).then(|| Line::parse(text))
}

/// Where the lines come from.
#[derive(Clone, Debug)]
pub enum InputSource {
    Stdin,
    /// A file; with `follow`, reading continues as it grows (and starts over
    /// when it is truncated or rotated), as `tail -F` does.
    File {
        path: PathBuf,
        follow: bool,
    },
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Stdin => f.write_str("stdin"),
            InputSource::File { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

/// How long a follower waits before looking at the file again.
const FOLLOW_PAUSE: Duration = Duration::from_millis(200);

/// Reads lines from an [`InputSource`], one at a time.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    /// Set when following a file: its path and how far it has been read.
    follow: Option<(PathBuf, u64)>,
    buffer: String,
}

impl LineReader {
    pub fn open(source: &InputSource) -> io::Result<Self> {
        Ok(match source {
            InputSource::Stdin => {
                Self { reader: Box::new(BufReader::new(io::stdin())), follow: None, buffer: String::new() }
            }
            InputSource::File { path, follow } => Self {
                reader: Box::new(BufReader::new(File::open(path)?)),
                follow: follow.then(|| (path.clone(), 0)),
                buffer: String::new(),
            },
        })
    }

    /// The next complete line (without its newline), or `None` at the end of
    /// input. A follower never ends: it waits for the file to grow. A partial
    /// last line is kept until its newline arrives.
    pub fn next_line(&mut self) -> io::Result<Option<&str>> {
        self.buffer.clear();
        loop {
            let read = self.reader.read_line(&mut self.buffer)?;
            if let Some((_, offset)) = &mut self.follow {
                *offset += read as u64;
            }
            if self.buffer.ends_with('\n') {
                let line = self.buffer.trim_end_matches(['\n', '\r']);
                return Ok(Some(line));
            }
            // Nothing read and no newline: the end of the input for now.
            if read == 0 {
                let Some((path, offset)) = &mut self.follow else {
                    // End of input; a last line without a newline still counts.
                    return Ok((!self.buffer.is_empty()).then_some(self.buffer.as_str()));
                };
                thread::sleep(FOLLOW_PAUSE);
                let length = std::fs::metadata(&*path)?.len();
                if length < *offset {
                    // Truncated or rotated: start over from the new beginning.
                    let mut file = File::open(&*path)?;
                    file.seek(SeekFrom::Start(0))?;
                    self.reader = Box::new(BufReader::new(file));
                    *offset = 0;
                    self.buffer.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_it_shows_and_ignores_the_rest() {
        let flow = r#"{"type":"flow","schema_version":1,"flow_id":7,"reason":"idle","start":"2024-03-05T09:00:00Z",
            "end":"2024-03-05T09:00:02.5Z","proto":6,"src_ip":"10.0.0.1","src_port":40000,"dst_ip":"10.0.0.2",
            "dst_port":443,"orig_packets":3,"orig_bytes":200,"resp_packets":2,"resp_bytes":1500,"new_field":[1]}"#;
        let Some(Line::Flow(flow)) = Line::parse(&flow.replace('\n', "")) else { panic!("not a flow line") };
        assert_eq!(flow.dst_port, 443);
        assert_eq!(flow.resp_bytes, 1500);
        assert!((flow.end - flow.start - 2.5).abs() < 1e-9);
        assert_eq!(flow.anomaly, None);
    }

    #[test]
    fn events_default_what_older_schemas_lack() {
        let event = r#"{"type":"event","kind":"flood","severity":"high","src_ip":null,"dst_ip":"10.10.10.10","last_seen":"2020-01-01T00:00:00Z"}"#;
        let Some(Line::Event(event)) = Line::parse(event) else { panic!("not an event line") };
        assert_eq!(event.severity, Severity::High);
        assert_eq!(event.src_ip, None);
        assert_eq!(event.occurrences, 1);
    }

    #[test]
    fn other_line_types_are_recognised_and_garbage_is_not() {
        assert!(matches!(Line::parse(r#"{"type":"analysis","flows_scored":3}"#), Some(Line::Other)));
        assert!(Line::parse("not json").is_none());
        assert!(Line::parse(r#"{"type":"flow","start":"yesterday"}"#).is_none());
    }

    #[test]
    fn blank_lines_are_skipped_and_garbage_is_counted_by_both_readers() {
        assert!(parse_input_line("").is_none());
        assert!(parse_input_line(" \t").is_none());
        assert!(matches!(parse_input_line("garbage"), Some(None)));
        assert!(matches!(parse_input_line(r#"{"type":"analysis"}"#), Some(Some(Line::Other))));
    }

    #[test]
    fn a_follower_sees_appended_lines_and_a_truncated_file_from_the_start() -> io::Result<()> {
        use std::io::Write;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, "one\ntw")?;
        let mut reader = LineReader::open(&InputSource::File { path: path.clone(), follow: true })?;
        assert_eq!(reader.next_line()?, Some("one"));
        let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
        file.write_all(b"o\n")?;
        assert_eq!(reader.next_line()?, Some("two"));
        std::fs::write(&path, "new\n")?;
        assert_eq!(reader.next_line()?, Some("new"));
        Ok(())
    }

    #[test]
    fn a_plain_file_ends_and_keeps_a_last_line_without_newline() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, "a\nb")?;
        let mut reader = LineReader::open(&InputSource::File { path, follow: false })?;
        assert_eq!(reader.next_line()?, Some("a"));
        assert_eq!(reader.next_line()?, Some("b"));
        assert_eq!(reader.next_line()?, None);
        Ok(())
    }
}
