//! What each detector saw, by kind. Serialized as an object whose fields
//! depend on the event's `kind` (the kind is on the event itself).

use serde::Serialize;

/// A feature that pushed a model score up, with its share of the push.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureContribution {
    pub feature: String,
    pub value: f64,
    pub contribution: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    PortScan {
        /// `vertical` (many ports on one host) or `horizontal` (one port on many hosts).
        pattern: &'static str,
        distinct_ports: u64,
        distinct_hosts: u64,
        attempts: u64,
        failed: u64,
        /// Log-likelihood ratio of the sequential test when it decided.
        log_likelihood_ratio: f64,
    },
    Flood {
        packets: u64,
        packets_per_sec: f64,
        baseline_packets_per_sec: f64,
        distinct_sources: u64,
        half_open_ratio: f64,
    },
    Exfiltration {
        bytes_out: u64,
        bytes_in: u64,
        baseline_bytes_out: f64,
    },
    Beaconing {
        connections: u64,
        mean_interval_secs: f64,
        interval_jitter: f64,
        mean_payload_bytes: f64,
        payload_jitter: f64,
    },
    DnsTunnel {
        queries: u64,
        bytes_out: u64,
        mean_query_bytes: f64,
        queries_per_sec: f64,
    },
    RareProtocol {
        proto: u8,
        port: u16,
        baseline_services: u64,
    },
    Geo {
        country: Option<String>,
        asn: Option<u32>,
        /// `unseen` (not in the baseline) or `denied` (in the deny list).
        reason: &'static str,
    },
    MlOutlier {
        threshold: f64,
        top_features: Vec<FeatureContribution>,
    },
}
