use std::{fmt, str::FromStr};

use models::AnomalyKind;

/// What `--inject` can add to a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InjectionKind {
    PortScan,
    HostSweep,
    SynFlood,
    Exfiltration,
    Beaconing,
    DnsTunnel,
    RareCountry,
    RareProtocol,
}

impl InjectionKind {
    pub const ALL: [Self; 8] = [
        Self::PortScan,
        Self::HostSweep,
        Self::SynFlood,
        Self::Exfiltration,
        Self::Beaconing,
        Self::DnsTunnel,
        Self::RareCountry,
        Self::RareProtocol,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PortScan => "port_scan",
            Self::HostSweep => "host_sweep",
            Self::SynFlood => "syn_flood",
            Self::Exfiltration => "exfiltration",
            Self::Beaconing => "beaconing",
            Self::DnsTunnel => "dns_tunnel",
            Self::RareCountry => "rare_country",
            Self::RareProtocol => "rare_protocol",
        }
    }

    /// The label kind, i.e. the event a detector should raise.
    pub const fn anomaly_kind(self) -> AnomalyKind {
        match self {
            Self::PortScan | Self::HostSweep => AnomalyKind::PortScan,
            Self::SynFlood => AnomalyKind::Flood,
            Self::Exfiltration => AnomalyKind::Exfiltration,
            Self::Beaconing => AnomalyKind::Beaconing,
            Self::DnsTunnel => AnomalyKind::DnsTunnel,
            Self::RareCountry => AnomalyKind::Geo,
            Self::RareProtocol => AnomalyKind::RareProtocol,
        }
    }

    /// Involves a benign LAN host (as the victim of an outside attacker).
    pub const fn needs_benign_host(self) -> bool {
        matches!(self, Self::Exfiltration | Self::Beaconing | Self::RareCountry | Self::RareProtocol)
    }
}

impl fmt::Display for InjectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown injection {0:?} (expected all or a list of: port_scan, host_sweep, syn_flood, exfiltration, beaconing, dns_tunnel, rare_country, rare_protocol)"
)]
pub struct UnknownInjection(pub String);

impl FromStr for InjectionKind {
    type Err = UnknownInjection;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| UnknownInjection(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_to_label_kinds() -> Result<(), UnknownInjection> {
        for kind in InjectionKind::ALL {
            assert_eq!(kind.as_str().parse::<InjectionKind>()?, kind);
        }
        assert_eq!(InjectionKind::HostSweep.anomaly_kind(), AnomalyKind::PortScan);
        assert_eq!(InjectionKind::RareCountry.anomaly_kind(), AnomalyKind::Geo);
        assert!("scan".parse::<InjectionKind>().is_err());
        Ok(())
    }
}
