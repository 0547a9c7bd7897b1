//! Port scans and sweeps, per source.
//!
//! **Threshold Random Walk** (Jung, Paxson, Berger, Balakrishnan, "Fast
//! portscan detection using sequential hypothesis testing", IEEE S&P 2004).
//! Each *first contact* of a source — a TCP SYN, UDP datagram or ICMP echo to
//! a (host, protocol, port) it has not tried before — is a Bernoulli trial:
//! success if the target answered (TCP SYN-ACK, any UDP/ICMP reply), failure
//! otherwise (silence, a RST; an ICMP unreachable arrives as a flow of its
//! own, so the probed flow stays unanswered). A benign host's first contacts
//! succeed with probability θ0, a scanner's with θ1; the walk adds
//! ln((1−θ1)/(1−θ0)) per failure and ln(θ1/θ0) per success, and decides
//! "scanner" at ln(PD/PF), "benign" at ln((1−PD)/(1−PF)). The walk restarts
//! after each decision, so a long benign history cannot hide a later scan,
//! and a scanner keeps firing (each decision is one occurrence).
//!
//! A decision is reported once the source has at least `min_targets` failed
//! first contacts: the walk alone decides after four straight failures,
//! which a host with broken connectivity also produces (devices of the
//! kitsune IoT capture fail against a dozen unreachable cloud servers).
//!
//! **ICMP echo sweeps** are counted separately over `sweep_window`: pinging
//! many hosts is a scan whether they answer or not, and live hosts answering
//! would otherwise walk the test towards "benign".
//!
//! **Crafted probes** are counted per source: TCP flows whose originator
//! flags no conforming stack sends (NULL, FIN and Xmas scans, and nmap's OS
//! detection probes T2, T3 and T7; see [`crafted_tcp_flags`](super::facts::crafted_tcp_flags)). They open
//! no connection, so the walk above never sees them; any host sending a few
//! is probing how a stack reacts to impossible segments.
//!
//! Group destinations (multicast, broadcast) are ignored: nobody answers them.

use std::{hash::BuildHasher, net::IpAddr, time::Duration};

use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::{Deserialize, Serialize};

use super::{
    config::LimitsConfig,
    detector::RuleDetector,
    facts::{FlowFacts, TCP},
    finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
    stats::Distinct,
    table::EntityTable,
    window::SlidingWindow,
};
use crate::event::{AnomalyKind, Evidence, ScanPattern};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortScanConfig {
    pub enabled: bool,
    /// θ0, the chance a benign host's first contact is answered. 0.8: Jung
    /// et al. measured benign success rates well above it on two sites.
    pub theta_benign: f64,
    /// θ1, the chance a scanner's first contact is answered. 0.2: the value
    /// of the paper; most addresses and ports a scanner tries are closed.
    pub theta_scanner: f64,
    /// PD, the wanted detection probability: 0.99 (the paper's).
    pub detection_probability: f64,
    /// PF, the tolerated false-positive probability: 0.01 (the paper's).
    pub false_positive_probability: f64,
    /// Failed first contacts a source needs before a decision is reported.
    /// 10: more than a host with a dead uplink or a stale peer list makes
    /// in a few minutes, far fewer than any real scan.
    pub min_targets: u64,
    /// Distinct hosts a source must ping within `sweep_window` to be a sweep.
    /// 10: ordinary hosts ping one or two (gateway, a server); monitoring
    /// systems that ping more belong in a baseline or an allow list.
    pub sweep_min_hosts: u64,
    #[serde(with = "humantime_serde")]
    pub sweep_window: Duration,
    /// Crafted TCP probes (flows with impossible flag combinations) from
    /// one source before it is reported; reported again each time the count
    /// doubles. 2: a conforming stack sends none, so the only innocent
    /// source is a corrupted segment, and one is not a pattern; nmap's OS
    /// detection alone sends three, a NULL/FIN/Xmas scan one per port.
    pub min_crafted_probes: u64,
    /// First contacts remembered per source (to tell a first contact from a
    /// repeat); past this, new targets are still counted but not remembered.
    pub max_contacts_per_source: usize,
}

impl Default for PortScanConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            theta_benign: 0.8,
            theta_scanner: 0.2,
            detection_probability: 0.99,
            false_positive_probability: 0.01,
            min_targets: 10,
            sweep_min_hosts: 10,
            sweep_window: Duration::from_secs(60),
            min_crafted_probes: 2,
            max_contacts_per_source: 4096,
        }
    }
}

/// Targets a source has contacted, as hashes of (host, protocol, port).
/// Most sources contact one target (spoofed floods, a client's one server):
/// that one is kept inline, a set is allocated from the second on.
#[derive(Debug, Default)]
struct Contacts {
    first: Option<u64>,
    more: FxHashSet<u64>,
}

impl Contacts {
    fn contains(&self, target: u64) -> bool {
        self.first == Some(target) || self.more.contains(&target)
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn insert(&mut self, target: u64) {
        if self.first.is_none() {
            self.first = Some(target);
        } else {
            self.more.insert(target);
        }
    }
}

/// The random walk of one source.
#[derive(Debug)]
struct Walk {
    llr: f64,
    contacted: Contacts,
    attempts: u64,
    failed: u64,
    hosts: Distinct<IpAddr>,
    ports: Distinct<(u8, u16)>,
    first_ns: u64,
    last_ns: u64,
    /// Failed first contacts, the flows a scan report stands on.
    flows: FlowSample,
}

#[derive(Debug, Default)]
struct SweepBucket {
    targets: Distinct<IpAddr>,
    requests: u64,
    unanswered: u64,
}

#[derive(Debug)]
struct Sweep {
    window: SlidingWindow<SweepBucket>,
    /// Distinct targets at which the next report is due: a sweep is
    /// reported when it crosses the threshold and again each time it grows
    /// by as much, not at every echo request.
    next_report: u64,
    first_ns: u64,
    flows: FlowSample,
}

/// Crafted probes of one source.
#[derive(Debug)]
struct Crafted {
    probes: u64,
    answered: u64,
    hosts: Distinct<IpAddr>,
    ports: Distinct<u16>,
    /// Probe count at which the next report is due (doubling).
    next_report: u64,
    first_ns: u64,
    last_ns: u64,
    flows: FlowSample,
}

pub struct PortScanDetector {
    config: PortScanConfig,
    step_failure: f64,
    step_success: f64,
    eta_scanner: f64,
    eta_benign: f64,
    walks: EntityTable<IpAddr, Walk>,
    sweeps: EntityTable<IpAddr, Sweep>,
    crafted: EntityTable<IpAddr, Crafted>,
}

impl PortScanDetector {
    pub fn new(config: PortScanConfig, limits: &LimitsConfig) -> Self {
        let (t0, t1) = (config.theta_benign, config.theta_scanner);
        let (pd, pf) = (config.detection_probability, config.false_positive_probability);
        let capacity = limits.capacity();
        Self {
            step_failure: ((1.0 - t1) / (1.0 - t0)).ln(),
            step_success: (t1 / t0).ln(),
            eta_scanner: (pd / pf).ln(),
            eta_benign: ((1.0 - pd) / (1.0 - pf)).ln(),
            walks: EntityTable::new(capacity, limits.idle_timeout),
            sweeps: EntityTable::new(capacity, limits.idle_timeout.max(config.sweep_window * 2)),
            crafted: EntityTable::new(capacity, limits.idle_timeout),
            config,
        }
    }

    fn observe_contact(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        let port = if facts.is_icmp_echo() { 0 } else { flow.dst_port };
        let target = FxBuildHasher.hash_one((flow.dst_ip, flow.proto, port));
        let max_contacts = self.config.max_contacts_per_source;
        let walk = self.walks.entry(flow.src_ip, facts.now_ns, || Walk {
            llr: 0.0,
            contacted: Contacts::default(),
            attempts: 0,
            failed: 0,
            hosts: Distinct::new(),
            ports: Distinct::new(),
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
            flows: FlowSample::default(),
        });
        if walk.contacted.contains(target) {
            return;
        }
        if walk.contacted.len() < max_contacts {
            walk.contacted.insert(target);
        }
        walk.attempts += 1;
        walk.hosts.insert(&flow.dst_ip);
        walk.ports.insert(&(flow.proto, port));
        walk.last_ns = walk.last_ns.max(flow.end_ns);
        if facts.answered {
            walk.llr += self.step_success;
        } else {
            walk.llr += self.step_failure;
            walk.failed += 1;
            walk.flows.add(flow);
        }
        if walk.llr <= self.eta_benign {
            walk.llr = 0.0;
        } else if walk.llr >= self.eta_scanner && walk.failed >= self.config.min_targets {
            out.push(scan_finding(flow.src_ip, walk, &self.config));
            walk.llr = 0.0;
        }
    }

    fn observe_echo(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        let (length, min_hosts) = (self.config.sweep_window, self.config.sweep_min_hosts);
        let sweep = self.sweeps.entry(flow.src_ip, facts.now_ns, || Sweep {
            window: SlidingWindow::new(length, facts.now_ns),
            next_report: min_hosts,
            first_ns: flow.start_ns,
            flows: FlowSample::default(),
        });
        let bucket = sweep.window.at(facts.now_ns);
        bucket.targets.insert(&flow.dst_ip);
        bucket.requests += 1;
        bucket.unanswered += u64::from(!facts.answered);
        sweep.flows.add(flow);
        let view = sweep.window.view(facts.now_ns);
        let hosts = view.distinct(|b| b.targets.estimate() as f64).round() as u64;
        if hosts < min_hosts {
            sweep.next_report = min_hosts;
            return;
        }
        if hosts < sweep.next_report {
            return;
        }
        sweep.next_report = hosts + min_hosts;
        let ratio = hosts as f64 / min_hosts.max(1) as f64;
        let requests = view.sum(|b| b.requests as f64).round() as u64;
        let unanswered = view.sum(|b| b.unanswered as f64).round() as u64;
        out.push(Finding {
            kind: AnomalyKind::PortScan,
            entity: Entity::Source(flow.src_ip),
            severity: severity_for_ratio(ratio),
            score: score_for_ratio(ratio),
            summary: format!("{} pinged {hosts} hosts within {:.0} s", flow.src_ip, sweep.window.len_secs()),
            src_ip: Some(flow.src_ip),
            src_port: None,
            dst_ip: None,
            dst_port: None,
            proto: Some(flow.proto),
            first_ns: sweep.first_ns,
            last_ns: flow.end_ns,
            evidence: Evidence::PortScan {
                pattern: ScanPattern::IcmpSweep,
                distinct_ports: 0,
                distinct_hosts: hosts,
                attempts: requests,
                failed: unanswered,
                log_likelihood_ratio: None,
                window_secs: Some(sweep.window.len_secs()),
            },
            flows: sweep.flows.clone(),
            occurrences: 1,
        });
    }

    fn observe_crafted(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        let min_probes = self.config.min_crafted_probes.max(1);
        let probes = self.crafted.entry(flow.src_ip, facts.now_ns, || Crafted {
            probes: 0,
            answered: 0,
            hosts: Distinct::new(),
            ports: Distinct::new(),
            next_report: min_probes,
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
            flows: FlowSample::default(),
        });
        probes.probes += 1;
        probes.answered += u64::from(flow.resp.packets > 0);
        probes.hosts.insert(&flow.dst_ip);
        probes.ports.insert(&flow.dst_port);
        probes.first_ns = probes.first_ns.min(flow.start_ns);
        probes.last_ns = probes.last_ns.max(flow.end_ns);
        probes.flows.add(flow);
        if probes.probes < probes.next_report {
            return;
        }
        probes.next_report = probes.probes.saturating_mul(2);
        out.push(crafted_finding(flow.src_ip, probes, min_probes));
    }
}

impl RuleDetector for PortScanDetector {
    fn name(&self) -> &'static str {
        "port_scan"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        if facts.dst_is_group {
            return;
        }
        if facts.crafted {
            self.observe_crafted(facts, out);
        }
        if !facts.opened {
            return;
        }
        if facts.is_icmp_echo() {
            self.observe_echo(facts, out);
        }
        self.observe_contact(facts, out);
    }

    fn expire(&mut self, now_ns: u64) {
        self.walks.expire(now_ns);
        self.sweeps.expire(now_ns);
        self.crafted.expire(now_ns);
    }

    fn tracked(&self) -> usize {
        self.walks.len() + self.sweeps.len() + self.crafted.len()
    }

    fn evicted(&self) -> u64 {
        self.walks.evicted_full() + self.sweeps.evicted_full() + self.crafted.evicted_full()
    }
}

fn scan_finding(src: IpAddr, walk: &Walk, config: &PortScanConfig) -> Finding {
    let hosts = walk.hosts.estimate() as u64;
    let ports = walk.ports.estimate() as u64;
    let pattern = if hosts > ports { ScanPattern::Horizontal } else { ScanPattern::Vertical };
    let ratio = walk.failed as f64 / config.min_targets.max(1) as f64;
    // One target host (vertical) or one port (horizontal) names the scan.
    let single_host = walk.flows.refs.first().map(|f| f.dst_ip).filter(|_| hosts == 1);
    let single_port = walk.flows.refs.first().map(|f| f.dst_port).filter(|_| ports == 1);
    let summary = match pattern {
        ScanPattern::Horizontal => format!("{src} probed {hosts} hosts on {ports} port(s), {} unanswered", walk.failed),
        _ => format!("{src} probed {ports} ports on {hosts} host(s), {} unanswered", walk.failed),
    };
    Finding {
        kind: AnomalyKind::PortScan,
        entity: Entity::Source(src),
        severity: severity_for_ratio(ratio),
        score: score_for_ratio(ratio),
        summary,
        src_ip: Some(src),
        src_port: None,
        dst_ip: single_host,
        dst_port: single_port,
        proto: walk.flows.refs.first().map(|f| f.proto),
        first_ns: walk.first_ns,
        last_ns: walk.last_ns,
        evidence: Evidence::PortScan {
            pattern,
            distinct_ports: ports,
            distinct_hosts: hosts,
            attempts: walk.attempts,
            failed: walk.failed,
            log_likelihood_ratio: Some(walk.llr),
            window_secs: None,
        },
        flows: walk.flows.clone(),
        occurrences: 1,
    }
}

fn crafted_finding(src: IpAddr, probes: &Crafted, min_probes: u64) -> Finding {
    let hosts = probes.hosts.estimate() as u64;
    let ports = probes.ports.estimate() as u64;
    let ratio = probes.probes as f64 / min_probes as f64;
    let single_host = probes.flows.refs.first().map(|f| f.dst_ip).filter(|_| hosts == 1);
    Finding {
        kind: AnomalyKind::PortScan,
        entity: Entity::Source(src),
        severity: severity_for_ratio(ratio),
        score: score_for_ratio(ratio),
        summary: format!(
            "{src} sent {} TCP probes with impossible flags (NULL/FIN/Xmas) to {ports} port(s) on {hosts} host(s)",
            probes.probes
        ),
        src_ip: Some(src),
        src_port: None,
        dst_ip: single_host,
        dst_port: None,
        proto: Some(TCP),
        first_ns: probes.first_ns,
        last_ns: probes.last_ns,
        evidence: Evidence::PortScan {
            pattern: ScanPattern::CraftedFlags,
            distinct_ports: ports,
            distinct_hosts: hosts,
            attempts: probes.probes,
            failed: probes.probes - probes.answered,
            log_likelihood_ratio: None,
            window_secs: None,
        },
        flows: probes.flows.clone(),
        occurrences: 1,
    }
}

#[cfg(test)]
mod tests {
    use models::FlowObservation;

    use super::*;
    use crate::{
        detect::facts::{
            ICMP, UDP,
            tests::{flow, observe_all, syn_only, tcp_session, with_orig, with_resp},
        },
        event::Severity,
    };

    fn detector() -> PortScanDetector {
        PortScanDetector::new(PortScanConfig::default(), &LimitsConfig::default())
    }

    #[test]
    fn walk_steps_match_the_paper() {
        let d = detector();
        assert!((d.step_failure - 4f64.ln()).abs() < 1e-12);
        assert!((d.step_success + 4f64.ln()).abs() < 1e-12);
        assert!((d.eta_scanner - 99f64.ln()).abs() < 1e-12);
        assert!((d.eta_benign + 99f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn vertical_scan_is_reported_at_the_tenth_failure() {
        let flows: Vec<_> =
            (0..30).map(|i| syn_only(i, "172.16.0.8", "64.13.134.52", 1 + i as u16, i as f64 * 0.01)).collect();
        let found = observe_all(&mut detector(), &flows);
        // Decisions at failures 10 (walk far past η1), then every 4 failures after each restart.
        assert_eq!(found.len(), 6);
        let first = &found[0];
        assert_eq!(first.kind, AnomalyKind::PortScan);
        assert_eq!(first.src_ip, Some("172.16.0.8".parse().ok()).flatten());
        assert_eq!(first.dst_ip, "64.13.134.52".parse().ok());
        assert_eq!(first.severity, Severity::Low);
        let Evidence::PortScan {
            pattern, distinct_ports, distinct_hosts, attempts, failed, log_likelihood_ratio, ..
        } = &first.evidence
        else {
            panic!("wrong evidence {:?}", first.evidence);
        };
        assert_eq!(
            (*pattern, *distinct_ports, *distinct_hosts, *attempts, *failed),
            (ScanPattern::Vertical, 10, 1, 10, 10)
        );
        assert!((log_likelihood_ratio.unwrap_or_default() - 10.0 * 4f64.ln()).abs() < 1e-9);
        assert_eq!(first.flows.total, 10);
        let last = &found[5];
        let Evidence::PortScan { failed, .. } = &last.evidence else { panic!("wrong evidence") };
        assert_eq!(*failed, 30);
        assert_eq!(last.severity, Severity::Medium);
    }

    #[test]
    fn horizontal_scan_names_the_port_and_repeats_are_not_first_contacts() {
        let mut flows = Vec::new();
        for host in 0..12u64 {
            let dst = format!("192.168.2.{}", 100 + host);
            // Each host twice on the same port: only the first is a first contact.
            flows.push(syn_only(2 * host, "192.168.2.16", &dst, 23, host as f64));
            flows.push(syn_only(2 * host + 1, "192.168.2.16", &dst, 23, host as f64 + 0.5));
        }
        let found = observe_all(&mut detector(), &flows);
        assert_eq!(found.len(), 1);
        let Evidence::PortScan { pattern, distinct_hosts, distinct_ports, attempts, .. } = &found[0].evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*pattern, *distinct_hosts, *distinct_ports, *attempts), (ScanPattern::Horizontal, 10, 1, 10));
        assert_eq!(found[0].dst_port, Some(23));
        assert_eq!(found[0].dst_ip, None);
    }

    #[test]
    fn answered_contacts_keep_a_busy_client_benign() {
        // 60 distinct servers, one in four unreachable: the walk keeps restarting at "benign".
        let flows: Vec<_> = (0..60u64)
            .map(|i| {
                let dst = format!("93.184.{}.{}", i / 200, i % 200 + 1);
                if i % 4 == 3 {
                    syn_only(i, "10.0.0.5", &dst, 443, i as f64)
                } else {
                    tcp_session(i, "10.0.0.5", &dst, 443, i as f64, 900, 40_000)
                }
            })
            .collect();
        assert!(observe_all(&mut detector(), &flows).is_empty());
    }

    #[test]
    fn few_failures_are_not_a_scan_and_multicast_is_ignored() {
        let mut flows: Vec<_> =
            (0..9).map(|i| syn_only(i, "192.168.2.113", "52.1.1.1", 8000 + i as u16, 0.0)).collect();
        flows.extend(
            (0..30).map(|i| with_orig(flow(100 + i, UDP, "192.168.2.9", "239.255.255.250", 1900, 0.0, 0), 1, 200, 0)),
        );
        assert!(observe_all(&mut detector(), &flows).is_empty());
    }

    fn echo(id: u64, dst: &str, at: f64, answered: bool) -> FlowObservation {
        let mut f = with_orig(flow(id, ICMP, "192.168.1.109", dst, 0, at, 3), 1, 42, 0);
        f.src_port = 8;
        if answered { with_resp(f, 1, 42, 0) } else { f }
    }

    #[test]
    fn echo_sweep_is_reported_even_when_most_hosts_answer() {
        let flows: Vec<_> =
            (0..18u64).map(|i| echo(i, &format!("192.168.1.{}", 100 + i), i as f64 * 0.05, i % 3 != 0)).collect();
        let found = observe_all(&mut detector(), &flows);
        assert_eq!(found.len(), 1);
        let sweep = &found[0];
        assert_eq!(sweep.src_ip, "192.168.1.109".parse().ok());
        let Evidence::PortScan { pattern, distinct_hosts, attempts, failed, .. } = &sweep.evidence else {
            panic!("wrong evidence")
        };
        // Reported when the 10th host is pinged; 4 of those 10 (i = 0, 3, 6, 9) went unanswered.
        assert_eq!((*pattern, *distinct_hosts, *attempts, *failed), (ScanPattern::IcmpSweep, 10, 10, 4));
        assert_eq!(sweep.flows.total, 10);
    }

    #[test]
    fn crafted_flags_are_probes_and_doubling_counts_decide_the_reports() {
        use agent_common::flow::tcp_flags::{ACK, FIN, PSH, SYN, URG};
        let probe = |id: u64, port: u16, flags: u8| {
            with_orig(flow(id, TCP, "172.16.16.128", "172.16.16.150", port, 0.0, 0), 1, 74, flags)
        };
        // An Xmas scan of 9 ports, then an ordinary connection and an ACK probe (unsolicited, not crafted).
        let mut flows: Vec<_> = (0..9u64).map(|i| probe(i, 100 + i as u16, FIN | PSH | URG)).collect();
        flows.push(tcp_session(20, "172.16.16.128", "172.16.16.150", 80, 1.0, 500, 900));
        flows.push(probe(21, 135, ACK));
        let found = observe_all(&mut detector(), &flows);
        // Reported at 2, 4 and 8 probes.
        let counts: Vec<_> = found
            .iter()
            .map(|f| match f.evidence {
                Evidence::PortScan { pattern: ScanPattern::CraftedFlags, attempts, distinct_ports, .. } => {
                    (attempts, distinct_ports, f.severity)
                }
                ref other => panic!("wrong evidence {other:?}"),
            })
            .collect();
        assert_eq!(counts, vec![(2, 2, Severity::Low), (4, 4, Severity::Low), (8, 8, Severity::Medium)]);
        assert_eq!(found[2].dst_ip, "172.16.16.150".parse().ok());
        assert_eq!(found[2].flows.total, 8);
        // A SYN with FIN but also ACK later is a conversation, not a probe; nor are port-less fragments.
        let odd_but_legal = probe(30, 80, SYN | ACK | FIN);
        let mut fragment = probe(31, 0, 0);
        fragment.src_port = 0;
        assert!(observe_all(&mut detector(), &[odd_but_legal, fragment]).is_empty());
    }
}
