//! The anomaly kinds flowwatch reports. One list shared by the detectors,
//! the event schema, the simulator's injections and evaluation labels, so a
//! label written by the simulator names exactly the event kind expected.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// One source touching many ports on a host, or many hosts on a port.
    PortScan,
    /// SYN floods and other volumetric attacks, spoofed sources included.
    Flood,
    /// A host sending far more bytes to one outside destination than usual.
    Exfiltration,
    /// Regular, small check-ins from a host to one destination (C2).
    Beaconing,
    /// DNS with unusual volume, size or rate to one resolver.
    DnsTunnel,
    /// A protocol or service port a host has not used in its baseline.
    RareProtocol,
    /// A remote country or network not seen in the baseline, or denied.
    Geo,
    /// The model's score above the calibrated threshold.
    MlOutlier,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 8] = [
        Self::PortScan,
        Self::Flood,
        Self::Exfiltration,
        Self::Beaconing,
        Self::DnsTunnel,
        Self::RareProtocol,
        Self::Geo,
        Self::MlOutlier,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PortScan => "port_scan",
            Self::Flood => "flood",
            Self::Exfiltration => "exfiltration",
            Self::Beaconing => "beaconing",
            Self::DnsTunnel => "dns_tunnel",
            Self::RareProtocol => "rare_protocol",
            Self::Geo => "geo",
            Self::MlOutlier => "ml_outlier",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown anomaly kind {0:?} (expected one of: port_scan, flood, exfiltration, beaconing, dns_tunnel, rare_protocol, geo, ml_outlier)"
)]
pub struct UnknownKind(pub String);

impl FromStr for AnomalyKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() -> Result<(), Box<dyn std::error::Error>> {
        for kind in AnomalyKind::ALL {
            assert_eq!(kind.as_str().parse::<AnomalyKind>()?, kind);
            assert_eq!(serde_json::to_string(&kind)?, format!("\"{kind}\""));
        }
        assert!("portscan".parse::<AnomalyKind>().is_err());
        Ok(())
    }
}
