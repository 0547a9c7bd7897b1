//! DNS tunnels: data carried in DNS queries (iodine, dnscat2, DNS
//! exfiltration) to one resolver, per (client, resolver) over a window.
//!
//! Three signals: long queries (data encoded in names makes query frames
//! long), many queries per second, many bytes out. The kernel keeps no
//! payload, so names and domains are not visible: per-domain analysis
//! (label entropy, distinct subdomains of one domain) is not possible from
//! flows, and a tunnel through a resolver is seen as traffic to that
//! resolver. A query is a packet the client sent to port 53; over TCP the
//! handshake and acknowledgements count too (TCP DNS is rare and bulky).
//!
//! A fourth signal, zone transfers ([`transfer`]): an answer over TCP larger
//! than a datagram that no UDP query asked for.

mod transfer;

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use ipnet::IpNet;
use models::{FlowObservation, features::ports::DNS_PORT};

use serde::{Deserialize, Serialize};

use super::{
    config::LimitsConfig,
    detector::RuleDetector,
    facts::{FlowFacts, TCP, UDP},
    finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
    table::EntityTable,
    window::{Refire, SlidingWindow},
};
use crate::event::{AnomalyKind, DnsSignal, Evidence};
use transfer::{Transfers, UdpSpan};

/// A DNS request: to port 53 over UDP or TCP, with something sent. The
/// traffic baseline counts what this detector counts.
pub(crate) fn is_query(flow: &FlowObservation) -> bool {
    flow.dst_port == DNS_PORT && matches!(flow.proto, UDP | TCP) && flow.orig.packets > 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsTunnelConfig {
    pub enabled: bool,
    /// 60 s: tunnels are chatty; a minute holds hundreds of their queries.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Queries needed in the window before their mean size is judged. 30:
    /// a few long names (CDN, DNSBL lookups) must not decide on their own.
    pub min_queries: u64,
    /// Mean query frame size (Ethernet + IP + UDP + DNS) that is too long.
    /// 150 bytes: a query for a typical 30-character name with EDNS is
    /// ≈100 bytes; tunnels fill names to 200+ characters.
    pub max_mean_query_bytes: f64,
    /// Queries per second to one resolver. 10/s over a minute: far above a
    /// workstation (a few per page); resolvers and mail servers belong in a
    /// baseline.
    pub max_queries_per_sec: f64,
    /// Bytes of queries per window. 128 KiB/min: ≈1,000 long queries.
    pub max_bytes_out: u64,
    /// With a baseline, rate and volume thresholds are this many times the
    /// client's usual (99th percentile) window… 5.
    pub baseline_factor: f64,
    /// …but at least these (a client that rarely resolves anything is not a
    /// tunnel at two queries per second).
    pub baseline_min_queries_per_sec: f64,
    pub baseline_min_bytes_out: u64,
    /// Answer payload over TCP, without a UDP query first, that is a zone
    /// transfer. 512 bytes: the most a DNS datagram carries without EDNS
    /// (RFC 1035 §4.2.1); a smaller answer never needed TCP.
    pub transfer_min_answer_bytes: u64,
    /// How long before a TCP conversation a UDP query to the same server
    /// makes it a fallback after truncation. 5 s: resolvers retry over TCP
    /// within milliseconds of the truncated answer.
    #[serde(with = "humantime_serde")]
    pub transfer_fallback_window: Duration,
    /// How long a candidate waits for its UDP query's record (which comes
    /// when that flow idles out). 60 s: twice the flow table's default idle
    /// timeout; raise it with `--idle-timeout`.
    #[serde(with = "humantime_serde")]
    pub transfer_grace: Duration,
    /// Hosts allowed to transfer zones (secondary name servers), as client
    /// or server. Empty by default.
    pub transfer_allowed: Vec<IpNet>,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(60),
            min_queries: 30,
            max_mean_query_bytes: 150.0,
            max_queries_per_sec: 10.0,
            max_bytes_out: 128 * 1024,
            baseline_factor: 5.0,
            baseline_min_queries_per_sec: 1.0,
            baseline_min_bytes_out: 16 * 1024,
            transfer_min_answer_bytes: 512,
            transfer_fallback_window: Duration::from_secs(5),
            transfer_grace: Duration::from_secs(60),
            transfer_allowed: Vec::new(),
        }
    }
}

/// A client's usual DNS per window (from the baseline).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsUsual {
    pub queries_per_sec_p99: f64,
    pub mean_query_bytes_p99: f64,
    pub bytes_out_p99: f64,
}

#[derive(Debug, Default)]
struct Bucket {
    first_ns: Option<u64>,
    queries: u64,
    bytes_out: u64,
}

#[derive(Debug)]
struct Client {
    window: SlidingWindow<Bucket>,
    refire: Refire,
    flows: FlowSample,
    udp: UdpSpan,
    /// The client's thresholds, from the baseline when the entry was made
    /// (the baseline never changes, so no query needs to look it up again).
    limits: Thresholds,
}

#[derive(Clone, Copy, Debug)]
struct Thresholds {
    mean_query_bytes: f64,
    queries_per_sec: f64,
    bytes_out: f64,
}

pub struct DnsTunnelDetector {
    config: DnsTunnelConfig,
    baseline: BTreeMap<IpAddr, DnsUsual>,
    clients: EntityTable<(IpAddr, IpAddr), Client>,
    /// Apart from `clients`, so a client's entry and the candidates can be
    /// used at once.
    transfers: Transfers,
}

impl DnsTunnelDetector {
    pub fn new(config: DnsTunnelConfig, limits: &LimitsConfig, baseline: BTreeMap<IpAddr, DnsUsual>) -> Self {
        let ttl = limits.idle_timeout.max(config.window * 2);
        Self {
            clients: EntityTable::new(limits.capacity(), ttl),
            transfers: Transfers::new(&config, limits),
            baseline,
            config,
        }
    }
}

fn thresholds(c: &DnsTunnelConfig, baseline: &BTreeMap<IpAddr, DnsUsual>, client: IpAddr) -> Thresholds {
    match baseline.get(&client) {
        Some(usual) => Thresholds {
            // Long names stay suspicious on any host, unless this one always uses them.
            mean_query_bytes: c.max_mean_query_bytes.max(usual.mean_query_bytes_p99 * 1.25),
            queries_per_sec: (usual.queries_per_sec_p99 * c.baseline_factor).max(c.baseline_min_queries_per_sec),
            bytes_out: (usual.bytes_out_p99 * c.baseline_factor).max(c.baseline_min_bytes_out as f64),
        },
        None => Thresholds {
            mean_query_bytes: c.max_mean_query_bytes,
            queries_per_sec: c.max_queries_per_sec,
            bytes_out: c.max_bytes_out as f64,
        },
    }
}

impl RuleDetector for DnsTunnelDetector {
    fn name(&self) -> &'static str {
        "dns_tunnel"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        if !is_query(flow) {
            return;
        }
        let now = facts.now_ns;
        let (config, baseline) = (&self.config, &self.baseline);
        let client = self.clients.entry((flow.src_ip, flow.dst_ip), now, || Client {
            window: SlidingWindow::new(config.window, now),
            refire: Refire::default(),
            flows: FlowSample::default(),
            udp: UdpSpan::default(),
            limits: thresholds(config, baseline, flow.src_ip),
        });
        let limits = client.limits;
        if flow.proto == UDP {
            self.transfers.udp_query(flow, &mut client.udp);
        } else if facts.handshake_completed {
            self.transfers.tcp_answer(flow, &client.udp);
        }
        let bucket = client.window.at(now);
        bucket.first_ns = Some(bucket.first_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
        bucket.queries += flow.orig.packets;
        bucket.bytes_out += flow.orig.bytes;
        let view = client.window.view(now);
        let window_secs = client.window.len_secs();
        let queries = view.sum(|b| b.queries as f64);
        let bytes_out = view.sum(|b| b.bytes_out as f64);
        let mean = bytes_out / queries.max(1.0);
        let rate = queries / window_secs;
        let signals = [
            (DnsSignal::QueryRate, rate / limits.queries_per_sec, limits.queries_per_sec),
            (DnsSignal::Volume, bytes_out / limits.bytes_out, limits.bytes_out),
            (DnsSignal::QuerySize, mean / limits.mean_query_bytes, limits.mean_query_bytes),
        ];
        // Flows are kept as evidence only while a signal is at least half way
        // there (bounded memory for ordinary clients).
        if signals.iter().all(|s| s.1 < 0.5) {
            if client.flows.total > 0 {
                client.flows = FlowSample::default();
            }
            return;
        }
        client.flows.add(flow);
        let enough_for_size = queries >= config.min_queries as f64;
        let Some((signal, ratio, threshold)) = signals
            .into_iter()
            .filter(|s| s.1 >= 1.0 && (s.0 != DnsSignal::QuerySize || enough_for_size))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return;
        };
        let severity = severity_for_ratio(ratio);
        if !client.refire.should_fire(now, client.window.len_ns(), severity) {
            return;
        }
        let first_ns = view.first_ns(|b| b.first_ns).unwrap_or(flow.start_ns);
        out.push(Finding {
            kind: AnomalyKind::DnsTunnel,
            entity: Entity::Pair(flow.src_ip, flow.dst_ip),
            severity,
            score: score_for_ratio(ratio),
            summary: format!(
                "{} sent {queries:.0} DNS queries ({:.0} bytes each, {rate:.1}/s) to {} in {window_secs:.0} s",
                flow.src_ip, mean, flow.dst_ip
            ),
            src_ip: Some(flow.src_ip),
            src_port: None,
            dst_ip: Some(flow.dst_ip),
            dst_port: Some(DNS_PORT),
            proto: Some(flow.proto),
            first_ns,
            last_ns: flow.end_ns,
            evidence: Evidence::DnsTunnel {
                signal,
                window_secs,
                queries: queries.round() as u64,
                bytes_out: bytes_out.round() as u64,
                mean_query_bytes: mean,
                queries_per_sec: rate,
                threshold,
                answer_bytes: None,
            },
            flows: client.flows.clone(),
            occurrences: 1,
        });
    }

    fn expire(&mut self, now_ns: u64) {
        self.clients.expire(now_ns);
    }

    fn deferred(&mut self, now_ns: u64, out: &mut Vec<Finding>) {
        self.transfers.due(now_ns, out);
    }

    fn tracked(&self) -> usize {
        self.clients.len() + self.transfers.len()
    }

    fn evicted(&self) -> u64 {
        self.clients.evicted_full() + self.transfers.evicted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        detect::facts::tests::{flow, observe_all, with_orig, with_resp},
        event::Severity,
    };

    fn query(id: u64, at: f64, frame: u64) -> models::FlowObservation {
        with_resp(with_orig(flow(id, UDP, "10.0.0.23", "10.0.0.1", 53, at, 2), 1, frame, 0), 1, frame + 60, 0)
    }

    #[test]
    fn long_queries_are_a_tunnel_once_there_are_enough() {
        let mut detector =
            DnsTunnelDetector::new(DnsTunnelConfig::default(), &LimitsConfig::default(), BTreeMap::new());
        let flows: Vec<_> = (0..40u64).map(|i| query(i, i as f64, 260)).collect();
        let found = observe_all(&mut detector, &flows);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.src_ip, f.dst_ip, f.dst_port), ("10.0.0.23".parse().ok(), "10.0.0.1".parse().ok(), Some(53)));
        let Evidence::DnsTunnel { signal, queries, mean_query_bytes, bytes_out, .. } = &f.evidence else {
            panic!("wrong evidence")
        };
        // Reported at the 30th query (min_queries), 260/150 = 1.7× the size limit.
        assert_eq!((*signal, *queries, *mean_query_bytes, *bytes_out), (DnsSignal::QuerySize, 30, 260.0, 7_800));
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.flows.total, 30);
    }

    #[test]
    fn ordinary_lookups_are_not_and_the_baseline_sets_the_rate() -> Result<(), Box<dyn std::error::Error>> {
        let mut detector =
            DnsTunnelDetector::new(DnsTunnelConfig::default(), &LimitsConfig::default(), BTreeMap::new());
        // 3 queries per second of 95-byte frames for two minutes.
        let flows: Vec<_> = (0..360u64).map(|i| query(i, i as f64 / 3.0, 95)).collect();
        assert!(observe_all(&mut detector, &flows).is_empty());

        let usual = DnsUsual { queries_per_sec_p99: 0.1, mean_query_bytes_p99: 90.0, bytes_out_p99: 600.0 };
        let baseline = BTreeMap::from([("10.0.0.23".parse()?, usual)]);
        let mut detector = DnsTunnelDetector::new(DnsTunnelConfig::default(), &LimitsConfig::default(), baseline);
        let found = observe_all(&mut detector, &flows);
        let Some(first) = found.first() else { return Err("no finding".into()) };
        let Evidence::DnsTunnel { signal, threshold, queries, .. } = &first.evidence else { panic!("wrong evidence") };
        // max(5 × 0.1, 1.0) = 1 query/s, crossed at the 60th query of the minute.
        assert_eq!((*signal, *threshold, *queries), (DnsSignal::QueryRate, 1.0, 60));
        Ok(())
    }

    /// A TCP answer of `answer` payload bytes from 10.0.0.1:53 to 10.0.0.23, at `at` seconds.
    fn tcp_answer(id: u64, at: f64, answer: u64) -> models::FlowObservation {
        use agent_common::flow::tcp_flags::{ACK, PSH, SYN};
        let f = with_orig(flow(id, TCP, "10.0.0.23", "10.0.0.1", 53, at, 200), 5, 340, SYN | ACK | PSH);
        let mut f = with_resp(f, 4, 4 * 60 + answer, SYN | ACK | PSH);
        f.resp.len_min = 60;
        f
    }

    #[test]
    fn a_big_tcp_answer_without_a_udp_query_is_a_zone_transfer_once_none_turns_up() {
        let mut detector =
            DnsTunnelDetector::new(DnsTunnelConfig::default(), &LimitsConfig::default(), BTreeMap::new());
        // A truncated UDP answer retried over TCP: the UDP record arrives after the TCP one.
        let fallback = [tcp_answer(1, 10.0, 3_000), query(2, 9.99, 90)];
        // A transfer with no query, and a small TCP answer.
        let transfer = [tcp_answer(3, 100.0, 20_000), tcp_answer(4, 200.0, 300)];
        assert!(observe_all(&mut detector, &fallback).is_empty());
        assert!(observe_all(&mut detector, &transfer).is_empty());
        let mut out = Vec::new();
        let end_of_transfer = transfer[0].end_ns;
        detector.deferred(end_of_transfer + 59 * 1_000_000_000, &mut out);
        assert!(out.is_empty(), "the grace period is not over: {out:?}");
        detector.deferred(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        let Evidence::DnsTunnel { signal, answer_bytes, threshold, .. } = &out[0].evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*signal, *answer_bytes, *threshold), (DnsSignal::ZoneTransfer, Some(20_000), 512.0));
        // 20,000 / 512 = 39× the threshold.
        assert_eq!((out[0].severity, out[0].first_ns), (Severity::High, transfer[0].start_ns));
    }

    #[test]
    fn allowed_hosts_transfer_zones_as_client_or_server() -> Result<(), Box<dyn std::error::Error>> {
        // The server 10.0.0.1 by its range, the client 10.0.0.23 by its own address.
        for allowed in ["10.0.0.0/30", "10.0.0.23/32"] {
            let config = DnsTunnelConfig { transfer_allowed: vec![allowed.parse()?], ..DnsTunnelConfig::default() };
            let mut detector = DnsTunnelDetector::new(config, &LimitsConfig::default(), BTreeMap::new());
            assert!(observe_all(&mut detector, &[tcp_answer(1, 100.0, 20_000)]).is_empty());
            let mut out = Vec::new();
            detector.deferred(u64::MAX, &mut out);
            assert!(out.is_empty(), "{allowed}: {out:?}");
        }
        Ok(())
    }

    #[test]
    fn transfer_candidates_are_bounded_tracked_and_counted_when_evicted() {
        let limits = LimitsConfig { max_entities: 1, ..LimitsConfig::default() };
        let mut detector = DnsTunnelDetector::new(DnsTunnelConfig::default(), &limits, BTreeMap::new());
        let mut other_client = tcp_answer(2, 101.0, 20_000);
        other_client.src_ip = "10.0.0.24".parse().unwrap_or(other_client.src_ip);
        assert!(observe_all(&mut detector, &[tcp_answer(1, 100.0, 20_000), other_client]).is_empty());
        // One client entry and one candidate kept; the first of each forgotten.
        assert_eq!((detector.tracked(), detector.evicted()), (2, 2));
        let mut out = Vec::new();
        detector.deferred(u64::MAX, &mut out);
        assert_eq!(out.iter().map(|f| f.src_ip).collect::<Vec<_>>(), vec!["10.0.0.24".parse().ok()]);
        assert_eq!(detector.tracked(), 1);
    }

    #[test]
    fn earlier_and_later_queries_of_the_client_do_not_rule_out_a_transfer() {
        let config = DnsTunnelConfig::default();
        let mut detector = DnsTunnelDetector::new(config.clone(), &LimitsConfig::default(), BTreeMap::new());
        // A lookup a minute before the AXFR, the transfer, then lookups long after it.
        let flows = [query(1, 0.0, 90), tcp_answer(2, 60.0, 20_000), query(3, 100.0, 90), query(4, 130.0, 90)];
        assert!(observe_all(&mut detector, &flows).is_empty());
        let mut out = Vec::new();
        detector.deferred(u64::MAX, &mut out);
        assert_eq!(out.iter().map(|f| f.first_ns).collect::<Vec<_>>(), vec![flows[1].start_ns]);

        // The same client, but with a query just before the TCP conversation
        // whose record comes after it: a fallback after truncation.
        let mut detector = DnsTunnelDetector::new(config, &LimitsConfig::default(), BTreeMap::new());
        let flows = [query(1, 0.0, 90), tcp_answer(2, 60.0, 20_000), query(3, 59.99, 90), query(4, 100.0, 90)];
        assert!(observe_all(&mut detector, &flows).is_empty());
        let mut out = Vec::new();
        detector.deferred(u64::MAX, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
