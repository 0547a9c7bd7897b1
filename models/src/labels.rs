//! Ground truth for evaluation: which addresses were malicious, and when.
//!
//! A labels file is CSV with the header `kind,attacker,victim,start,end`:
//! - `kind`: an [`AnomalyKind`] name (`port_scan`, `flood`, …);
//! - `attacker`, `victim`: IP addresses, either may be empty (a flood from
//!   spoofed sources names only its victim);
//! - `start`, `end`: Unix-epoch seconds (fractions allowed), both empty for
//!   "the whole capture".
//!
//! A flow is malicious under a label when it overlaps the label's time range
//! and involves the attacker — or, for a label without an attacker, the
//! victim. The victim alone is not enough when an attacker is named, because
//! a scanned server keeps serving its benign clients during the scan.
//! Lines starting with `#` are comments.

use std::{
    fs::File,
    io::{self, Read, Write},
    net::IpAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{AnomalyKind, FlowObservation};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub kind: AnomalyKind,
    pub attacker: Option<IpAddr>,
    pub victim: Option<IpAddr>,
    /// Unix-epoch seconds.
    pub start: Option<f64>,
    pub end: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("cannot read labels file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("labels file {path}, record {record}: {source} (expected columns kind,attacker,victim,start,end)")]
    Parse {
        path: PathBuf,
        record: u64,
        #[source]
        source: csv::Error,
    },
    #[error("labels file {path}, record {record}: a label needs an attacker or a victim address")]
    NoAddress { path: PathBuf, record: u64 },
    #[error("writing labels failed: {0}")]
    Write(#[from] csv::Error),
}

impl Label {
    /// True when `flow` is malicious under this label (see the module docs).
    pub fn matches(&self, flow: &FlowObservation) -> bool {
        let start_s = flow.start_ns as f64 / 1e9;
        let end_s = flow.end_ns as f64 / 1e9;
        if self.start.is_some_and(|start| end_s < start) || self.end.is_some_and(|end| start_s > end) {
            return false;
        }
        match (self.attacker, self.victim) {
            (Some(attacker), _) => flow.involves(attacker),
            (None, Some(victim)) => flow.involves(victim),
            (None, None) => false,
        }
    }
}

/// All labels of one evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels(pub Vec<Label>);

impl Labels {
    pub fn load(path: &Path) -> Result<Self, LabelError> {
        let file = File::open(path).map_err(|source| LabelError::Io { path: path.to_owned(), source })?;
        Self::read(file, path)
    }

    /// `origin` names the input in errors.
    pub fn read(input: impl Read, origin: &Path) -> Result<Self, LabelError> {
        let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(input);
        let mut labels = Vec::new();
        for (index, row) in reader.deserialize::<Label>().enumerate() {
            let record = index as u64 + 1;
            let label = row.map_err(|source| LabelError::Parse { path: origin.to_owned(), record, source })?;
            if label.attacker.is_none() && label.victim.is_none() {
                return Err(LabelError::NoAddress { path: origin.to_owned(), record });
            }
            labels.push(label);
        }
        Ok(Self(labels))
    }

    pub fn write(&self, output: impl Write) -> Result<(), LabelError> {
        let mut writer = csv::Writer::from_writer(output);
        for label in &self.0 {
            writer.serialize(label)?;
        }
        writer.flush().map_err(csv::Error::from)?;
        Ok(())
    }

    /// The first label under which `flow` is malicious, if any.
    pub fn classify(&self, flow: &FlowObservation) -> Option<&Label> {
        self.0.iter().find(|label| label.matches(flow))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::DirectionSummary;

    fn flow(src: [u8; 4], dst: [u8; 4], start_s: u64, end_s: u64) -> FlowObservation {
        FlowObservation {
            flow_id: 1,
            start_ns: start_s * 1_000_000_000,
            end_ns: end_s * 1_000_000_000,
            proto: 6,
            src_ip: Ipv4Addr::from(src).into(),
            src_port: 40000,
            dst_ip: Ipv4Addr::from(dst).into(),
            dst_port: 80,
            ended: true,
            orig: DirectionSummary::default(),
            resp: DirectionSummary::default(),
        }
    }

    #[test]
    fn parses_and_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let text =
            "kind,attacker,victim,start,end\n# a comment\nport_scan,10.0.0.9,10.0.0.1,100,200.5\nflood,,192.0.2.1,,\n";
        let labels = Labels::read(text.as_bytes(), Path::new("test.csv"))?;
        assert_eq!(labels.0.len(), 2);
        assert_eq!(labels.0[0].kind, AnomalyKind::PortScan);
        assert_eq!(labels.0[0].end, Some(200.5));
        assert_eq!(labels.0[1].attacker, None);
        let mut out = Vec::new();
        labels.write(&mut out)?;
        assert_eq!(Labels::read(out.as_slice(), Path::new("again.csv"))?, labels);
        Ok(())
    }

    #[test]
    fn attacker_wins_over_victim_and_time_bounds_apply() -> Result<(), Box<dyn std::error::Error>> {
        let text = "kind,attacker,victim,start,end\nport_scan,10.0.0.9,10.0.0.1,100,200\nflood,,192.0.2.1,,\n";
        let labels = Labels::read(text.as_bytes(), Path::new("t.csv"))?;
        assert!(labels.classify(&flow([10, 0, 0, 9], [10, 0, 0, 1], 150, 160)).is_some());
        // The scanned server's benign client is not malicious.
        assert!(labels.classify(&flow([10, 0, 0, 5], [10, 0, 0, 1], 150, 160)).is_none());
        // Outside the time range.
        assert!(labels.classify(&flow([10, 0, 0, 9], [10, 0, 0, 1], 300, 310)).is_none());
        // Victim-only label: anything touching the victim, any time.
        let hit = labels.classify(&flow([198, 51, 100, 7], [192, 0, 2, 1], 5, 6));
        assert_eq!(hit.map(|label| label.kind), Some(AnomalyKind::Flood));
        Ok(())
    }

    #[test]
    fn rejects_bad_rows_with_their_number() {
        let text = "kind,attacker,victim,start,end\nport_scan,10.0.0.9,,,\nscan,10.0.0.9,,,\n";
        let err = Labels::read(text.as_bytes(), Path::new("bad.csv")).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("bad.csv") && e.contains("record 2")), "{err:?}");
        let text = "kind,attacker,victim,start,end\nflood,,,,\n";
        let err = Labels::read(text.as_bytes(), Path::new("bad.csv")).err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("attacker or a victim")), "{err:?}");
    }
}
