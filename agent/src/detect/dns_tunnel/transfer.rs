//! Zone transfers: a DNS answer over TCP that no UDP query asked for, and
//! larger than a DNS datagram.
//!
//! Resolvers ask over UDP and switch to TCP only when an answer came back
//! truncated (RFC 7766 §5), so a TCP conversation on port 53 normally
//! follows a UDP query from the same client to the same server within a
//! moment. A client that goes straight to TCP and receives more than a
//! datagram holds is pulling bulk data out of DNS: a zone transfer
//! (AXFR/IXFR must use TCP), which maps a whole zone for an attacker, or a
//! tunnel that moved to TCP. Secondary name servers transfer zones by
//! design: list them in `dns_tunnel.transfer_allowed`.
//!
//! Flow records arrive when flows end, and the UDP query that preceded a
//! fallback ends (idles out) after the TCP conversation it caused, so a
//! candidate is held for `transfer_grace` and dropped if such a query turns
//! up meanwhile.

use std::{net::IpAddr, time::Duration};

use models::{FlowObservation, features::ports::DNS_PORT};

use super::DnsTunnelConfig;
use crate::{
    detect::{
        config::LimitsConfig,
        facts::{TCP, payload},
        finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
        networks::Networks,
        table::EntityTable,
    },
    duration::saturating_ns,
    event::{AnomalyKind, DnsSignal, Evidence},
};

/// The latest run of UDP queries of one client to one server, as the span
/// they cover: queries less than the fallback window apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct UdpSpan {
    first_start_ns: Option<u64>,
    last_end_ns: u64,
}

impl UdpSpan {
    /// A query more than `window_ns` after the run's end starts a new run:
    /// a client that used the server a minute ago did not ask the question
    /// a TCP conversation now answers.
    pub fn add(&mut self, flow: &FlowObservation, window_ns: u64) {
        if self.first_start_ns.is_some() && flow.start_ns > self.last_end_ns.saturating_add(window_ns) {
            *self = Self::default();
        }
        self.first_start_ns = Some(self.first_start_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
        self.last_end_ns = self.last_end_ns.max(flow.end_ns);
    }

    /// Whether UDP queries were under way from `window_ns` before `start_ns`
    /// up to it: the TCP conversation starting then may be their fallback.
    pub fn covers(&self, start_ns: u64, window_ns: u64) -> bool {
        self.first_start_ns.is_some_and(|first| first <= start_ns)
            && self.last_end_ns.saturating_add(window_ns) >= start_ns
    }
}

/// TCP answers of one client from one server waiting to be ruled out as a fallback.
#[derive(Clone, Debug)]
struct PendingTransfer {
    start_ns: u64,
    end_ns: u64,
    answer_bytes: u64,
    query_packets: u64,
    query_bytes: u64,
    flows: FlowSample,
}

impl PendingTransfer {
    /// Nothing yet: [`PendingTransfer::add`] brings the first record.
    fn empty() -> Self {
        Self {
            start_ns: u64::MAX,
            end_ns: 0,
            answer_bytes: 0,
            query_packets: 0,
            query_bytes: 0,
            flows: FlowSample::default(),
        }
    }

    /// A record of the conversation, or of another transfer of the pair.
    fn add(&mut self, flow: &FlowObservation, answer_bytes: u64) {
        self.start_ns = self.start_ns.min(flow.start_ns);
        self.end_ns = self.end_ns.max(flow.end_ns);
        self.answer_bytes += answer_bytes;
        self.query_packets += flow.orig.packets;
        self.query_bytes += flow.orig.bytes;
        self.flows.add(flow);
    }
}

/// The zone-transfer candidates, per (client, server), and the settings
/// that make and rule them out (the `transfer_*` ones of [`DnsTunnelConfig`]).
pub struct Transfers {
    min_answer_bytes: u64,
    fallback_window_ns: u64,
    grace_ns: u64,
    allowed: Networks,
    /// Bounded like every per-entity table; a candidate leaves when it is
    /// due or ruled out, never by idling (its grace is the only clock).
    pending: EntityTable<(IpAddr, IpAddr), PendingTransfer>,
}

impl Transfers {
    pub fn new(config: &DnsTunnelConfig, limits: &LimitsConfig) -> Self {
        Self {
            min_answer_bytes: config.transfer_min_answer_bytes,
            fallback_window_ns: saturating_ns(config.transfer_fallback_window),
            grace_ns: saturating_ns(config.transfer_grace),
            allowed: Networks::new(config.transfer_allowed.clone()),
            pending: EntityTable::new(limits.capacity(), Duration::MAX),
        }
    }

    /// A UDP query of the client to the server: part of `span`, and it rules
    /// out the pair's candidate if it may have caused it (the candidate
    /// starts at most the fallback window after it). Only this query is
    /// judged: the client's earlier ones were in the span when the TCP
    /// record came, and a lookup long before or after explains nothing.
    pub fn udp_query(&mut self, flow: &FlowObservation, span: &mut UdpSpan) {
        span.add(flow, self.fallback_window_ns);
        let key = (flow.src_ip, flow.dst_ip);
        let window = self.fallback_window_ns;
        let caused =
            |p: &PendingTransfer| flow.start_ns <= p.start_ns && flow.end_ns.saturating_add(window) >= p.start_ns;
        // Peek: a candidate this query does not rule out was not extended by it.
        if self.pending.peek(&key).is_some_and(caused) {
            self.pending.remove(&key);
        }
    }

    /// A TCP conversation on port 53 with a completed handshake, whose
    /// answer may be a zone transfer; `span` is the client's UDP queries to
    /// the server so far.
    pub fn tcp_answer(&mut self, flow: &FlowObservation, span: &UdpSpan) {
        let answer = payload(&flow.resp);
        if answer < self.min_answer_bytes
            || span.covers(flow.start_ns, self.fallback_window_ns)
            || self.allowed.contains(flow.src_ip)
            || self.allowed.contains(flow.dst_ip)
        {
            return;
        }
        self.pending.entry((flow.src_ip, flow.dst_ip), flow.end_ns, PendingTransfer::empty).add(flow, answer);
    }

    /// The candidates whose grace is over at `now_ns`, as findings (least
    /// recently extended first).
    pub fn due(&mut self, now_ns: u64, out: &mut Vec<Finding>) {
        let grace = self.grace_ns;
        let due = self.pending.take_where(|p| p.end_ns.saturating_add(grace) <= now_ns);
        out.extend(due.into_iter().map(|((client, server), p)| self.finding(client, server, p)));
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn evicted(&self) -> u64 {
        self.pending.evicted_full()
    }

    fn finding(&self, client: IpAddr, server: IpAddr, pending: PendingTransfer) -> Finding {
        let threshold = self.min_answer_bytes.max(1);
        let ratio = pending.answer_bytes as f64 / threshold as f64;
        let secs = pending.end_ns.saturating_sub(pending.start_ns) as f64 / 1e9;
        Finding {
            kind: AnomalyKind::DnsTunnel,
            entity: Entity::Pair(client, server),
            severity: severity_for_ratio(ratio),
            score: score_for_ratio(ratio),
            summary: format!(
                "{client} received {} bytes of DNS over TCP from {server} with no UDP query first (a zone transfer)",
                pending.answer_bytes
            ),
            src_ip: Some(client),
            src_port: None,
            dst_ip: Some(server),
            dst_port: Some(DNS_PORT),
            proto: Some(TCP),
            first_ns: pending.start_ns,
            last_ns: pending.end_ns,
            evidence: Evidence::DnsTunnel {
                signal: DnsSignal::ZoneTransfer,
                window_secs: secs,
                queries: pending.query_packets,
                bytes_out: pending.query_bytes,
                mean_query_bytes: pending.query_bytes as f64 / pending.query_packets.max(1) as f64,
                queries_per_sec: if secs > 0.0 { pending.query_packets as f64 / secs } else { 0.0 },
                threshold: threshold as f64,
                answer_bytes: Some(pending.answer_bytes),
            },
            flows: pending.flows,
            occurrences: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::{
        TCP, UDP,
        tests::{SEC, flow},
    };

    #[test]
    fn a_udp_query_just_before_covers_a_fallback() {
        let mut span = UdpSpan::default();
        let start = flow(1, TCP, "10.0.0.1", "10.0.0.2", 53, 10.0, 100).start_ns;
        assert!(!span.covers(start, 5 * SEC));
        span.add(&flow(2, UDP, "10.0.0.1", "10.0.0.2", 53, 9.9, 2), 5 * SEC);
        assert!(span.covers(start, 5 * SEC));
        // A query long before, or only after, the TCP conversation is no reason for it.
        let mut early = UdpSpan::default();
        early.add(&flow(3, UDP, "10.0.0.1", "10.0.0.2", 53, 1.0, 2), 5 * SEC);
        assert!(!early.covers(start, 5 * SEC));
        let mut late = UdpSpan::default();
        late.add(&flow(4, UDP, "10.0.0.1", "10.0.0.2", 53, 11.0, 2), 5 * SEC);
        assert!(!late.covers(start, 5 * SEC));
        // Queries a minute before and a minute after are two runs, neither just before.
        let mut apart = UdpSpan::default();
        apart.add(&flow(5, UDP, "10.0.0.1", "10.0.0.2", 53, -50.0, 2), 5 * SEC);
        apart.add(&flow(6, UDP, "10.0.0.1", "10.0.0.2", 53, 70.0, 2), 5 * SEC);
        assert!(!apart.covers(start, 5 * SEC));
    }
}
