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

use std::net::IpAddr;

use models::FlowObservation;

use crate::detect::finding::FlowSample;

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

/// A TCP answer waiting to be ruled out as a fallback.
#[derive(Clone, Debug)]
pub struct PendingTransfer {
    pub client: IpAddr,
    pub server: IpAddr,
    pub start_ns: u64,
    pub end_ns: u64,
    pub answer_bytes: u64,
    pub query_packets: u64,
    pub query_bytes: u64,
    pub flows: FlowSample,
}

impl PendingTransfer {
    pub fn of(flow: &FlowObservation, answer_bytes: u64) -> Self {
        Self {
            client: flow.src_ip,
            server: flow.dst_ip,
            start_ns: flow.start_ns,
            end_ns: flow.end_ns,
            answer_bytes,
            query_packets: flow.orig.packets,
            query_bytes: flow.orig.bytes,
            flows: FlowSample::of(flow),
        }
    }

    /// A later record of the same conversation, or another transfer of the pair.
    pub fn merge(&mut self, flow: &FlowObservation, answer_bytes: u64) {
        self.start_ns = self.start_ns.min(flow.start_ns);
        self.end_ns = self.end_ns.max(flow.end_ns);
        self.answer_bytes += answer_bytes;
        self.query_packets += flow.orig.packets;
        self.query_bytes += flow.orig.bytes;
        self.flows.add(flow);
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
