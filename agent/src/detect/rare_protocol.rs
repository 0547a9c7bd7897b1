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
//!
//! Only services that answered count: a host that tried a port nobody
//! answered did not use a service (a SYN scan tries a thousand; that is
//! `port_scan`'s to report). New services of one host within
//! `report_window` of the first are one incident: one event listing them.

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
    gather::Gatherer,
    table::EntityTable,
};
use crate::{
    duration::saturating_ns,
    event::{AnomalyKind, Evidence, MAX_FLOWS_PER_EVENT, NoveltyReference, ServicePort, Severity},
};

/// Services remembered across all hosts (a bound on memory: real networks
/// use a few hundred).
const MAX_SERVICES_EVERYWHERE: usize = 65_536;

/// Ports from here up are ephemeral (IANA dynamic range) and count as one service.
pub const EPHEMERAL_PORT: u16 = 49152;

/// The service a flow used, as the responder's protocol and port: TCP/UDP
/// ports from [`EPHEMERAL_PORT`] up are one service, ICMP is by type, other
/// protocols have no port (0).
pub fn service_of(flow: &FlowObservation) -> ServicePort {
    let port = match flow.proto {
        TCP | UDP => flow.dst_port.min(EPHEMERAL_PORT),
        ICMP | ICMPV6 => flow.src_port,
        _ => 0,
    };
    ServicePort { proto: flow.proto, port }
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
    /// New services of one host within this long of its first are one
    /// event. 60 s: a new tool or a compromise shows its services within a
    /// minute, and the event is not held back longer than that.
    #[serde(with = "humantime_serde")]
    pub report_window: Duration,
}

impl Default for RareProtocolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            warmup: Duration::from_secs(3600),
            max_services_per_host: 1024,
            report_window: Duration::from_secs(60),
        }
    }
}

/// From the baseline: each host's services, and every service any host used.
pub type KnownServices = (BTreeMap<IpAddr, BTreeSet<ServicePort>>, BTreeSet<ServicePort>);

/// The baseline's view: each host's services and everyone's.
#[derive(Debug, Default)]
struct Reference {
    hosts: FxHashMap<IpAddr, FxHashSet<ServicePort>>,
    everyone: FxHashSet<ServicePort>,
}

/// One host's new services within a report window.
#[derive(Debug)]
struct NewServices {
    reference: NoveltyReference,
    /// Services the host was known to use when the first new one came.
    known_services: u64,
    /// The new services (up to [`MAX_FLOWS_PER_EVENT`]) and how many there were.
    services: Vec<ServicePort>,
    total: u64,
    /// Any of them new to the whole network.
    new_everywhere: bool,
    first_ns: u64,
    last_ns: u64,
    /// The incident's flows; the first is the first new service's.
    flows: FlowSample,
}

pub struct RareProtocolDetector {
    config: RareProtocolConfig,
    baseline: Option<Reference>,
    /// Learnt in this run (warm-up, or reported and then accepted).
    learned: EntityTable<IpAddr, FxHashSet<ServicePort>>,
    learned_everyone: FxHashSet<ServicePort>,
    warmup_end_ns: Option<u64>,
    incidents: Gatherer<IpAddr, NewServices>,
}

impl RareProtocolDetector {
    /// `baseline`: per host its services, and every service seen.
    pub fn new(config: RareProtocolConfig, limits: &LimitsConfig, baseline: Option<KnownServices>) -> Self {
        let baseline = baseline.map(|(hosts, everyone)| Reference {
            hosts: hosts.into_iter().map(|(host, services)| (host, services.into_iter().collect())).collect(),
            everyone: everyone.into_iter().collect(),
        });
        Self {
            baseline,
            // Learnt habits must not fade after an idle spell: no idle expiry.
            learned: EntityTable::new(limits.capacity(), Duration::MAX),
            learned_everyone: FxHashSet::default(),
            warmup_end_ns: None,
            incidents: Gatherer::new(config.report_window, limits.capacity().get()),
            config,
        }
    }
}

impl RuleDetector for RareProtocolDetector {
    fn name(&self) -> &'static str {
        "rare_protocol"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, _out: &mut Vec<Finding>) {
        if !facts.opened || !facts.src_internal || facts.dst_is_group || facts.unanswered() {
            return;
        }
        let flow = facts.flow;
        let service = service_of(flow);
        let now = facts.now_ns;
        let warming_up = self.baseline.is_none() && {
            let end = *self.warmup_end_ns.get_or_insert(now.saturating_add(saturating_ns(self.config.warmup)));
            now < end
        };
        let learned = self.learned.entry(flow.src_ip, now, FxHashSet::default);
        if learned.contains(&service) {
            return;
        }
        // The host's own services in the baseline, if it has any (looked up once).
        let own = self.baseline.as_ref().and_then(|base| base.hosts.get(&flow.src_ip));
        let (reference, host_known, everyone_known) = match &self.baseline {
            Some(base) => {
                let everyone_known = base.everyone.contains(&service) || self.learned_everyone.contains(&service);
                // A host the baseline never saw is judged against everyone's services.
                let host_known = own.map_or(everyone_known, |own| own.contains(&service));
                (NoveltyReference::Baseline, host_known, everyone_known)
            }
            None => (NoveltyReference::WarmUp, false, self.learned_everyone.contains(&service)),
        };
        // Known before this flow's service is learnt.
        let learned_before = learned.len();
        if learned_before < self.config.max_services_per_host {
            learned.insert(service);
        }
        if self.learned_everyone.len() < MAX_SERVICES_EVERYWHERE {
            self.learned_everyone.insert(service);
        }
        if warming_up || host_known {
            return;
        }
        let known_services = (own.map_or(0, |own| own.len()) + learned_before) as u64;
        let incident = self.incidents.entry(flow.src_ip, now, || NewServices {
            reference,
            known_services,
            services: Vec::new(),
            total: 0,
            new_everywhere: false,
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
            flows: FlowSample::default(),
        });
        if incident.services.len() < MAX_FLOWS_PER_EVENT {
            incident.services.push(service);
        }
        incident.total += 1;
        incident.new_everywhere |= !everyone_known;
        incident.first_ns = incident.first_ns.min(flow.start_ns);
        incident.last_ns = incident.last_ns.max(flow.end_ns);
        incident.flows.add(flow);
    }

    fn deferred(&mut self, now_ns: u64, out: &mut Vec<Finding>) {
        self.incidents.due(now_ns, |host, incident| out.push(finding(host, incident)));
    }

    fn tracked(&self) -> usize {
        self.learned.len() + self.incidents.len()
    }

    fn evicted(&self) -> u64 {
        self.learned.evicted_full()
    }
}

/// New to this host but used by others: low; new to the whole network: medium.
fn finding(host: IpAddr, incident: NewServices) -> Finding {
    let NewServices { reference, known_services, services, total, new_everywhere, first_ns, last_ns, flows } = incident;
    let first = services[0];
    let first_flow = flows.refs.first();
    let summary = if total == 1 {
        let to = first_flow.map_or_else(String::new, |f| format!(" (to {})", f.dst_ip));
        format!("{host} used {} {} for the first time{to}", proto_name(first.proto), first.port)
    } else {
        let listed: Vec<String> = services.iter().map(|s| format!("{} {}", proto_name(s.proto), s.port)).collect();
        let more = if total > services.len() as u64 { ", …" } else { "" };
        format!("{host} used {total} services for the first time: {}{more}", listed.join(", "))
    };
    Finding {
        kind: AnomalyKind::RareProtocol,
        entity: Entity::Source(host),
        severity: if new_everywhere { Severity::Medium } else { Severity::Low },
        score: if new_everywhere { 0.75 } else { 0.5 },
        summary,
        src_ip: Some(host),
        src_port: None,
        dst_ip: first_flow.map(|f| f.dst_ip),
        dst_port: first_flow.map(|f| f.dst_port),
        proto: Some(first.proto),
        first_ns,
        last_ns,
        evidence: Evidence::RareProtocol {
            proto: first.proto,
            port: first.port,
            reference,
            known_services,
            new_services: services,
            new_services_total: total,
        },
        flows,
        occurrences: total,
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
    use crate::detect::facts::tests::{flow, observe_all, syn_only, tcp_session};

    fn run(detector: &mut RareProtocolDetector, flows: &[FlowObservation]) -> Vec<Finding> {
        let mut out = observe_all(detector, flows);
        assert!(out.is_empty(), "findings come when an incident's window closes");
        detector.deferred(u64::MAX, &mut out);
        out
    }

    #[test]
    fn ephemeral_ports_are_one_service_and_icmp_is_by_type() {
        let high = flow(1, UDP, "10.0.0.1", "10.0.0.2", 61_000, 0.0, 0);
        assert_eq!(service_of(&high), ServicePort { proto: UDP, port: EPHEMERAL_PORT });
        let mut echo = flow(2, ICMP, "10.0.0.1", "10.0.0.2", 0, 0.0, 0);
        echo.src_port = 8;
        assert_eq!(service_of(&echo), ServicePort { proto: ICMP, port: 8 });
        assert_eq!(service_of(&flow(3, 47, "10.0.0.1", "10.0.0.2", 0, 0.0, 0)), ServicePort { proto: 47, port: 0 });
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
        // SMB and 4444 within a minute: one incident, medium because 4444 is new everywhere.
        let summary: Vec<_> = found.iter().map(|f| (f.dst_port, f.severity, f.occurrences)).collect();
        assert_eq!(summary, vec![(Some(445), Severity::Medium, 2)]);
        let Evidence::RareProtocol { proto, port, reference, known_services, new_services, new_services_total } =
            &found[0].evidence
        else {
            panic!("wrong evidence")
        };
        assert_eq!((*proto, *port, *reference, *known_services), (TCP, 445, NoveltyReference::WarmUp, 1));
        let ports: Vec<u16> = new_services.iter().map(|s| s.port).collect();
        assert_eq!((ports, *new_services_total), (vec![445, 4444], 2));
        assert_eq!(found[0].flows.total, 2);
    }

    #[test]
    fn unanswered_attempts_are_not_services_used() {
        let config = RareProtocolConfig { warmup: Duration::from_secs(1), ..RareProtocolConfig::default() };
        let mut detector = RareProtocolDetector::new(config, &LimitsConfig::default(), None);
        let mut flows = vec![tcp_session(1, "172.16.0.8", "64.13.134.52", 443, 0.0, 900, 9_000)];
        // A SYN scan after the warm-up: 100 closed ports, then one open one answered.
        flows.extend((0..100u64).map(|i| syn_only(10 + i, "172.16.0.8", "64.13.134.52", 1000 + i as u16, 5.0)));
        flows.push(tcp_session(200, "172.16.0.8", "64.13.134.52", 22, 6.0, 300, 900));
        let found = run(&mut detector, &flows);
        assert_eq!(found.iter().map(|f| (f.dst_port, f.occurrences)).collect::<Vec<_>>(), vec![(Some(22), 1)]);
        assert_eq!(found[0].first_ns, flows[101].start_ns);
    }

    #[test]
    fn baseline_judges_known_hosts_by_their_own_services_and_new_hosts_by_everyones()
    -> Result<(), Box<dyn std::error::Error>> {
        let web = ServicePort { proto: TCP, port: 443 };
        let ssh = ServicePort { proto: TCP, port: 22 };
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
