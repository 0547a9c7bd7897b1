//! Alert events: what the detectors report and the sinks deliver.
//!
//! The NDJSON schema (README "Events") is this struct serialized; bump
//! [`EVENT_SCHEMA_VERSION`] on any incompatible change. Events carry the kind
//! and schema version first so a consumer can dispatch before decoding the rest.

mod evidence;
mod severity;
mod timestamp;

use std::net::IpAddr;

use crate::enrich::classify;

pub use evidence::{
    BeaconPattern, DnsSignal, Evidence, FeatureContribution, FloodPattern, GeoReason, NoveltyReference, ScanPattern,
    ServicePort,
};
pub use models::AnomalyKind;
use serde::Serialize;
pub use severity::Severity;
pub use timestamp::Timestamp;

pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// How many flow keys an event lists; `flows_total` says how many there were.
pub const MAX_FLOWS_PER_EVENT: usize = 16;

/// One flow an event stands on, by key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowRef {
    pub flow_id: u64,
    pub proto: u8,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
}

impl FlowRef {
    pub fn of(flow: &models::FlowObservation) -> Self {
        Self {
            flow_id: flow.flow_id,
            proto: flow.proto,
            src_ip: flow.src_ip,
            src_port: flow.src_port,
            dst_ip: flow.dst_ip,
            dst_port: flow.dst_port,
        }
    }
}

/// Where the remote side of an event is (filled in by enrichment).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RemoteInfo {
    pub ip: Option<IpAddr>,
    /// `public`, or the reserved range the address is in (`private`,
    /// `loopback`, `link_local`, `multicast`, `documentation`, …), which is
    /// never looked up.
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub schema_version: u32,
    pub kind: AnomalyKind,
    /// Unique per run, increasing.
    pub event_id: u64,
    pub severity: Severity,
    /// Strength of the finding in [0, 1]: the model score for `ml_outlier`,
    /// the detector's normalised statistic for the others.
    pub score: f64,
    /// One line for humans (mail subjects, syslog messages, terminals).
    pub summary: String,
    pub src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    pub dst_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<u8>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Occurrences this event stands for: 1, plus every repeat suppressed
    /// since the previous event of the same kind for the same entity.
    pub occurrences: u64,
    pub evidence: Evidence,
    pub flows: Vec<FlowRef>,
    pub flows_total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteInfo>,
}

impl Event {
    /// The address enrichment describes: the destination if it is public,
    /// else the source if it is, else the destination (the peer a local
    /// source reached), else the source. Public means outside every reserved
    /// range ([`crate::enrich::classify`]).
    pub fn remote_ip(&self) -> Option<IpAddr> {
        let is_public = |ip: IpAddr| classify(ip).is_public();
        match (self.src_ip, self.dst_ip) {
            (Some(src), Some(dst)) if !is_public(dst) && is_public(src) => Some(src),
            (src, dst) => dst.or(src),
        }
    }
}
