//! The agent's NDJSON output, typed, and flow totals per key.

use crate::key::FlowKey;
use anyhow::{Context, Result, anyhow, bail, ensure};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One `"type":"flow"` line (fields the tests use; others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct FlowRecord {
    pub schema_version: u64,
    pub flow_id: u64,
    pub reason: String,
    pub interface: String,
    pub ifindex: u32,
    pub vlan: u16,
    pub inner_vlan: u16,
    pub proto: u8,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub orig_direction: String,
    pub orig_packets: u64,
    pub orig_bytes: u64,
    pub resp_packets: u64,
    pub resp_bytes: u64,
    pub tcp_flags: String,
    pub orig: DirectionDetail,
    pub resp: DirectionDetail,
}

/// The `orig`/`resp` objects of a flow line (fields the tests use).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DirectionDetail {
    /// Packet flags seen: `fragment`, `first_fragment`, `ip_options`, `qinq`, `gso`.
    pub flags: BTreeSet<String>,
}

impl FlowRecord {
    pub fn key(&self) -> FlowKey {
        FlowKey {
            src_ip: self.src_ip,
            src_port: self.src_port,
            dst_ip: self.dst_ip,
            dst_port: self.dst_port,
            proto: self.proto,
            vlan: self.vlan,
            inner_vlan: self.inner_vlan,
        }
    }
}

/// What one hook counted (the `ingress`/`egress` objects of a stats line):
/// the kernel's own counter struct, as the agent writes it.
pub use agent_common::counters::HookCounters as HookStats;

/// One `"type":"stats"` line.
#[derive(Clone, Debug, Deserialize)]
pub struct StatsRecord {
    pub schema_version: u64,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub ingress: HookStats,
    pub egress: HookStats,
    pub flows_emitted: u64,
    pub flow_packets: u64,
    pub flows_evicted: u64,
    pub flows_unseen: u64,
    pub packets_unaccounted: u64,
    /// `-f`: present when a filter was given.
    #[serde(default)]
    pub filter: Option<FilterStats>,
    /// `-w`: present when packets were written to a file.
    #[serde(default)]
    pub write: Option<WriteStats>,
}

/// The `filter` and `write` objects of a stats line: the agent's own types,
/// so a field added there is read here too.
pub use agent::{dump::WriteStats, filter::FilterStats};

/// A flow's records added up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowTotals {
    pub records: usize,
    pub orig_packets: u64,
    pub orig_bytes: u64,
    pub resp_packets: u64,
    pub resp_bytes: u64,
    pub orig_directions: BTreeSet<String>,
    pub reasons: BTreeSet<String>,
    pub interfaces: BTreeSet<String>,
    /// Union of the `tcp_flags` letters over the records.
    pub tcp_flags: BTreeSet<char>,
}

/// Everything the agent wrote, plus its stderr.
#[derive(Clone, Debug, Default)]
pub struct AgentOutput {
    pub flows: Vec<FlowRecord>,
    pub stats: Vec<StatsRecord>,
    /// Lines of other types, kept as they are.
    pub other: Vec<Value>,
    pub stderr: String,
}

impl AgentOutput {
    /// Parses NDJSON: every non-empty line must be a JSON object with a "type".
    pub fn parse(ndjson: &str, stderr: String) -> Result<Self> {
        let mut out = AgentOutput { stderr, ..Default::default() };
        for (n, line) in ndjson.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let value: Value =
                serde_json::from_str(line).with_context(|| format!("line {}: not JSON: {line}", n + 1))?;
            let kind = value
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("line {}: no \"type\": {line}", n + 1))?;
            match kind {
                "flow" => out.flows.push(
                    serde_json::from_value(value)
                        .with_context(|| format!("line {}: bad flow record: {line}", n + 1))?,
                ),
                "stats" => out.stats.push(
                    serde_json::from_value(value)
                        .with_context(|| format!("line {}: bad stats record: {line}", n + 1))?,
                ),
                _ => out.other.push(value),
            }
        }
        Ok(out)
    }

    /// Records added up per key (a flow may be split over several records).
    pub fn totals(&self) -> BTreeMap<FlowKey, FlowTotals> {
        let mut out: BTreeMap<FlowKey, FlowTotals> = BTreeMap::new();
        for r in &self.flows {
            let t = out.entry(r.key()).or_default();
            t.records += 1;
            t.orig_packets += r.orig_packets;
            t.orig_bytes += r.orig_bytes;
            t.resp_packets += r.resp_packets;
            t.resp_bytes += r.resp_bytes;
            t.orig_directions.insert(r.orig_direction.clone());
            t.reasons.insert(r.reason.clone());
            t.interfaces.insert(r.interface.clone());
            t.tcp_flags.extend(r.tcp_flags.chars());
        }
        out
    }

    /// The totals of `key`, or an error listing every key the agent reported.
    pub fn flow(&self, key: &FlowKey) -> Result<FlowTotals> {
        self.totals()
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow!("no flow {key} in the agent's records:\n{}", self.describe()))
    }

    /// The final stats line: exactly one, and the last stats line written.
    pub fn final_stats(&self) -> Result<&StatsRecord> {
        let finals = self.stats.iter().filter(|s| s.is_final).count();
        ensure!(finals == 1, "expected exactly one final stats record, found {finals}");
        match self.stats.last() {
            Some(s) if s.is_final => Ok(s),
            _ => bail!("the last stats record is not the final one"),
        }
    }

    /// orig + resp packets over every flow record.
    pub fn record_packets(&self) -> u64 {
        self.flows.iter().map(|r| r.orig_packets + r.resp_packets).sum()
    }

    /// One line per flow key, for assertion messages.
    pub fn describe(&self) -> String {
        self.totals()
            .iter()
            .map(|(k, t)| {
                format!(
                    "  {k}: orig {}p/{}B resp {}p/{}B records {} dir {:?} reasons {:?}\n",
                    t.orig_packets, t.orig_bytes, t.resp_packets, t.resp_bytes, t.records, t.orig_directions, t.reasons
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = r#"{"type":"flow","schema_version":1,"flow_id":7,"reason":"REASON","start":"2024-01-01T00:00:00.000000001Z","end":"2024-01-01T00:00:01Z","duration":1.0,"interface":"veth0","ifindex":5,"vlan":0,"inner_vlan":0,"proto":17,"src_ip":"10.0.0.1","src_port":1234,"dst_ip":"10.0.0.2","dst_port":53,"orig_direction":"ingress","orig_packets":3,"orig_bytes":300,"resp_packets":1,"resp_bytes":100,"tcp_flags":"","orig":{},"resp":{}}"#;
    const STATS: &str = r#"{"type":"stats","schema_version":1,"time":"t","final":FINAL,"ingress":{"packets":4,"bytes":400,"non_ip":0,"malformed_truncated":0,"malformed_header":0,"malformed_too_deep":0,"map_update_failed":0,"flows_inserted":1,"fragments":0},"egress":{"packets":4,"bytes":400,"non_ip":0,"malformed_truncated":0,"malformed_header":0,"malformed_too_deep":0,"map_update_failed":0,"flows_inserted":1,"fragments":0},"flows_emitted":2,"flow_packets":8,"flows_evicted":0,"flows_unseen":0,"packets_unaccounted":0}"#;

    #[test]
    fn split_flow_records_add_up() {
        let text = format!(
            "{}\n{}\n\n{}\n{}\n",
            FLOW.replace("REASON", "active"),
            STATS.replace("FINAL", "false"),
            FLOW.replace("REASON", "shutdown"),
            STATS.replace("FINAL", "true")
        );
        let out = AgentOutput::parse(&text, String::new()).expect("parses");
        assert_eq!(out.flows.len(), 2);
        let key = FlowKey::udp("10.0.0.1:1234".parse().expect("addr"), "10.0.0.2:53".parse().expect("addr"));
        let t = out.flow(&key).expect("flow present");
        assert_eq!((t.records, t.orig_packets, t.orig_bytes, t.resp_packets, t.resp_bytes), (2, 6, 600, 2, 200));
        assert_eq!(t.reasons.len(), 2);
        assert_eq!(out.final_stats().expect("final").flow_packets, 8);
        assert_eq!(out.record_packets(), 8);
        assert!(out.flow(&key.reversed()).is_err());
    }

    #[test]
    fn rejects_lines_without_type_and_missing_final() {
        assert!(AgentOutput::parse("{\"a\":1}\n", String::new()).is_err());
        let out = AgentOutput::parse(&STATS.replace("FINAL", "false"), String::new()).expect("parses");
        assert!(out.final_stats().is_err());
    }
}
