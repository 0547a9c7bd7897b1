//! One source opening TCP connections to one service faster than any
//! client needs: credential brute force (many short logins), connection
//! exhaustion. Reported as a flood on the service, naming the source.
//!
//! Why `flood` and not `port_scan`: a brute force touches one port on one
//! host and is answered every time, the opposite of a scan; what is
//! abnormal is the number of connections. TCP connections the service
//! accepted (SYN-ACK) only: UDP "connections" are single datagrams with
//! fresh ports (DNS), counted by `dns_tunnel`, and unanswered SYNs are a
//! SYN flood, counted per victim.

use std::net::IpAddr;

use super::FloodConfig;
use crate::{
    detect::{
        config::LimitsConfig,
        facts::{FlowFacts, TCP},
        finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
        table::EntityTable,
        window::{Refire, SlidingWindow},
    },
    event::{AnomalyKind, Evidence, FloodPattern},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ServiceKey {
    src: IpAddr,
    dst: IpAddr,
    port: u16,
}

#[derive(Debug, Default)]
struct Bucket {
    first_ns: Option<u64>,
    connections: u64,
    completed: u64,
    packets: u64,
    bytes: u64,
}

#[derive(Debug)]
struct Client {
    window: SlidingWindow<Bucket>,
    refire: Refire,
    /// Connections since the rate passed half the limit: the evidence,
    /// kept only for clients that come close (bounded memory for the rest).
    flows: FlowSample,
}

pub struct ConnectionRate {
    max_connections: u64,
    window: std::time::Duration,
    clients: EntityTable<ServiceKey, Client>,
}

impl ConnectionRate {
    pub fn new(config: &FloodConfig, limits: &LimitsConfig) -> Self {
        Self {
            max_connections: config.max_connections.max(1),
            window: config.connection_window,
            clients: EntityTable::new(limits.capacity(), limits.idle_timeout.max(config.connection_window * 2)),
        }
    }

    pub fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        // Accepted connections only: unanswered SYNs are the victim tracker's
        // (and a spoofed flood would fill this table with one-off sources).
        if flow.proto != TCP || !facts.opened || !facts.answered {
            return;
        }
        let now = facts.now_ns;
        let key = ServiceKey { src: flow.src_ip, dst: flow.dst_ip, port: flow.dst_port };
        let window = self.window;
        let client = self.clients.entry(key, now, || Client {
            window: SlidingWindow::new(window, now),
            refire: Refire::default(),
            flows: FlowSample::default(),
        });
        let bucket = client.window.at(now);
        bucket.first_ns = Some(bucket.first_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
        bucket.connections += 1;
        bucket.completed += u64::from(facts.handshake_completed);
        bucket.packets += flow.packets();
        bucket.bytes += flow.bytes();
        let view = client.window.view(now);
        let connections = view.sum(|b| b.connections as f64);
        let ratio = connections / self.max_connections as f64;
        if ratio < 0.5 {
            if client.flows.total > 0 {
                client.flows = FlowSample::default();
            }
            return;
        }
        client.flows.add(flow);
        if ratio < 1.0 {
            return;
        }
        let severity = severity_for_ratio(ratio);
        if !client.refire.should_fire(now, client.window.len_ns(), severity) {
            return;
        }
        let connections = connections.round() as u64;
        let completed = view.sum(|b| b.completed as f64).round() as u64;
        let window_secs = client.window.len_secs();
        out.push(Finding {
            kind: AnomalyKind::Flood,
            entity: Entity::Service { src: key.src, dst: key.dst, proto: TCP, port: key.port },
            severity,
            score: score_for_ratio(ratio),
            summary: format!(
                "{} opened {connections} connections to {}:{} in {window_secs:.0} s ({completed} completed)",
                key.src, key.dst, key.port
            ),
            src_ip: Some(key.src),
            src_port: None,
            dst_ip: Some(key.dst),
            dst_port: Some(key.port),
            proto: Some(TCP),
            first_ns: view.first_ns(|b| b.first_ns).unwrap_or(flow.start_ns),
            last_ns: flow.end_ns,
            evidence: Evidence::Flood {
                pattern: FloodPattern::ConnectionFlood,
                window_secs,
                flows: connections,
                unanswered_flows: connections - completed.min(connections),
                unanswered_ratio: 1.0 - completed as f64 / connections.max(1) as f64,
                packets: view.sum(|b| b.packets as f64).round() as u64,
                bytes: view.sum(|b| b.bytes as f64).round() as u64,
                packets_per_sec: view.sum(|b| b.packets as f64) / window_secs,
                baseline_packets_per_sec: None,
                distinct_sources: 1,
            },
            flows: client.flows.clone(),
            occurrences: 1,
        });
    }

    pub fn expire(&mut self, now_ns: u64) {
        self.clients.expire(now_ns);
    }

    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    pub fn evicted(&self) -> u64 {
        self.clients.evicted_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        detect::{
            facts::tests::tcp_session,
            networks::{Networks, default_internal_networks},
        },
        event::Severity,
    };

    #[test]
    fn brute_force_is_a_connection_flood_naming_the_source() {
        let networks = Networks::new(default_internal_networks());
        let mut rate = ConnectionRate::new(&FloodConfig::default(), &LimitsConfig::default());
        let mut out = Vec::new();
        // 67 logins in 13 s, as in the stratosphere capture.
        for i in 0..67u64 {
            let login = tcp_session(i, "147.32.80.40", "147.32.80.37", 902, i as f64 * 0.2, 2478, 2507);
            rate.observe(&FlowFacts::new(&login, true, &networks), &mut out);
        }
        assert_eq!(out.len(), 1);
        let found = &out[0];
        assert_eq!(found.src_ip, "147.32.80.40".parse().ok());
        assert_eq!((found.dst_ip, found.dst_port), ("147.32.80.37".parse().ok(), Some(902)));
        assert_eq!(found.severity, Severity::Low);
        let Evidence::Flood { pattern, flows, unanswered_flows, .. } = &found.evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*pattern, *flows, *unanswered_flows), (FloodPattern::ConnectionFlood, 30, 0));
        // Flows are sampled from the 15th connection on (half the limit).
        assert_eq!(found.flows.total, 16);
        assert_eq!(found.flows.refs[0].flow_id, 14);
        assert_eq!(found.first_ns, 1_700_000_000 * crate::detect::facts::tests::SEC);
    }

    #[test]
    fn unanswered_syns_are_left_to_the_victim_tracker() {
        let networks = Networks::new(default_internal_networks());
        let mut rate = ConnectionRate::new(&FloodConfig::default(), &LimitsConfig::default());
        let mut out = Vec::new();
        for i in 0..100u64 {
            let syn = crate::detect::facts::tests::syn_only(i, "198.51.100.9", "10.0.0.80", 80, i as f64 * 0.1);
            rate.observe(&FlowFacts::new(&syn, true, &networks), &mut out);
        }
        assert!(out.is_empty());
        assert_eq!(rate.tracked(), 0);
    }

    #[test]
    fn a_client_below_the_limit_is_not_reported() {
        let networks = Networks::new(default_internal_networks());
        let mut rate = ConnectionRate::new(&FloodConfig::default(), &LimitsConfig::default());
        let mut out = Vec::new();
        // 25 connections per minute, for ten minutes.
        for i in 0..250u64 {
            let visit = tcp_session(i, "10.0.0.7", "93.184.216.34", 443, i as f64 * 2.4, 900, 30_000);
            rate.observe(&FlowFacts::new(&visit, true, &networks), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
    }
}
