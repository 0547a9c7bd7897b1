//! The `[detectors]` configuration section: one sub-table per detector
//! (`[detectors.port_scan]`, …), each defined beside its detector with its
//! documented default, plus what they share (internal networks, state
//! limits, suppression). Every field may be left out; unknown fields are
//! refused so a typo does not silently keep a default.

use std::{num::NonZeroUsize, time::Duration};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{
    beaconing::BeaconingConfig, dns_tunnel::DnsTunnelConfig, exfiltration::ExfiltrationConfig, flood::FloodConfig,
    geo::GeoConfig, ml_outlier::MlOutlierConfig, networks::default_internal_networks, port_scan::PortScanConfig,
    rare_protocol::RareProtocolConfig, suppress::SuppressionConfig,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorsConfig {
    /// This network's address ranges: exfiltration, rare protocols and geo
    /// need the inside from the outside. Default: the private, CGNAT,
    /// loopback and link-local ranges (IPv4 and IPv6).
    pub internal_networks: Vec<IpNet>,
    pub limits: LimitsConfig,
    pub suppression: SuppressionConfig,
    pub port_scan: PortScanConfig,
    pub flood: FloodConfig,
    pub exfiltration: ExfiltrationConfig,
    pub beaconing: BeaconingConfig,
    pub dns_tunnel: DnsTunnelConfig,
    pub rare_protocol: RareProtocolConfig,
    pub geo: GeoConfig,
    pub ml_outlier: MlOutlierConfig,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        Self {
            internal_networks: default_internal_networks(),
            limits: LimitsConfig::default(),
            suppression: SuppressionConfig::default(),
            port_scan: PortScanConfig::default(),
            flood: FloodConfig::default(),
            exfiltration: ExfiltrationConfig::default(),
            beaconing: BeaconingConfig::default(),
            dns_tunnel: DnsTunnelConfig::default(),
            rare_protocol: RareProtocolConfig::default(),
            geo: GeoConfig::default(),
            ml_outlier: MlOutlierConfig::default(),
        }
    }
}

/// Bounds on detector state, the same for every detector's tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Entities (sources, destinations, pairs) each detector table tracks.
    /// 65,536: a /16 of hosts. An entity costs ≈100–300 bytes, plus up to
    /// 16 sampled flow keys (≈1 KiB) once it looks suspicious (a flooded
    /// destination keeps up to four such samples), so a table stays within
    /// tens of MiB even when every entity is under attack. Past the limit,
    /// the least recently active entity is forgotten (counted in the
    /// engine's stats as `evicted`).
    pub max_entities: usize,
    /// An entity with no flow for this long is forgotten. 15 min: longer than
    /// every detector window, short enough that scans of the past hour do
    /// not pin memory. Beaconing keeps its history longer (its own setting).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_entities: 65_536, idle_timeout: Duration::from_secs(15 * 60) }
    }
}

impl LimitsConfig {
    pub fn capacity(&self) -> NonZeroUsize {
        NonZeroUsize::new(self.max_entities).unwrap_or(NonZeroUsize::MIN)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("detectors.{field} must be a probability strictly between 0 and 1 (got {value})")]
    Probability { field: &'static str, value: f64 },
    #[error(
        "detectors.port_scan.theta_benign ({benign}) must be above theta_scanner ({scanner}): benign hosts are answered more often than scanners"
    )]
    ThetaOrder { benign: f64, scanner: f64 },
    #[error("detectors.{field} must be positive (got {value}); disable the detector with enabled = false instead")]
    NotPositive { field: &'static str, value: f64 },
    #[error("detectors.{field} must be at least {min} (got {value})")]
    TooSmall { field: &'static str, value: u64, min: u64 },
}

impl DetectorsConfig {
    /// Checks what serde cannot: ranges and orderings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.port_scan;
        for (field, value) in [
            ("port_scan.theta_benign", p.theta_benign),
            ("port_scan.theta_scanner", p.theta_scanner),
            ("port_scan.detection_probability", p.detection_probability),
            ("port_scan.false_positive_probability", p.false_positive_probability),
            ("flood.min_unanswered_ratio", self.flood.min_unanswered_ratio),
            ("beaconing.min_score", self.beaconing.min_score),
        ] {
            if value.is_nan() || value <= 0.0 || value >= 1.0 {
                return Err(ConfigError::Probability { field, value });
            }
        }
        if p.theta_benign <= p.theta_scanner {
            return Err(ConfigError::ThetaOrder { benign: p.theta_benign, scanner: p.theta_scanner });
        }
        if p.detection_probability <= p.false_positive_probability {
            return Err(ConfigError::Probability {
                field: "port_scan.detection_probability (must exceed false_positive_probability)",
                value: p.detection_probability,
            });
        }
        let durations = [
            ("limits.idle_timeout", self.limits.idle_timeout),
            ("suppression.window", self.suppression.window),
            ("port_scan.sweep_window", p.sweep_window),
            ("flood.window", self.flood.window),
            ("flood.reflection_window", self.flood.reflection_window),
            ("flood.connection_window", self.flood.connection_window),
            ("exfiltration.window", self.exfiltration.window),
            ("beaconing.history", self.beaconing.history),
            ("dns_tunnel.window", self.dns_tunnel.window),
            ("dns_tunnel.transfer_fallback_window", self.dns_tunnel.transfer_fallback_window),
            ("beaconing.checkin_min_gap", self.beaconing.checkin_min_gap),
            ("rare_protocol.report_window", self.rare_protocol.report_window),
            ("ml_outlier.report_window", self.ml_outlier.report_window),
        ];
        for (field, duration) in durations {
            if duration.is_zero() {
                return Err(ConfigError::NotPositive { field, value: 0.0 });
            }
        }
        let rates = [
            ("flood.max_packets_per_sec", self.flood.max_packets_per_sec),
            ("flood.baseline_factor", self.flood.baseline_factor),
            ("exfiltration.min_bytes_out", self.exfiltration.min_bytes_out as f64),
            ("exfiltration.baseline_factor", self.exfiltration.baseline_factor),
            ("exfiltration.min_out_in_ratio", self.exfiltration.min_out_in_ratio),
            ("dns_tunnel.max_mean_query_bytes", self.dns_tunnel.max_mean_query_bytes),
            ("dns_tunnel.max_queries_per_sec", self.dns_tunnel.max_queries_per_sec),
            ("dns_tunnel.max_bytes_out", self.dns_tunnel.max_bytes_out as f64),
            ("dns_tunnel.baseline_factor", self.dns_tunnel.baseline_factor),
            ("beaconing.checkin_max_size_spread", self.beaconing.checkin_max_size_spread),
        ];
        for (field, value) in rates {
            if value.is_nan() || value <= 0.0 {
                return Err(ConfigError::NotPositive { field, value });
            }
        }
        let minimums = [
            ("limits.max_entities", self.limits.max_entities as u64, 1),
            ("suppression.max_entities", self.suppression.max_entities as u64, 1),
            ("port_scan.min_targets", p.min_targets, 1),
            ("port_scan.sweep_min_hosts", p.sweep_min_hosts, 2),
            ("port_scan.min_crafted_probes", p.min_crafted_probes, 1),
            ("flood.min_sources", self.flood.min_sources, 2),
            ("flood.min_unanswered_flows", self.flood.min_unanswered_flows, 1),
            ("flood.max_connections", self.flood.max_connections, 2),
            // Quartiles and a median deviation need at least four intervals.
            ("beaconing.min_connections", self.beaconing.min_connections as u64, 5),
            ("beaconing.max_connections", self.beaconing.max_connections as u64, self.beaconing.min_connections as u64),
            // Two requests may be one retry; a repetition needs three.
            ("beaconing.checkin_min_connections", self.beaconing.checkin_min_connections as u64, 3),
        ];
        for (field, value, min) in minimums {
            if value < min {
                return Err(ConfigError::TooSmall { field, value, min });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() -> Result<(), Box<dyn std::error::Error>> {
        let defaults = DetectorsConfig::default();
        defaults.validate()?;
        let text = toml::to_string(&defaults)?;
        let parsed: DetectorsConfig = toml::from_str(&text)?;
        assert_eq!(parsed, defaults);
        Ok(())
    }

    #[test]
    fn a_partial_section_keeps_the_other_defaults() -> Result<(), Box<dyn std::error::Error>> {
        let parsed: DetectorsConfig = toml::from_str(
            "internal_networks = [\"10.1.0.0/16\"]\n[port_scan]\nmin_targets = 25\n[flood]\nwindow = \"30s\"\n",
        )?;
        assert_eq!(parsed.internal_networks, vec!["10.1.0.0/16".parse::<IpNet>()?]);
        assert_eq!(parsed.port_scan.min_targets, 25);
        assert_eq!(parsed.port_scan.theta_benign, 0.8);
        assert_eq!(parsed.flood.window, Duration::from_secs(30));
        assert_eq!(parsed.flood.min_sources, 20);
        Ok(())
    }

    #[test]
    fn typos_and_bad_values_are_refused_with_a_reason() -> Result<(), Box<dyn std::error::Error>> {
        let typo = toml::from_str::<DetectorsConfig>("[port_scan]\nmin_target = 3\n");
        assert!(typo.is_err_and(|e| e.to_string().contains("unknown field `min_target`")));

        let swapped: DetectorsConfig = toml::from_str("[port_scan]\ntheta_benign = 0.2\ntheta_scanner = 0.8\n")?;
        assert_eq!(swapped.validate(), Err(ConfigError::ThetaOrder { benign: 0.2, scanner: 0.8 }));

        let zero: DetectorsConfig = toml::from_str("[flood]\nwindow = \"0s\"\n")?;
        assert_eq!(zero.validate(), Err(ConfigError::NotPositive { field: "flood.window", value: 0.0 }));

        let zero: DetectorsConfig = toml::from_str("[ml_outlier]\nreport_window = \"0s\"\n")?;
        assert_eq!(zero.validate(), Err(ConfigError::NotPositive { field: "ml_outlier.report_window", value: 0.0 }));
        let few: DetectorsConfig = toml::from_str("[beaconing]\nmin_connections = 3\n")?;
        assert_eq!(few.validate(), Err(ConfigError::TooSmall { field: "beaconing.min_connections", value: 3, min: 5 }));
        Ok(())
    }
}
