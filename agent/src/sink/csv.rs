//! Flow records as CSV (`--csv PATH`): one header row, then one flat row per
//! record. The per-direction statistics are flattened as `orig_*`/`resp_*`;
//! packet-property flags are joined with `|`.

use std::{
    fs::File,
    io::{self, Write},
    time::Instant,
};

use tracing::warn;

use super::{
    OutputPath, SinkStartError,
    rate_limit::RateLimitedWarning,
    stats::{Counters, SinkStats},
};
use crate::flow::{DirectionStats, FlowRecord};

/// The record's own columns, in schema order (`type` and `schema_version`
/// are the same on every row and left out).
const FLOW_COLUMNS: [&str; 22] = [
    "flow_id",
    "reason",
    "start",
    "end",
    "duration",
    "interface",
    "ifindex",
    "vlan",
    "inner_vlan",
    "proto",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "orig_direction",
    "orig_packets",
    "orig_bytes",
    "resp_packets",
    "resp_bytes",
    "tcp_flags",
    "score",
    "anomaly",
];

/// Per-direction columns, prefixed `orig_` and `resp_`.
const DIRECTION_COLUMNS: [&str; 13] = [
    "tcp_flags",
    "syn",
    "fin",
    "rst",
    "len_min",
    "len_max",
    "len_mean",
    "len_stddev",
    "iat_min_ms",
    "iat_max_ms",
    "iat_mean_ms",
    "iat_stddev_ms",
    "flags",
];

/// The header row.
pub fn flow_csv_header() -> Vec<String> {
    let direction = |prefix: &str| DIRECTION_COLUMNS.map(|column| format!("{prefix}_{column}"));
    FLOW_COLUMNS.iter().map(|column| column.to_string()).chain(direction("orig")).chain(direction("resp")).collect()
}

/// One row, in header order.
fn flow_row(r: &FlowRecord) -> Vec<String> {
    let own = [
        r.flow_id.to_string(),
        r.reason.as_str().to_owned(),
        r.start.to_string(),
        r.end.to_string(),
        r.duration.to_string(),
        r.interface.to_string(),
        r.ifindex.to_string(),
        r.vlan.to_string(),
        r.inner_vlan.to_string(),
        r.proto.to_string(),
        r.src_ip.to_string(),
        r.src_port.to_string(),
        r.dst_ip.to_string(),
        r.dst_port.to_string(),
        r.orig_direction.to_owned(),
        r.orig_packets.to_string(),
        r.orig_bytes.to_string(),
        r.resp_packets.to_string(),
        r.resp_bytes.to_string(),
        r.tcp_flags.as_str().to_owned(),
        // Empty without a model.
        r.score.map(|score| score.to_string()).unwrap_or_default(),
        r.anomaly.map(|anomaly| anomaly.to_string()).unwrap_or_default(),
    ];
    own.into_iter().chain(direction_row(&r.orig)).chain(direction_row(&r.resp)).collect()
}

fn direction_row(d: &DirectionStats) -> [String; 13] {
    [
        d.tcp_flags.as_str().to_owned(),
        d.syn.to_string(),
        d.fin.to_string(),
        d.rst.to_string(),
        d.len_min.to_string(),
        d.len_max.to_string(),
        d.len_mean.to_string(),
        d.len_stddev.to_string(),
        d.iat_min_ms.to_string(),
        d.iat_max_ms.to_string(),
        d.iat_mean_ms.to_string(),
        d.iat_stddev_ms.to_string(),
        d.flags.names().collect::<Vec<_>>().join("|"),
    ]
}

/// Writes flow records as CSV. Like the NDJSON flow output, a file is
/// truncated when opened (one run, one file, one header).
pub struct FlowCsvSink {
    writer: csv::Writer<Box<dyn Write + Send>>,
    target: String,
    counters: Counters,
    failure_warning: RateLimitedWarning,
}

impl FlowCsvSink {
    pub fn open(path: &OutputPath) -> Result<Self, SinkStartError> {
        let out: Box<dyn Write + Send> = match path {
            OutputPath::Stdout => Box::new(io::stdout()),
            OutputPath::File(file) => Box::new(File::create(file).map_err(|source| SinkStartError::Open {
                what: "CSV flow records",
                path: file.clone(),
                source,
            })?),
        };
        let mut writer = csv::Writer::from_writer(out);
        let target = path.to_string();
        writer
            .write_record(flow_csv_header())
            .map_err(|source| SinkStartError::CsvHeader { path: target.clone(), source })?;
        Ok(Self { writer, target, counters: Counters::default(), failure_warning: RateLimitedWarning::default() })
    }

    pub fn write(&mut self, record: &FlowRecord) {
        self.counters.accepted();
        match self.writer.write_record(flow_row(record)) {
            Ok(()) => self.counters.delivered(1),
            Err(error) => {
                self.counters.failed(1);
                if let Some(failures) = self.failure_warning.record(Instant::now()) {
                    warn!(target = %self.target, failures, "cannot write CSV flow records: {error}");
                }
            }
        }
    }

    /// Rows are buffered; call after each poll so readers see them.
    pub fn flush(&mut self) {
        if let Err(error) = self.writer.flush()
            && self.failure_warning.record(Instant::now()).is_some()
        {
            warn!(target = %self.target, "cannot flush CSV flow records: {error}");
        }
    }

    pub fn stats(&self) -> SinkStats {
        SinkStats { sink: "csv", target: self.target.clone(), level: None, counts: self.counters.snapshot() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{DeliveryCounts, test_support::flow_record};

    #[test]
    fn header_and_a_record_with_exact_values() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("flows.csv");
        let mut sink = FlowCsvSink::open(&OutputPath::File(path.clone()))?;
        sink.write(&flow_record());
        sink.flush();
        assert_eq!(sink.stats().counts, DeliveryCounts { accepted: 1, delivered: 1, ..DeliveryCounts::default() });
        let text = std::fs::read_to_string(&path)?;
        let expected = "flow_id,reason,start,end,duration,interface,ifindex,vlan,inner_vlan,proto,\
            src_ip,src_port,dst_ip,dst_port,orig_direction,orig_packets,orig_bytes,resp_packets,resp_bytes,tcp_flags,score,anomaly,\
            orig_tcp_flags,orig_syn,orig_fin,orig_rst,orig_len_min,orig_len_max,orig_len_mean,orig_len_stddev,\
            orig_iat_min_ms,orig_iat_max_ms,orig_iat_mean_ms,orig_iat_stddev_ms,orig_flags,\
            resp_tcp_flags,resp_syn,resp_fin,resp_rst,resp_len_min,resp_len_max,resp_len_mean,resp_len_stddev,\
            resp_iat_min_ms,resp_iat_max_ms,resp_iat_mean_ms,resp_iat_stddev_ms,resp_flags\n\
            9,idle,2024-05-01T12:00:00.000000001Z,2024-05-01T12:00:01.5Z,1.5,eth0,2,0,0,6,\
            10.0.0.1,40000,2001:db8::1,443,egress,10,2505,8,9000,FSPA,,,\
            FSPA,1,1,0,60,1514,250.5,12.25,0.5,20,3.125,1.5,gso,\
            FSA,1,1,0,54,1500,250.5,12.25,0.5,20,3.125,1.5,fragment|ip_options\n";
        assert_eq!(text, expected);
        Ok(())
    }

    /// Every leaf of the record's JSON has a column with the same value, so
    /// a field added to `FlowRecord` cannot silently go missing from the CSV.
    #[test]
    fn columns_match_the_json_record_field_for_field() -> Result<(), serde_json::Error> {
        // Scored, so the optional model columns are in the JSON too.
        let record = FlowRecord { score: Some(0.25), anomaly: Some(true), ..flow_record() };
        let mut json = serde_json::Map::new();
        flatten("", &serde_json::to_value(&record)?, &mut json);
        json.remove("type");
        json.remove("schema_version");
        let csv: serde_json::Map<String, serde_json::Value> = flow_csv_header()
            .into_iter()
            .zip(flow_row(&record))
            .map(|(column, value)| (column, serde_json::Value::String(value)))
            .collect();
        assert_eq!(csv, json);
        Ok(())
    }

    /// Nested objects become `outer_inner` keys; scalars and arrays become
    /// the strings the CSV holds (arrays joined with `|`).
    fn flatten(prefix: &str, value: &serde_json::Value, out: &mut serde_json::Map<String, serde_json::Value>) {
        use serde_json::Value;
        let key = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}_{name}") };
        match value {
            Value::Object(fields) => fields.iter().for_each(|(name, value)| flatten(&key(name), value, out)),
            Value::Array(items) => {
                let joined: Vec<String> = items.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect();
                out.insert(prefix.to_owned(), Value::String(joined.join("|")));
            }
            Value::String(text) => {
                out.insert(prefix.to_owned(), Value::String(text.clone()));
            }
            Value::Number(number) => {
                let text = number.as_f64().filter(|_| number.is_f64()).map_or(number.to_string(), |f| f.to_string());
                out.insert(prefix.to_owned(), Value::String(text));
            }
            other => {
                out.insert(prefix.to_owned(), Value::String(other.to_string()));
            }
        }
    }
}
