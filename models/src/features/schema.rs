//! The feature schema: which numbers a model sees, in which order, and how
//! each is scaled before the standard scaler. A model file stores the schema
//! it was trained with and is refused by a build whose schema differs, so a
//! change here (a feature added, removed, renamed, reordered or rescaled)
//! must bump [`SCHEMA_VERSION`].

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Name of the feature family; part of the fingerprint.
pub const SCHEMA_NAME: &str = "flowwatch-flow";
/// Bump on any change to [`Feature`] (order, names, scales, definitions).
pub const SCHEMA_VERSION: u32 = 2;

/// How a raw value becomes a feature value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Used as is: bounded values (ratios, 0/1 indicators, frame lengths).
    Linear,
    /// `ln(1 + x)`: heavy-tailed non-negative counts (packets, bytes,
    /// durations, rates), so one elephant flow does not squash every other
    /// flow into a sliver of the feature's range.
    Log1p,
}

impl Scale {
    pub fn apply(self, raw: f64) -> f64 {
        match self {
            Self::Linear => raw,
            Self::Log1p => raw.max(0.0).ln_1p(),
        }
    }

    /// The raw value back from a feature value (for explanations).
    pub fn invert(self, value: f64) -> f64 {
        match self {
            Self::Linear => value,
            Self::Log1p => value.exp_m1(),
        }
    }

    const fn tag(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Log1p => "log1p",
        }
    }
}

/// Declares [`Feature`] once: variant, name, scale and meaning side by side,
/// so the enum, the name list and the scales cannot drift apart.
macro_rules! features {
    ($($(#[doc = $doc:literal])* $variant:ident = ($name:literal, $scale:ident);)+) => {
        /// One feature of the schema; `Feature as usize` is its column.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Feature {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Feature {
            /// Every feature, in column order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)+];

            pub const fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => $name,)+
                }
            }

            pub const fn scale(self) -> Scale {
                match self {
                    $(Feature::$variant => Scale::$scale,)+
                }
            }
        }
    };
}

features! {
    /// Seconds from the record's first to last packet.
    DurationS = ("duration_s", Log1p);
    OrigPackets = ("orig_packets", Log1p);
    RespPackets = ("resp_packets", Log1p);
    OrigBytes = ("orig_bytes", Log1p);
    RespBytes = ("resp_bytes", Log1p);
    /// Originator's share of the flow's bytes, 0..1 (1 when nothing came back).
    OrigByteShare = ("orig_byte_share", Linear);
    /// Both directions; the duration is floored at 1 ms so single-packet flows stay finite.
    BytesPerS = ("bytes_per_s", Log1p);
    PacketsPerS = ("packets_per_s", Log1p);
    /// Mean frame length (bytes) originator → responder.
    OrigLenMean = ("orig_len_mean", Linear);
    OrigLenStddev = ("orig_len_stddev", Linear);
    RespLenMean = ("resp_len_mean", Linear);
    RespLenStddev = ("resp_len_stddev", Linear);
    /// Mean gap between the originator's packets, milliseconds.
    OrigIatMeanMs = ("orig_iat_mean_ms", Log1p);
    OrigIatStddevMs = ("orig_iat_stddev_ms", Log1p);
    OrigIatMaxMs = ("orig_iat_max_ms", Log1p);
    /// Coefficient of variation of the originator's gaps (stddev / mean):
    /// near 0 for machine-regular check-ins (beaconing).
    OrigIatCv = ("orig_iat_cv", Linear);
    RespIatMeanMs = ("resp_iat_mean_ms", Log1p);
    OrigSyn = ("orig_syn", Log1p);
    OrigFin = ("orig_fin", Log1p);
    OrigRst = ("orig_rst", Log1p);
    RespSyn = ("resp_syn", Log1p);
    RespFin = ("resp_fin", Log1p);
    RespRst = ("resp_rst", Log1p);
    /// 1 when the originator set ACK on any packet (0 for SYN/NULL/FIN scans).
    OrigFlagAck = ("orig_flag_ack", Linear);
    OrigFlagPsh = ("orig_flag_psh", Linear);
    /// URG is all but unused by real applications; XMAS scans set it.
    OrigFlagUrg = ("orig_flag_urg", Linear);
    ProtoTcp = ("proto_tcp", Linear);
    ProtoUdp = ("proto_udp", Linear);
    /// ICMP or ICMPv6.
    ProtoIcmp = ("proto_icmp", Linear);
    /// Responder port class (TCP/UDP only; all three 0 otherwise): 0–1023.
    DstPortWellKnown = ("dst_port_well_known", Linear);
    /// 1024–49151.
    DstPortRegistered = ("dst_port_registered", Linear);
    /// 49152–65535.
    DstPortEphemeral = ("dst_port_ephemeral", Linear);
    /// Responder port is a common service (see `ports::COMMON_SERVICE_PORTS`).
    DstPortCommonService = ("dst_port_common_service", Linear);
    /// TCP to a cleartext HTTP port (80, 8080): web traffic without TLS,
    /// rare from ordinary clients today and the carrier of most exploit-kit
    /// downloads and simple C2.
    DstPortCleartextHttp = ("dst_port_cleartext_http", Linear);
    /// Originator port below 1024: reflection (DNS/NTP amplification) or a
    /// server seen as originator.
    SrcPortWellKnown = ("src_port_well_known", Linear);
    /// Flows the originator started per second, over the host window.
    HostFlowRate = ("host_flow_rate", Log1p);
    /// Distinct responder addresses the originator contacted in the window.
    HostDistinctPeers = ("host_distinct_peers", Log1p);
    /// Distinct TCP/UDP responder ports the originator contacted in the window.
    HostDistinctPorts = ("host_distinct_ports", Log1p);
    /// Share of the originator's flows in the window that failed (see `host_window`).
    HostFailedShare = ("host_failed_share", Linear);
    /// Bytes the originator sent in the window, over all its flows.
    HostBytesOut = ("host_bytes_out", Log1p);
    /// Share of the originator's window bytes that it sent, 0..1.
    HostOutByteShare = ("host_out_byte_share", Linear);
    /// Share of the originator's flows in the window that went to DNS (port
    /// 53), 0..1. Ordinary clients look a name up before they connect, so a
    /// host connecting with no lookup in its window is reaching addresses it
    /// was given some other way (typed in, hard-coded in malware, a scan).
    HostDnsShare = ("host_dns_share", Linear);
    /// Distinct peers of the originator in the window per DNS lookup it
    /// made there (peers / (1 + lookups)): about 1 for a client that looks
    /// up each server it uses, high for one that reaches many addresses it
    /// never looked up.
    HostPeersPerLookup = ("host_peers_per_lookup", Log1p);
}

impl Feature {
    pub const COUNT: usize = Self::ALL.len();

    /// The per-host window features (see `host_window`): what the flow's
    /// originator did over the last window, as opposed to the flow itself.
    pub const HOST_WINDOW: &'static [Feature] = &[
        Feature::HostFlowRate,
        Feature::HostDistinctPeers,
        Feature::HostDistinctPorts,
        Feature::HostFailedShare,
        Feature::HostBytesOut,
        Feature::HostOutByteShare,
        Feature::HostDnsShare,
        Feature::HostPeersPerLookup,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feature {0:?} (not in feature schema {SCHEMA_NAME} v{SCHEMA_VERSION})")]
pub struct UnknownFeature(pub String);

impl FromStr for Feature {
    type Err = UnknownFeature;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|f| f.name() == s).ok_or_else(|| UnknownFeature(s.to_owned()))
    }
}

/// Features travel by name (in explanations and events).
impl Serialize for Feature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Feature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The schema as stored in a model file and compared on load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub name: String,
    pub version: u32,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// CRC-32 (hex) over name, version and every feature's name and scale:
    /// a short id to print next to scores, and a guard against a schema
    /// whose names stayed while a scale changed without a version bump.
    pub fingerprint: String,
}

impl FeatureSchema {
    /// The schema this build computes.
    pub fn current() -> Self {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(SCHEMA_NAME.as_bytes());
        hasher.update(&SCHEMA_VERSION.to_le_bytes());
        for feature in Feature::ALL {
            // NUL separators keep ("ab","c") and ("a","bc") apart.
            hasher.update(&[0]);
            hasher.update(feature.name().as_bytes());
            hasher.update(&[0]);
            hasher.update(feature.scale().tag().as_bytes());
        }
        Self {
            name: SCHEMA_NAME.to_owned(),
            version: SCHEMA_VERSION,
            features: Feature::ALL.iter().map(|f| f.name().to_owned()).collect(),
            fingerprint: format!("{:08x}", hasher.finalize()),
        }
    }

    /// How `self` (a model's schema) differs from `expected` (this build's),
    /// in words; `None` when they are the same.
    pub fn difference(&self, expected: &Self) -> Option<String> {
        if self == expected {
            return None;
        }
        if self.name != expected.name || self.version != expected.version {
            return Some(format!(
                "the model uses feature schema {} v{}, this build computes {} v{}",
                self.name, self.version, expected.name, expected.version
            ));
        }
        let first_rename = self.features.iter().zip(&expected.features).position(|(a, b)| a != b);
        if let Some(index) = first_rename {
            return Some(format!(
                "feature {index} is `{}` in the model but `{}` in this build",
                self.features[index], expected.features[index]
            ));
        }
        if self.features.len() != expected.features.len() {
            return Some(format!(
                "the model has {} features, this build computes {}",
                self.features.len(),
                expected.features.len()
            ));
        }
        Some(format!(
            "same feature names but fingerprint {} in the model, {} in this build (a feature's scaling changed)",
            self.fingerprint, expected.fingerprint
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn columns_follow_declaration_order_and_names_are_unique() {
        for (column, feature) in Feature::ALL.iter().enumerate() {
            assert_eq!(feature.index(), column);
        }
        let names: HashSet<_> = Feature::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Feature::COUNT);
        assert_eq!(Feature::COUNT, 43);
    }

    #[test]
    fn features_travel_by_name() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(serde_json::to_string(&Feature::HostDistinctPorts)?, "\"host_distinct_ports\"");
        assert_eq!(serde_json::from_str::<Feature>("\"orig_bytes\"")?, Feature::OrigBytes);
        assert!(serde_json::from_str::<Feature>("\"orig_octets\"").is_err());
        Ok(())
    }

    #[test]
    fn log1p_inverts() {
        let v = Scale::Log1p.apply(1_000_000.0);
        assert!((v - 13.815511557963774).abs() < 1e-12);
        assert!((Scale::Log1p.invert(v) - 1_000_000.0).abs() < 1e-6);
        assert_eq!(Scale::Log1p.apply(-3.0), 0.0);
        assert_eq!(Scale::Linear.apply(0.25), 0.25);
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let schema = FeatureSchema::current();
        assert_eq!(schema, FeatureSchema::current());
        assert_eq!(schema.fingerprint.len(), 8);
        assert_eq!(schema.difference(&schema), None);

        let mut renamed = schema.clone();
        renamed.features[3] = "orig_octets".to_owned();
        assert_eq!(
            renamed.difference(&schema).as_deref(),
            Some("feature 3 is `orig_octets` in the model but `orig_bytes` in this build")
        );

        let mut older = schema.clone();
        older.version = 0;
        assert_eq!(
            older.difference(&schema).as_deref(),
            Some("the model uses feature schema flowwatch-flow v0, this build computes flowwatch-flow v2")
        );

        let mut shorter = schema.clone();
        shorter.features.pop();
        assert_eq!(shorter.difference(&schema).as_deref(), Some("the model has 42 features, this build computes 43"));

        let mut rescaled = schema.clone();
        rescaled.fingerprint = "00000000".to_owned();
        assert!(rescaled.difference(&schema).is_some_and(|d| d.contains("scaling changed")));
    }
}
