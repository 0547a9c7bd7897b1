//! What every detector wants to know about a flow record, derived once.
//!
//! TCP flags in a [`FlowObservation`] are the OR over the flow's whole life
//! (interim records keep them), so handshake facts hold for every record of
//! a flow; packet and byte counts are per record.

use agent_common::flow::tcp_flags::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};
use models::{DirectionSummary, FlowObservation};
use rustc_hash::FxHashSet;

use super::{ml_outlier::MlVerdict, networks::Networks};

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;
const ICMP_ECHO_REQUEST: u16 = 8;
const ICMPV6_ECHO_REQUEST: u16 = 128;

/// One flow record and the facts derived from it.
#[derive(Clone, Copy, Debug)]
pub struct FlowFacts<'a> {
    pub flow: &'a FlowObservation,
    /// The flow's first record: connection-level counts (attempts,
    /// intervals, services) use only this one, byte and packet counts use
    /// every record.
    pub first_record: bool,
    /// When the record ends; detectors' windows run on this clock.
    pub now_ns: u64,
    /// The responder sent something during the flow (for TCP: a SYN-ACK).
    pub answered: bool,
    /// TCP: the responder sent SYN-ACK and the originator acknowledged it.
    pub handshake_completed: bool,
    /// The originator opened a conversation: a TCP SYN (not a SYN-ACK nobody
    /// asked for), any UDP flow, an ICMP echo request.
    pub opened: bool,
    /// TCP segments from the originator that answer nothing: SYN-ACKs, or
    /// bare ACKs/resets, to a host that never sent a SYN (backscatter,
    /// reflection, ACK floods).
    pub unsolicited: bool,
    pub src_internal: bool,
    pub dst_internal: bool,
    /// The responder is multicast/broadcast: no answer is expected.
    pub dst_is_group: bool,
    /// TCP segments from the originator with flags no conforming stack
    /// sends (see [`crafted_tcp_flags`]): probes built by a scanner.
    pub crafted: bool,
    /// The model's verdict on the record, when a model scored it.
    pub verdict: Option<&'a MlVerdict>,
}

/// Whether the originator's TCP flags, OR-ed over a flow, are ones no
/// conforming stack produces (RFC 9293: every segment after the SYN carries
/// ACK, and every segment carries some flag):
/// - no flag at all on any segment (nmap's NULL scan and OS probe T2);
/// - FIN, PSH or URG without ACK ever (FIN and Xmas scans, OS probes T3 and T7).
///
/// A flow without ports is a run of non-first IP fragments, which carry no
/// TCP header (so no flags): not crafted.
pub fn crafted_tcp_flags(flow: &FlowObservation) -> bool {
    let flags = flow.orig.tcp_flags;
    let has_ports = flow.src_port != 0 || flow.dst_port != 0;
    let null = flags == 0 && flow.orig.packets > 0;
    let data_without_ack = flags & (FIN | PSH | URG) != 0 && flags & ACK == 0;
    flow.proto == TCP && has_ports && (null || data_without_ack)
}

/// Payload one direction sent: its wire bytes less one header per packet,
/// taking the smallest frame (a bare acknowledgement) as the header size.
/// Never more than the real payload: a request sent with a download's many
/// acknowledgements, or an answer split into segments, is not inflated by
/// their headers.
pub fn payload(direction: &DirectionSummary) -> u64 {
    direction.bytes.saturating_sub(direction.packets.saturating_mul(u64::from(direction.len_min)))
}

impl<'a> FlowFacts<'a> {
    pub fn new(flow: &'a FlowObservation, first_record: bool, networks: &Networks) -> Self {
        let orig_flags = flow.orig.tcp_flags;
        let resp_flags = flow.resp.tcp_flags;
        // `len_max` is over the flow's life, so it tells whether the responder
        // ever sent anything even in an interim record where it was quiet.
        let resp_ever_sent = flow.resp.packets > 0 || flow.resp.len_max > 0;
        let (answered, handshake_completed, opened, unsolicited) = match flow.proto {
            TCP => {
                let syn_ack_back = resp_flags & (SYN | ACK) == SYN | ACK;
                let orig_syn = orig_flags & SYN != 0;
                // The originator's SYN-ACK, or bare ACKs/resets without a SYN, answer a
                // connection the responder never opened, and the responder stays silent
                // or resets (an OS resets an unexpected SYN-ACK; that RST has no ACK flag).
                // Segments with data (PSH, FIN) are a conversation whose start was missed.
                // Flags are OR-ed over the flow, so a SYN-ACK stream is told from
                // "SYN, then ACKs" by every packet of the record carrying SYN.
                let syn_acks = orig_flags & (SYN | ACK) == SYN | ACK && u64::from(flow.orig.syn) == flow.orig.packets;
                let bare = orig_flags != 0 && orig_flags & !(ACK | RST | ECE | CWR) == 0;
                let answers_nothing = syn_acks || bare;
                let unsolicited = answers_nothing && resp_flags & !RST == 0;
                (syn_ack_back, syn_ack_back && orig_flags & ACK != 0, orig_syn && !unsolicited, unsolicited)
            }
            ICMP | ICMPV6 => {
                let echo = flow.src_port == if flow.proto == ICMP { ICMP_ECHO_REQUEST } else { ICMPV6_ECHO_REQUEST };
                (resp_ever_sent, false, echo, false)
            }
            // A datagram from a well-known port to an unprivileged one is a
            // server's answer whose question was not seen (reflected DNS/NTP/SNMP
            // answers, or a capture that started late), not a conversation opened.
            UDP => (resp_ever_sent, false, !(flow.src_port < 1024 && flow.dst_port >= 1024), false),
            _ => (resp_ever_sent, false, true, false),
        };
        Self {
            flow,
            first_record,
            now_ns: flow.end_ns,
            answered,
            handshake_completed,
            opened: opened && first_record,
            unsolicited,
            src_internal: networks.contains(flow.src_ip),
            dst_internal: networks.contains(flow.dst_ip),
            dst_is_group: Networks::is_group(flow.dst_ip),
            crafted: first_record && crafted_tcp_flags(flow),
            verdict: None,
        }
    }

    /// The facts with the model's verdict on the record.
    pub fn with_verdict(self, verdict: Option<&'a MlVerdict>) -> Self {
        Self { verdict, ..self }
    }

    /// The record brought nothing back from the responder that completes a
    /// conversation: half-open or refused TCP, unsolicited TCP, silent UDP/ICMP.
    pub fn unanswered(&self) -> bool {
        if self.flow.proto == TCP { !self.handshake_completed } else { !self.answered }
    }

    pub fn is_icmp_echo(&self) -> bool {
        matches!(self.flow.proto, ICMP | ICMPV6) && self.opened
    }
}

/// Tells a flow's first record from its later ones. A flow whose first
/// record was interim (`ended == false`) is remembered until its final
/// record; nothing else is kept.
#[derive(Debug, Default)]
pub struct RecordSequence {
    running: FxHashSet<u64>,
}

/// Flows running past the active timeout that are remembered at once; past
/// this the set is cleared (their later records then count as first ones,
/// which only over-counts connections of a few very long flows).
const MAX_RUNNING_FLOWS: usize = 1 << 20;

impl RecordSequence {
    /// Whether this record is the first of its flow.
    pub fn is_first(&mut self, flow: &FlowObservation) -> bool {
        if flow.ended {
            !self.running.remove(&flow.flow_id)
        } else {
            if self.running.len() >= MAX_RUNNING_FLOWS {
                self.running.clear();
            }
            self.running.insert(flow.flow_id)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::IpAddr;

    use agent_common::flow::tcp_flags::{ACK, FIN, PSH, RST, SYN};
    use models::{DirectionSummary, FlowObservation};

    use super::*;
    use crate::detect::{detector::RuleDetector, finding::Finding, networks::default_internal_networks};

    pub const SEC: u64 = 1_000_000_000;

    /// Every flow through `detector` as a first record (default internal
    /// networks, no model verdict); the findings it made as they came.
    pub fn observe_all(detector: &mut impl RuleDetector, flows: &[FlowObservation]) -> Vec<Finding> {
        observe_judged(detector, flows.iter().map(|flow| (flow, None)))
    }

    /// [`observe_all`] with the model's verdict, if any, on each flow.
    pub fn observe_judged<'a>(
        detector: &mut impl RuleDetector,
        flows: impl IntoIterator<Item = (&'a FlowObservation, Option<&'a MlVerdict>)>,
    ) -> Vec<Finding> {
        let networks = Networks::new(default_internal_networks());
        let mut out = Vec::new();
        for (flow, verdict) in flows {
            detector.observe(&FlowFacts::new(flow, true, &networks).with_verdict(verdict), &mut out);
        }
        out
    }

    /// A flow record for tests: `src` → `dst` on `proto`/`dport`, starting
    /// `start_s` seconds into the test, lasting `dur_ms`.
    pub fn flow(id: u64, proto: u8, src: &str, dst: &str, dport: u16, start_s: f64, dur_ms: u64) -> FlowObservation {
        let start_ns = (start_s * 1e9) as u64 + 1_700_000_000 * SEC;
        FlowObservation {
            flow_id: id,
            start_ns,
            end_ns: start_ns + dur_ms * 1_000_000,
            proto,
            src_ip: src.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            src_port: 40_000 + (id % 20_000) as u16,
            dst_ip: dst.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            dst_port: dport,
            ended: true,
            orig: DirectionSummary::default(),
            resp: DirectionSummary::default(),
        }
    }

    pub fn with_orig(mut flow: FlowObservation, packets: u64, bytes: u64, flags: u8) -> FlowObservation {
        flow.orig = summary(packets, bytes, flags);
        flow
    }

    pub fn with_resp(mut flow: FlowObservation, packets: u64, bytes: u64, flags: u8) -> FlowObservation {
        flow.resp = summary(packets, bytes, flags);
        flow
    }

    fn summary(packets: u64, bytes: u64, flags: u8) -> DirectionSummary {
        let len = bytes.checked_div(packets).unwrap_or(0) as u32;
        DirectionSummary {
            packets,
            bytes,
            tcp_flags: flags,
            syn: u32::from(flags & SYN != 0),
            len_min: len,
            len_max: len,
            len_mean: len as f64,
            ..DirectionSummary::default()
        }
    }

    /// A SYN that nobody answered.
    pub fn syn_only(id: u64, src: &str, dst: &str, dport: u16, start_s: f64) -> FlowObservation {
        with_orig(flow(id, TCP, src, dst, dport, start_s, 0), 1, 60, SYN)
    }

    /// A complete TCP conversation sending `out` bytes and receiving `back`.
    pub fn tcp_session(
        id: u64,
        src: &str,
        dst: &str,
        dport: u16,
        start_s: f64,
        out: u64,
        back: u64,
    ) -> FlowObservation {
        let f = flow(id, TCP, src, dst, dport, start_s, 50);
        with_resp(with_orig(f, 6, out, SYN | ACK | PSH | FIN), 5, back, SYN | ACK | PSH | FIN)
    }

    fn facts_of(flow: &FlowObservation) -> FlowFacts<'_> {
        FlowFacts::new(flow, true, &Networks::new(default_internal_networks()))
    }

    #[test]
    fn tcp_handshake_states() {
        let syn = syn_only(1, "10.0.0.1", "8.8.8.8", 80, 0.0);
        let f = facts_of(&syn);
        assert!(f.opened && !f.answered && !f.handshake_completed && !f.unsolicited && f.unanswered());

        let full = tcp_session(2, "10.0.0.1", "8.8.8.8", 80, 0.0, 500, 900);
        let f = facts_of(&full);
        assert!(f.opened && f.answered && f.handshake_completed && !f.unanswered());
        assert!(f.src_internal && !f.dst_internal);

        let refused = with_resp(syn_only(3, "10.0.0.1", "10.0.0.2", 23, 0.0), 1, 60, RST | ACK);
        let f = facts_of(&refused);
        assert!(f.opened && !f.answered && f.unanswered());

        let backscatter = with_orig(flow(4, TCP, "1.2.3.4", "10.10.10.10", 5555, 0.0, 0), 1, 58, SYN | ACK);
        let f = facts_of(&backscatter);
        assert!(f.unsolicited && !f.opened && f.unanswered());

        let rst_only = with_orig(flow(5, TCP, "1.2.3.4", "10.10.10.10", 5555, 0.0, 0), 1, 60, RST);
        assert!(facts_of(&rst_only).unsolicited);

        // A conversation seen one way (SYN, ACKs, FIN) is not a SYN-ACK stream.
        let one_way = with_orig(flow(7, TCP, "1.2.3.4", "10.10.10.10", 22, 0.0, 0), 9, 900, SYN | ACK | FIN | RST);
        assert!(!facts_of(&one_way).unsolicited && facts_of(&one_way).opened);

        // The middle of a conversation whose start was missed is not unsolicited.
        let midway = with_orig(flow(6, TCP, "1.2.3.4", "10.10.10.10", 5555, 0.0, 0), 5, 6_000, PSH | ACK);
        assert!(!facts_of(&midway).unsolicited && !facts_of(&midway).opened);
    }

    #[test]
    fn payload_leaves_out_one_header_per_packet() {
        // dns_axfr's server side: SYN-ACK 62, three bare ACKs of 60, one 1,210-byte answer.
        let mut axfr = with_resp(flow(1, TCP, "172.16.16.164", "172.16.16.139", 53, 0.0, 240), 5, 1_452, 0);
        axfr.resp.len_min = 60;
        assert_eq!(payload(&axfr.resp), 1_152);
        // A bare SYN carries nothing.
        assert_eq!(payload(&syn_only(2, "10.0.0.1", "10.0.0.2", 53, 0.0).orig), 0);
    }

    #[test]
    fn icmp_echo_requests_open_and_replies_answer() {
        let mut echo = flow(1, ICMP, "192.168.1.109", "192.168.1.1", 0, 0.0, 3);
        echo.src_port = 8;
        let unanswered = with_orig(echo.clone(), 1, 42, 0);
        assert!(facts_of(&unanswered).is_icmp_echo() && facts_of(&unanswered).unanswered());
        let answered = with_resp(unanswered, 1, 42, 0);
        assert!(!facts_of(&answered).unanswered());
        let mut unreachable = flow(2, ICMP, "192.168.1.1", "192.168.1.109", 3, 0.0, 0);
        unreachable.src_port = 3;
        assert!(!facts_of(&unreachable).is_icmp_echo());
    }

    #[test]
    fn udp_answers_from_service_ports_are_not_opened() {
        let mut reflected = flow(1, UDP, "8.8.8.8", "10.10.10.10", 40_000, 0.0, 0);
        reflected.src_port = 53;
        assert!(!facts_of(&reflected).opened);
        let query = flow(2, UDP, "10.10.10.10", "8.8.8.8", 53, 0.0, 0);
        assert!(facts_of(&query).opened);
    }

    #[test]
    fn only_the_first_record_of_a_long_flow_is_first() {
        let mut seq = RecordSequence::default();
        let mut interim = flow(7, UDP, "10.0.0.1", "10.0.0.2", 53, 0.0, 0);
        interim.ended = false;
        assert!(seq.is_first(&interim));
        assert!(!seq.is_first(&interim));
        interim.ended = true;
        assert!(!seq.is_first(&interim));
        let short = flow(8, UDP, "10.0.0.1", "10.0.0.2", 53, 0.0, 0);
        assert!(seq.is_first(&short));
    }
}
