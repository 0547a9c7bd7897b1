//! Per destination: distinct sources and unanswered flows (spoofed SYN
//! floods, UDP amplification), unsolicited SYN-ACKs and resets
//! (reflection), and the packet rate against the destination's baseline.
//!
//! Spoofed floods put one packet in each flow from a new source; they are
//! caught because every one of those flows is counted against the victim,
//! whatever its source. Packets of a record longer than the window count
//! by the share of the record inside it (the record's mean rate), so an
//! interim record of a five-minute flow does not look like a burst.

use std::{collections::BTreeMap, net::IpAddr};

use super::FloodConfig;
use crate::{
    detect::{
        baseline::Quantiles,
        config::LimitsConfig,
        facts::{FlowFacts, TCP, UDP},
        finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
        stats::Distinct,
        table::EntityTable,
        window::{Refire, SlidingWindow, WindowView, share_in},
    },
    event::{AnomalyKind, Evidence, FloodPattern},
};

#[derive(Debug, Default)]
struct Bucket {
    flows: u64,
    unanswered: u64,
    /// Bytes of unanswered traffic by what it is: TCP opened with a SYN, UDP,
    /// unsolicited TCP, anything (names the flood by where its bytes are).
    syn_bytes: f64,
    udp_bytes: f64,
    unsolicited_bytes: f64,
    unanswered_bytes: f64,
    packets: f64,
    bytes: f64,
    /// Sources of unanswered flows.
    sources: Distinct<IpAddr>,
    first_ns: Option<u64>,
    /// Unanswered flows, the evidence.
    flows_sample: FlowSample,
}

#[derive(Debug, Default)]
struct ReflectionBucket {
    flows: u64,
    packets: f64,
    bytes: f64,
    sources: Distinct<IpAddr>,
    first_ns: Option<u64>,
    flows_sample: FlowSample,
}

#[derive(Debug)]
struct Victim {
    window: SlidingWindow<Bucket>,
    reflection: SlidingWindow<ReflectionBucket>,
    refire: Refire,
    /// The destination's usual packets per second (99th percentile), from
    /// the baseline when the entry was made (the baseline never changes, so
    /// no flow needs to look it up again).
    baseline_pps: Option<f64>,
}

pub struct VictimTracker {
    config: FloodConfig,
    baseline: BTreeMap<IpAddr, Quantiles>,
    victims: EntityTable<IpAddr, Victim>,
}

/// One test that passed, and by how much.
struct Verdict {
    pattern: FloodPattern,
    ratio: f64,
    /// Judged over the reflection window rather than the flood window.
    reflection_window: bool,
}

impl VictimTracker {
    pub fn new(config: FloodConfig, limits: &LimitsConfig, baseline: BTreeMap<IpAddr, Quantiles>) -> Self {
        let ttl = limits.idle_timeout.max(config.reflection_window * 2);
        Self { victims: EntityTable::new(limits.capacity(), ttl), baseline, config }
    }

    pub fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        let now = facts.now_ns;
        let (config, baseline) = (&self.config, &self.baseline);
        let victim = self.victims.entry(flow.dst_ip, now, || Victim {
            window: SlidingWindow::new(config.window, now),
            reflection: SlidingWindow::new(config.reflection_window, now),
            refire: Refire::default(),
            baseline_pps: baseline.get(&flow.dst_ip).map(|q| q.p99),
        });
        let window_ns = victim.window.len_ns();
        let duration_ns = flow.end_ns - flow.start_ns;
        let share = share_in(window_ns, duration_ns);
        let bucket = victim.window.at(now);
        bucket.flows += u64::from(facts.first_record);
        bucket.packets += flow.orig.packets as f64 * share;
        bucket.bytes += flow.orig.bytes as f64 * share;
        if facts.unanswered() {
            let bytes = flow.orig.bytes as f64 * share;
            bucket.unanswered_bytes += bytes;
            if flow.proto == TCP && facts.opened {
                bucket.syn_bytes += bytes;
            } else if flow.proto == UDP {
                bucket.udp_bytes += bytes;
            } else if facts.unsolicited {
                bucket.unsolicited_bytes += bytes;
            }
            if facts.first_record {
                bucket.unanswered += 1;
                bucket.sources.insert(&flow.src_ip);
                bucket.first_ns = Some(bucket.first_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
                bucket.flows_sample.add(flow);
            }
        }
        if facts.unsolicited {
            // Every record: a reflector's retransmitted SYN-ACKs share one flow.
            let share = share_in(victim.reflection.len_ns(), duration_ns);
            let reflected = victim.reflection.at(now);
            reflected.flows += u64::from(facts.first_record);
            reflected.packets += flow.orig.packets as f64 * share;
            reflected.bytes += flow.orig.bytes as f64 * share;
            reflected.sources.insert(&flow.src_ip);
            reflected.first_ns = Some(reflected.first_ns.map_or(flow.start_ns, |t| t.min(flow.start_ns)));
            reflected.flows_sample.add(flow);
        }

        let Some(verdict) = verdict(config, victim, now) else {
            return;
        };
        let severity = severity_for_ratio(verdict.ratio);
        let period = if verdict.reflection_window { victim.reflection.len_ns() } else { window_ns };
        if victim.refire.should_fire(now, period, severity) {
            out.push(finding(victim, flow.dst_ip, now, &verdict));
        }
    }

    pub fn expire(&mut self, now_ns: u64) {
        self.victims.expire(now_ns);
    }

    pub fn tracked(&self) -> usize {
        self.victims.len()
    }

    pub fn evicted(&self) -> u64 {
        self.victims.evicted_full()
    }
}

fn pps_threshold(config: &FloodConfig, baseline_pps: Option<f64>) -> f64 {
    match baseline_pps {
        Some(p99) => (p99 * config.baseline_factor).max(config.min_packets_per_sec),
        None => config.max_packets_per_sec,
    }
}

/// The strongest of the three tests that pass, if any.
fn verdict(c: &FloodConfig, victim: &Victim, now: u64) -> Option<Verdict> {
    let view = victim.window.view(now);
    let unanswered = view.sum(|b| b.unanswered as f64);
    let flows = view.sum(|b| b.flows as f64);
    let sources = view.distinct(|b| b.sources.estimate() as f64);
    let mut best: Option<Verdict> = None;
    let mut consider = |pattern, ratio: f64, reflection_window| {
        if ratio >= 1.0 && best.as_ref().is_none_or(|b| ratio > b.ratio) {
            best = Some(Verdict { pattern, ratio, reflection_window });
        }
    };
    if unanswered >= flows.max(1.0) * c.min_unanswered_ratio {
        let ratio = (sources / c.min_sources.max(1) as f64).min(unanswered / c.min_unanswered_flows.max(1) as f64);
        consider(distributed_pattern(&view), ratio, false);
    }
    let pps = view.sum(|b| b.packets) / victim.window.len_secs();
    consider(FloodPattern::Volumetric, pps / pps_threshold(c, victim.baseline_pps), false);
    let reflected = victim.reflection.view(now);
    let reflected_packets = reflected.sum(|b| b.packets);
    let reflectors = reflected.distinct(|b| b.sources.estimate() as f64);
    consider(
        FloodPattern::Reflection,
        (reflected_packets / c.reflection_min_packets.max(1) as f64)
            .min(reflectors / c.reflection_min_sources.max(1) as f64),
        true,
    );
    best
}

fn finding(victim: &Victim, dst: IpAddr, now: u64, verdict: &Verdict) -> Finding {
    let view = victim.window.view(now);
    let window = &victim.window;
    let (window_secs, flows_sample, first_ns, flows, unanswered, sources, packets, bytes) = if verdict.reflection_window
    {
        let r = victim.reflection.view(now);
        let flows = r.sum(|b| b.flows as f64).round() as u64;
        (
            victim.reflection.len_secs(),
            merged(live(&r, |b| &b.flows_sample), &r.current.flows_sample),
            r.first_ns(|b| b.first_ns),
            flows,
            flows,
            r.distinct(|b| b.sources.estimate() as f64).round() as u64,
            r.sum(|b| b.packets),
            r.sum(|b| b.bytes),
        )
    } else {
        (
            window.len_secs(),
            merged(live(&view, |b| &b.flows_sample), &view.current.flows_sample),
            view.first_ns(|b| b.first_ns),
            view.sum(|b| b.flows as f64).round() as u64,
            view.sum(|b| b.unanswered as f64).round() as u64,
            view.distinct(|b| b.sources.estimate() as f64).round() as u64,
            view.sum(|b| b.packets),
            view.sum(|b| b.bytes),
        )
    };
    let pps = packets / window_secs;
    let single_source = flows_sample.refs.first().map(|f| f.src_ip).filter(|_| sources == 1);
    let (proto, port) = common_service(&flows_sample);
    Finding {
        kind: AnomalyKind::Flood,
        entity: Entity::Destination(dst),
        severity: severity_for_ratio(verdict.ratio),
        score: score_for_ratio(verdict.ratio),
        summary: if verdict.reflection_window {
            format!(
                "{dst} received {packets:.0} unsolicited SYN-ACKs/resets from {sources} sources in {window_secs:.0} s: its address is spoofed towards reflectors"
            )
        } else {
            format!(
                "{dst} flooded ({}): {unanswered} unanswered of {flows} flows from {sources} sources in {window_secs:.0} s, {pps:.0} packets/s",
                pattern_name(verdict.pattern)
            )
        },
        src_ip: single_source,
        src_port: None,
        dst_ip: Some(dst),
        dst_port: port,
        proto,
        first_ns: first_ns.unwrap_or(now),
        last_ns: now,
        evidence: Evidence::Flood {
            pattern: verdict.pattern,
            window_secs,
            flows,
            unanswered_flows: unanswered,
            unanswered_ratio: if flows > 0 { (unanswered as f64 / flows as f64).min(1.0) } else { 0.0 },
            packets: packets.round() as u64,
            bytes: bytes.round() as u64,
            packets_per_sec: pps,
            baseline_packets_per_sec: victim.baseline_pps,
            distinct_sources: sources,
        },
        flows: flows_sample,
        occurrences: 1,
    }
}

/// Names a distributed flood by what most of its unanswered bytes are.
fn distributed_pattern(view: &WindowView<'_, Bucket>) -> FloodPattern {
    let majority = view.sum(|b| b.unanswered_bytes) / 2.0;
    if view.sum(|b| b.syn_bytes) > majority {
        FloodPattern::SynFlood
    } else if view.sum(|b| b.udp_bytes) > majority {
        FloodPattern::Amplification
    } else if view.sum(|b| b.unsolicited_bytes) > majority {
        FloodPattern::Reflection
    } else {
        FloodPattern::Distributed
    }
}

fn pattern_name(pattern: FloodPattern) -> &'static str {
    match pattern {
        FloodPattern::SynFlood => "SYN flood",
        FloodPattern::Amplification => "UDP amplification",
        FloodPattern::Reflection => "reflected SYN-ACKs/resets",
        FloodPattern::Distributed => "distributed",
        FloodPattern::Volumetric => "packet rate",
        FloodPattern::ConnectionFlood => "connection flood",
    }
}

/// A field of the previous bucket while part of it is still in the window.
fn live<T, F: Clone + Default>(view: &WindowView<'_, T>, field: impl Fn(&T) -> &F) -> F {
    if view.previous_weight > 0.0 { field(view.previous).clone() } else { F::default() }
}

/// The previous bucket's flows, then the current one's, up to the sample size.
fn merged(mut previous: FlowSample, current: &FlowSample) -> FlowSample {
    let total = previous.total + current.total;
    for flow in &current.refs {
        if previous.refs.len() >= crate::event::MAX_FLOWS_PER_EVENT {
            break;
        }
        previous.refs.push(flow.clone());
    }
    previous.total = total;
    previous
}

/// The protocol and destination port all sampled flows share, if they do.
fn common_service(sample: &FlowSample) -> (Option<u8>, Option<u16>) {
    let Some(first) = sample.refs.first() else {
        return (None, None);
    };
    let proto = sample.refs.iter().all(|f| f.proto == first.proto).then_some(first.proto);
    let port =
        sample.refs.iter().all(|f| f.dst_port == first.dst_port && f.proto == first.proto).then_some(first.dst_port);
    (proto, port)
}

#[cfg(test)]
mod tests {
    use agent_common::flow::tcp_flags::{ACK, SYN};
    use models::FlowObservation;

    use super::*;
    use crate::{
        detect::{
            facts::tests::{flow, syn_only, tcp_session, with_orig, with_resp},
            networks::{Networks, default_internal_networks},
        },
        event::Severity,
    };

    fn run(tracker: &mut VictimTracker, flows: &[FlowObservation]) -> Vec<Finding> {
        let networks = Networks::new(default_internal_networks());
        let mut out = Vec::new();
        for flow in flows {
            tracker.observe(&FlowFacts::new(flow, true, &networks), &mut out);
        }
        out
    }

    fn tracker(baseline: BTreeMap<IpAddr, Quantiles>) -> VictimTracker {
        VictimTracker::new(FloodConfig::default(), &LimitsConfig::default(), baseline)
    }

    fn spoofed_syn(i: u64) -> FlowObservation {
        let src = format!("{}.{}.{}.{}", 1 + i % 200, (i / 200) % 250, (i * 7) % 250, 1 + i % 250);
        syn_only(i, &src, "10.10.10.10", 25565, i as f64 * 0.001)
    }

    #[test]
    fn spoofed_syn_flood_is_reported_once_per_window() {
        // 3,000 single-packet SYNs from 3,000 sources within 3 s.
        let flows: Vec<_> = (0..3000).map(spoofed_syn).collect();
        let found = run(&mut tracker(BTreeMap::new()), &flows);
        // The weaker test is 50 unanswered flows: first at 50 (ratio 1: low), then
        // at 150 (ratio 3: medium) and 500 (ratio 10: high), all within one window.
        let severities: Vec<_> = found.iter().map(|f| f.severity).collect();
        assert_eq!(severities, vec![Severity::Low, Severity::Medium, Severity::High]);
        let high = &found[2];
        assert_eq!(high.dst_ip, "10.10.10.10".parse().ok());
        assert_eq!((high.src_ip, high.proto, high.dst_port), (None, Some(TCP), Some(25565)));
        let Evidence::Flood { pattern, unanswered_flows, distinct_sources, unanswered_ratio, .. } = &high.evidence
        else {
            panic!("wrong evidence {:?}", high.evidence)
        };
        assert_eq!((*pattern, *unanswered_flows), (FloodPattern::SynFlood, 500));
        // Past 128 sources the count is a HyperLogLog estimate (≈3 % error).
        assert!(distinct_sources.abs_diff(500) <= 15, "{distinct_sources} sources");
        assert_eq!(*unanswered_ratio, 1.0);
        assert_eq!(high.flows.total, 500);
        assert_eq!(high.first_ns, flows[0].start_ns);
    }

    #[test]
    fn a_busy_server_that_answers_is_not_flooded() {
        let flows: Vec<_> = (0..3000u64)
            .map(|i| {
                tcp_session(
                    i,
                    &format!("100.{}.{}.1", i / 250, i % 250),
                    "10.0.0.80",
                    443,
                    i as f64 * 0.002,
                    800,
                    20_000,
                )
            })
            .collect();
        assert!(run(&mut tracker(BTreeMap::new()), &flows).is_empty());
    }

    #[test]
    fn a_trickle_of_unsolicited_syn_acks_from_several_reflectors_is_reflection() {
        // 24 SYN-ACKs in 48 s from 6 reflectors, nothing the victim ever asked for.
        let flows: Vec<_> = (0..24u64)
            .map(|i| {
                let src = format!("136.243.174.{}", 150 + i % 6);
                with_orig(flow(i, TCP, &src, "10.10.10.10", 9069, i as f64 * 2.0, 0), 1, 74, SYN | ACK)
            })
            .collect();
        let found = run(&mut tracker(BTreeMap::new()), &flows);
        assert_eq!(found.len(), 1);
        let Evidence::Flood { pattern, flows: count, distinct_sources, .. } = &found[0].evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*pattern, *count, *distinct_sources), (FloodPattern::Reflection, 20, 6));
        assert_eq!(found[0].severity, Severity::Low);
    }

    #[test]
    fn packet_rate_is_judged_against_the_baseline() -> Result<(), Box<dyn std::error::Error>> {
        // One answered UDP stream of 40,000 packets in 2 s (20,000/s over a 10 s window → 4,000/s).
        let mut stream = with_resp(
            with_orig(flow(1, UDP, "198.51.100.7", "10.0.0.9", 5004, 0.0, 2_000), 40_000, 40_000 * 1_200, 0),
            10,
            600,
            0,
        );
        assert!(run(&mut tracker(BTreeMap::new()), std::slice::from_ref(&stream)).is_empty());
        let usual = Quantiles { p50: 50.0, p99: 200.0, max: 300.0, windows: 100 };
        let baseline = BTreeMap::from([("10.0.0.9".parse()?, usual)]);
        stream.flow_id = 2;
        let found = run(&mut tracker(baseline), &[stream]);
        assert_eq!(found.len(), 1);
        let Evidence::Flood { pattern, packets_per_sec, baseline_packets_per_sec, .. } = &found[0].evidence else {
            panic!("wrong evidence")
        };
        assert_eq!(*pattern, FloodPattern::Volumetric);
        assert_eq!(*packets_per_sec, 4_000.0);
        assert_eq!(*baseline_packets_per_sec, Some(200.0));
        // 4,000/s against max(10 × 200, 1,000) = 2,000/s: twice the threshold.
        assert_eq!(found[0].severity, Severity::Low);
        assert_eq!(found[0].src_ip, None);
        Ok(())
    }

    #[test]
    fn long_records_count_by_their_share_of_the_window() {
        // A 300 s record of 3,000,000 packets (10,000/s) puts 100,000 of them in a 10 s window.
        let long = with_orig(flow(1, UDP, "198.51.100.7", "10.0.0.9", 5004, 0.0, 300_000), 3_000_000, 3_000_000_000, 0);
        let mut t = tracker(BTreeMap::new());
        assert!(run(&mut t, std::slice::from_ref(&long)).is_empty());
        let packets: Vec<f64> =
            t.victims.values_mut().map(|(_, v)| v.window.view(long.end_ns).sum(|b| b.packets)).collect();
        assert_eq!(packets, vec![100_000.0]);
    }
}
