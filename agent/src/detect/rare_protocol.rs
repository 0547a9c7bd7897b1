//! Rare protocols: an internal host opening a service (protocol and
//! responder port) it has not used before, as C2 over an odd port, tunnels
//! (GRE, raw IP protocols) or lateral movement (SMB, RDP from a host that
//! never used them) do.
//!
//! "Before" is the trained baseline when there is one: the host's own
//! services, or, for a host the baseline never saw, every host's. Without a
//! baseline the detector learns for `warmup` from the first flow, then
//! alerts. Each new service is reported once and then learnt, so a new
//! habit alerts once, not for every flow.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::Duration,
};

use models::FlowObservation;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::{
    config::LimitsConfig,
    detector::RuleDetector,
    facts::{FlowFacts, ICMP, ICMPV6, TCP, UDP},
    finding::{Entity, Finding, FlowSample},
    table::EntityTable,
};
use crate::duration::saturating_ns;
use crate::event::{AnomalyKind, Evidence, NoveltyReference, Severity};

/// Services remembered across all hosts (a bound on memory: real networks
/// use a few hundred).
const MAX_SERVICES_EVERYWHERE: usize = 65_536;

/// Ports from here up are ephemeral (IANA dynamic range) and count as one service.
pub const EPHEMERAL_PORT: u16 = 49152;

/// What a host talks to, as the responder's protocol and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Service {
    pub proto: u8,
    /// TCP/UDP responder port, [`EPHEMERAL_PORT`] for any in the dynamic
    /// range; ICMP type; 0 for other protocols.
    pub port: u16,
}

impl Service {
    pub fn of(flow: &FlowObservation) -> Self {
        let port = match flow.proto {
            TCP | UDP => flow.dst_port.min(EPHEMERAL_PORT),
            ICMP | ICMPV6 => flow.src_port,
            _ => 0,
        };
        Self { proto: flow.proto, port }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RareProtocolConfig {
    pub enabled: bool,
    /// Learning time without a baseline. 1 h: a host's routine (DNS, NTP,
    /// web, mail, hourly jobs) shows within it; daily jobs then alert once each.
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    /// Services remembered per host; past this a host learns nothing new
    /// (and so keeps reporting). 1,024: far above any host's real repertoire.
    pub max_services_per_host: usize,
}

impl Default for RareProtocolConfig {
    fn default() -> Self {
        Self { enabled: true, warmup: Duration::from_secs(3600), max_services_per_host: 1024 }
    }
}

/// From the baseline: each host's services, and every service any host used.
pub type KnownServices = (BTreeMap<IpAddr, BTreeSet<Service>>, BTreeSet<Service>);

/// The baseline's view: each host's services and everyone's.
#[derive(Debug, Default)]
struct Reference {
    hosts: FxHashMap<IpAddr, FxHashSet<Service>>,
    everyone: FxHashSet<Service>,
}

pub struct RareProtocolDetector {
    config: RareProtocolConfig,
    baseline: Option<Reference>,
    /// Learnt in this run (warm-up, or reported and then accepted).
    learned: EntityTable<IpAddr, FxHashSet<Service>>,
    learned_everyone: FxHashSet<Service>,
    warmup_end_ns: Option<u64>,
}

impl RareProtocolDetector {
    /// `baseline`: per host its services, and every service seen.
    pub fn new(config: RareProtocolConfig, limits: &LimitsConfig, baseline: Option<KnownServices>) -> Self {
        let baseline = baseline.map(|(hosts, everyone)| Reference {
            hosts: hosts.into_iter().map(|(host, services)| (host, services.into_iter().collect())).collect(),
            everyone: everyone.into_iter().collect(),
        });
        Self {
            config,
            baseline,
            // Learnt habits must not fade after an idle spell: no idle expiry.
            learned: EntityTable::new(limits.capacity(), Duration::MAX),
            learned_everyone: FxHashSet::default(),
            warmup_end_ns: None,
        }
    }
}

impl RuleDetector for RareProtocolDetector {
    fn name(&self) -> &'static str {
        "rare_protocol"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        if !facts.opened || !facts.src_internal || facts.dst_is_group {
            return;
        }
        let flow = facts.flow;
        let service = Service::of(flow);
        let now = facts.now_ns;
        let warming_up = self.baseline.is_none() && {
            let end = *self.warmup_end_ns.get_or_insert(now.saturating_add(saturating_ns(self.config.warmup)));
            now < end
        };
        let learned = self.learned.entry(flow.src_ip, now, FxHashSet::default);
        if learned.contains(&service) {
            return;
        }
        let (reference, host_known, everyone_known) = match &self.baseline {
            Some(base) => {
                let own = base.hosts.get(&flow.src_ip);
                let everyone_known = base.everyone.contains(&service) || self.learned_everyone.contains(&service);
                // A host the baseline never saw is judged against everyone's services.
                let host_known = own.map_or(everyone_known, |own| own.contains(&service));
                (NoveltyReference::Baseline, host_known, everyone_known)
            }
            None => (NoveltyReference::WarmUp, false, self.learned_everyone.contains(&service)),
        };
        let known_services = self
            .baseline
            .as_ref()
            .and_then(|b| b.hosts.get(&flow.src_ip))
            .map_or(learned.len(), |own| own.len() + learned.len()) as u64;
        if learned.len() < self.config.max_services_per_host {
            learned.insert(service);
        }
        if self.learned_everyone.len() < MAX_SERVICES_EVERYWHERE {
            self.learned_everyone.insert(service);
        }
        if warming_up || host_known {
            return;
        }
        // New to this host but used by others: low; new to the whole network: medium.
        let severity = if everyone_known { Severity::Low } else { Severity::Medium };
        out.push(Finding {
            kind: AnomalyKind::RareProtocol,
            entity: Entity::HostService { host: flow.src_ip, proto: service.proto, port: service.port },
            severity,
            score: if everyone_known { 0.5 } else { 0.75 },
            summary: format!(
                "{} used {} {} for the first time (to {})",
                flow.src_ip,
                proto_name(service.proto),
                service.port,
                flow.dst_ip
            ),
            src_ip: Some(flow.src_ip),
            src_port: None,
            dst_ip: Some(flow.dst_ip),
            dst_port: Some(flow.dst_port),
            proto: Some(flow.proto),
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
            evidence: Evidence::RareProtocol { proto: service.proto, port: service.port, reference, known_services },
            flows: FlowSample::of(flow),
        });
    }

    fn tracked(&self) -> usize {
        self.learned.len()
    }

    fn evicted(&self) -> u64 {
        self.learned.evicted_full()
    }
}

fn proto_name(proto: u8) -> String {
    match proto {
        TCP => "TCP".into(),
        UDP => "UDP".into(),
        ICMP => "ICMP type".into(),
        ICMPV6 => "ICMPv6 type".into(),
        other => format!("IP protocol {other}, port"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{
        facts::tests::{SEC, flow, tcp_session},
        networks::{Networks, default_internal_networks},
    };

    fn run(detector: &mut RareProtocolDetector, flows: &[FlowObservation]) -> Vec<Finding> {
        let networks = Networks::new(default_internal_networks());
        let mut out = Vec::new();
        for flow in flows {
            detector.observe(&FlowFacts::new(flow, true, &networks), &mut out);
        }
        out
    }

    #[test]
    fn ephemeral_ports_are_one_service_and_icmp_is_by_type() {
        let high = flow(1, UDP, "10.0.0.1", "10.0.0.2", 61_000, 0.0, 0);
        assert_eq!(Service::of(&high), Service { proto: UDP, port: EPHEMERAL_PORT });
        let mut echo = flow(2, ICMP, "10.0.0.1", "10.0.0.2", 0, 0.0, 0);
        echo.src_port = 8;
        assert_eq!(Service::of(&echo), Service { proto: ICMP, port: 8 });
        assert_eq!(Service::of(&flow(3, 47, "10.0.0.1", "10.0.0.2", 0, 0.0, 0)), Service { proto: 47, port: 0 });
    }

    #[test]
    fn warm_up_learns_then_new_services_alert_once() {
        let config = RareProtocolConfig { warmup: Duration::from_secs(600), ..RareProtocolConfig::default() };
        let mut detector = RareProtocolDetector::new(config, &LimitsConfig::default(), None);
        let flows = [
            tcp_session(1, "10.0.0.5", "93.184.216.34", 443, 0.0, 900, 9_000),
            tcp_session(2, "10.0.0.6", "10.0.0.9", 445, 60.0, 900, 9_000),
            // After the warm-up: HTTPS is known, SMB is known on the network but new for .5, 4444 is new everywhere.
            tcp_session(3, "10.0.0.5", "93.184.216.34", 443, 700.0, 900, 9_000),
            tcp_session(4, "10.0.0.5", "10.0.0.9", 445, 710.0, 900, 9_000),
            tcp_session(5, "10.0.0.5", "203.0.113.50", 4444, 720.0, 900, 9_000),
            tcp_session(6, "10.0.0.5", "203.0.113.50", 4444, 730.0, 900, 9_000),
        ];
        let found = run(&mut detector, &flows);
        let summary: Vec<_> = found.iter().map(|f| (f.dst_port, f.severity)).collect();
        assert_eq!(summary, vec![(Some(445), Severity::Low), (Some(4444), Severity::Medium)]);
        let Evidence::RareProtocol { proto, port, reference, known_services } = &found[1].evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*proto, *port, *reference, *known_services), (TCP, 4444, NoveltyReference::WarmUp, 2));
        let _ = SEC;
    }

    #[test]
    fn baseline_judges_known_hosts_by_their_own_services_and_new_hosts_by_everyones()
    -> Result<(), Box<dyn std::error::Error>> {
        let web = Service { proto: TCP, port: 443 };
        let ssh = Service { proto: TCP, port: 22 };
        let hosts = BTreeMap::from([
            ("10.0.0.5".parse()?, BTreeSet::from([web])),
            ("10.0.0.7".parse()?, BTreeSet::from([ssh])),
        ]);
        let everyone = BTreeSet::from([web, ssh]);
        let mut detector =
            RareProtocolDetector::new(RareProtocolConfig::default(), &LimitsConfig::default(), Some((hosts, everyone)));
        let flows = [
            tcp_session(1, "10.0.0.5", "93.184.216.34", 443, 0.0, 900, 9_000),
            tcp_session(2, "10.0.0.5", "10.0.0.7", 22, 1.0, 900, 9_000),
            tcp_session(3, "10.0.0.99", "10.0.0.7", 22, 2.0, 900, 9_000),
            tcp_session(4, "10.0.0.99", "10.0.0.7", 3389, 3.0, 900, 9_000),
            // Outside sources are not profiled.
            tcp_session(5, "198.51.100.1", "10.0.0.5", 3389, 4.0, 900, 9_000),
        ];
        let found = run(&mut detector, &flows);
        let summary: Vec<_> = found.iter().map(|f| (f.src_ip, f.dst_port, f.severity)).collect();
        assert_eq!(
            summary,
            vec![
                ("10.0.0.5".parse().ok(), Some(22), Severity::Low),
                ("10.0.0.99".parse().ok(), Some(3389), Severity::Medium)
            ]
        );
        Ok(())
    }
}
