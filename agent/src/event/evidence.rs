//! What each detector saw, by kind. Serialized as an object whose fields
//! depend on the event's `kind` (the kind is on the event itself). Counts
//! over a sliding window are estimates (the window's previous bucket is
//! weighted), rounded to whole flows and packets.

use serde::{Deserialize, Serialize};

/// A feature that pushed a model score up, with its share of the push.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureContribution {
    pub feature: String,
    pub value: f64,
    pub contribution: f64,
}

/// The shape of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanPattern {
    /// Many ports on few hosts.
    Vertical,
    /// Few ports on many hosts.
    Horizontal,
    /// ICMP echo requests to many hosts.
    IcmpSweep,
    /// TCP probes with flag combinations no stack sends (NULL, FIN and Xmas
    /// scans, OS fingerprinting).
    CraftedFlags,
}

/// The shape of a flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FloodPattern {
    /// TCP SYNs from many sources that never complete a handshake.
    SynFlood,
    /// UDP from many sources that the victim never answers (amplification).
    Amplification,
    /// Unsolicited SYN-ACKs or resets: the victim's address was spoofed
    /// towards reflectors, which answer it.
    Reflection,
    /// Unanswered traffic of several protocols from many sources.
    Distributed,
    /// A packet rate far above the destination's baseline.
    Volumetric,
    /// One source opening connections to one service at a high rate
    /// (credential brute force, connection exhaustion).
    ConnectionFlood,
}

/// What made a pair's connections check-ins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BeaconPattern {
    /// Regular intervals and sizes over many connections (RITA's score).
    Regular,
    /// A few connections at irregular times, each the same-size request.
    CheckIns,
}

/// A service as protocol and responder port (ICMP: type): what
/// `rare_protocol` learns per host and the traffic baseline stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServicePort {
    pub proto: u8,
    /// TCP/UDP responder port, 49152 for any in the dynamic range; ICMP
    /// type; 0 for other protocols.
    pub port: u16,
}

/// Which DNS measure was unusual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsSignal {
    /// Long queries: data encoded in names.
    QuerySize,
    /// Many queries per second.
    QueryRate,
    /// Many bytes sent.
    Volume,
    /// A large answer over TCP that no UDP query asked for: a zone transfer.
    ZoneTransfer,
}

/// Where the "normal" a novelty is measured against came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoveltyReference {
    /// The trained traffic baseline.
    Baseline,
    /// What was seen during the warm-up period of this run.
    WarmUp,
}

/// Why a remote place was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoReason {
    /// Not in the baseline (or the warm-up).
    Unseen,
    /// In the configured deny list.
    Denied,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    PortScan {
        pattern: ScanPattern,
        /// Distinct ports and hosts among the source's first contacts (echo
        /// targets for a sweep).
        distinct_ports: u64,
        distinct_hosts: u64,
        /// First contacts (or echo requests) counted, and how many went unanswered.
        attempts: u64,
        failed: u64,
        /// Log-likelihood ratio of the sequential test when it decided
        /// (absent for sweeps, which are counted over a window).
        #[serde(skip_serializing_if = "Option::is_none")]
        log_likelihood_ratio: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        window_secs: Option<f64>,
    },
    Flood {
        pattern: FloodPattern,
        window_secs: f64,
        flows: u64,
        /// Flows with no completed handshake or no answer.
        unanswered_flows: u64,
        unanswered_ratio: f64,
        packets: u64,
        bytes: u64,
        packets_per_sec: f64,
        /// The destination's usual rate (99th percentile of its windows) when a baseline has it.
        #[serde(skip_serializing_if = "Option::is_none")]
        baseline_packets_per_sec: Option<f64>,
        distinct_sources: u64,
    },
    Exfiltration {
        window_secs: f64,
        bytes_out: u64,
        bytes_in: u64,
        /// The host's usual bytes out to one destination per window (99th percentile).
        #[serde(skip_serializing_if = "Option::is_none")]
        baseline_bytes_out: Option<f64>,
        threshold_bytes_out: f64,
    },
    Beaconing {
        pattern: BeaconPattern,
        connections: u64,
        median_interval_secs: f64,
        /// Bowley skew of the intervals (0 = symmetric) and their median
        /// absolute deviation.
        interval_skew: f64,
        interval_madm_secs: f64,
        median_payload_bytes: f64,
        payload_skew: f64,
        payload_madm_bytes: f64,
        /// The two halves of the score, each in [0, 1].
        interval_score: f64,
        payload_score: f64,
    },
    DnsTunnel {
        signal: DnsSignal,
        window_secs: f64,
        queries: u64,
        bytes_out: u64,
        mean_query_bytes: f64,
        queries_per_sec: f64,
        /// The threshold the signal crossed (from the baseline when it has the
        /// host; for a zone transfer, `transfer_min_answer_bytes`, the answer
        /// size from which a TCP answer is one).
        threshold: f64,
        /// Answer payload the server sent (zone transfers only).
        #[serde(skip_serializing_if = "Option::is_none")]
        answer_bytes: Option<u64>,
    },
    RareProtocol {
        /// The first new service: protocol and responder port (ICMP: type);
        /// 49152 stands for every ephemeral port.
        proto: u8,
        port: u16,
        reference: NoveltyReference,
        /// Services the host was known to use.
        known_services: u64,
        /// Every new service of the incident (up to 16), and how many there were.
        new_services: Vec<ServicePort>,
        new_services_total: u64,
    },
    Geo {
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        asn: Option<u32>,
        reason: GeoReason,
        #[serde(skip_serializing_if = "Option::is_none")]
        reference: Option<NoveltyReference>,
    },
    MlOutlier {
        threshold: f64,
        top_features: Vec<FeatureContribution>,
        /// Outlier flows scored during the host windows' warm-up (the first
        /// minute of a run), on their own features: the host-window features
        /// were replaced by their typical training values.
        warm_up_flows: u64,
    },
}
