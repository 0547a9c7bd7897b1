//! Beaconing: command-and-control check-ins, scored the way RITA scores
//! beacons (Active Countermeasures, `analysis/beacon`), per (source,
//! destination, protocol, port).
//!
//! For the last `max_connections` connections of a pair:
//! - intervals between connection starts: Bowley skew (symmetric around the
//!   median, whatever the jitter) and median absolute deviation relative to
//!   the median interval; `interval_score = ((1 − |skew|) + max(0, 1 − MADM/median)) / 2`;
//! - bytes the source sent per connection: the same two, plus smallness
//!   `max(0, 1 − mode/65535)` (check-ins are small);
//!   `payload_score` is the mean of the three;
//! - `score = (interval_score + payload_score) / 2`.
//!
//! RITA also scores how many hours of a day a pair is seen (duration and
//! histogram scores); that needs a day of history per pair, so here the
//! minimum connection count stands in for it and alerts come in minutes.
//! Intervals shorter than `min_interval` are parallel connections of one
//! burst, not check-ins (RITA drops same-second connections likewise).
//!
//! Fewer connections than that, from an internal host to an outside
//! server, are judged by [`check_ins`]: the same message sent again at
//! irregular times.
//!
//! Limits of flow data: a beacon inside one long-lived connection (keep-
//! alive heartbeats) is one flow and has no intervals to score, and UDP
//! check-ins reusing one source port merge into one flow.

mod check_ins;

use std::{collections::VecDeque, net::IpAddr, time::Duration};

use check_ins::CheckIns;

use serde::{Deserialize, Serialize};

use super::{
    config::LimitsConfig,
    detector::RuleDetector,
    facts::{FlowFacts, payload},
    finding::{Entity, Finding, FlowSample},
    stats::{bowley_skew, madm, mode, quantile},
    table::EntityTable,
};
use crate::event::{AnomalyKind, BeaconPattern, Evidence, FlowRef, MAX_FLOWS_PER_EVENT, Severity};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconingConfig {
    pub enabled: bool,
    /// Connections of a pair needed before it is scored. 6: five intervals
    /// are the fewest whose quartiles and median deviation mean anything;
    /// RITA asks for 20 over a whole day of logs, flowwatch scores as the
    /// connections arrive.
    pub min_connections: usize,
    /// Connections per pair kept for scoring (the most recent). 32: enough
    /// for stable quartiles, ≈1 KiB per pair.
    pub max_connections: usize,
    /// Shorter intervals are connections of one burst, not check-ins. 1 s.
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// Score from which a pair is a beacon. 0.8: RITA's own "high" band
    /// starts there; regular but chatty traffic (polling with varying
    /// payloads) stays below.
    pub min_score: f64,
    /// Count only connections the destination answered. A check-in nobody
    /// answers carries no command, and retries to an unreachable service
    /// are as regular as beacons (kitsune's IoT devices retry every few
    /// seconds); turn off to hunt for beacons to dead C2 servers.
    pub require_response: bool,
    /// A pair's history is forgotten after this long without a connection.
    /// 6 h: beacons that check in hourly are still scored.
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Responder ports never scored: DNS (53), NTP (123) and mDNS (5353) are
    /// periodic by design (resolver lookups, clock polling); DNS misuse is
    /// `dns_tunnel`'s job.
    pub exclude_ports: Vec<u16>,
    /// Sparse check-ins ([`check_ins`]): connections of an internal host to
    /// one outside service needed. 3: two identical requests may be a retry,
    /// three are a repeated message. From `min_connections` on, the
    /// regularity score takes over.
    pub checkin_min_connections: usize,
    /// Each check-in starts at least this long after the previous one. 10 s:
    /// closer connections are one burst (a page fetched in parallel).
    #[serde(with = "humantime_serde")]
    pub checkin_min_gap: Duration,
    /// Payload bytes every check-in sends at least. 100: an HTTP request or
    /// TLS record; emptier connections (health checks) carry no message.
    pub checkin_min_payload: u64,
    /// Largest spread of payload sizes, as (largest − smallest) / median.
    /// 0.03 (≈15 bytes of a 500-byte request): a fixed-format message varies
    /// by its identifiers; browsing requests differ in paths and cookies.
    pub checkin_max_size_spread: f64,
}

impl Default for BeaconingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_connections: 6,
            max_connections: 32,
            min_interval: Duration::from_secs(1),
            min_score: 0.8,
            require_response: true,
            history: Duration::from_secs(6 * 3600),
            exclude_ports: vec![53, 123, 5353],
            checkin_min_connections: 3,
            checkin_min_gap: Duration::from_secs(10),
            checkin_min_payload: 100,
            checkin_max_size_spread: 0.03,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PairKey {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    port: u16,
}

#[derive(Clone, Copy, Debug)]
struct Connection {
    start_ns: u64,
    end_ns: u64,
    bytes: u64,
    /// The request's payload (see [`payload`]).
    payload: u64,
    flow_id: u64,
    src_port: u16,
}

#[derive(Debug, Default)]
struct History {
    connections: VecDeque<Connection>,
    /// All connections seen, also those no longer kept.
    total: u64,
}

/// The score and what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct BeaconScore {
    pub score: f64,
    pub interval_score: f64,
    pub payload_score: f64,
    pub median_interval_secs: f64,
    pub interval_skew: f64,
    pub interval_madm_secs: f64,
    pub median_payload_bytes: f64,
    pub payload_skew: f64,
    pub payload_madm_bytes: f64,
}

/// Quartile spreads below which skew is taken as 0, as RITA does: 10 s of
/// intervals, 10 bytes of sizes.
const MIN_INTERVAL_SPREAD_SECS: f64 = 10.0;
const MIN_SIZE_SPREAD_BYTES: f64 = 10.0;

/// Scores connection start times (seconds, any order) and their sizes;
/// `None` when fewer than `min_intervals` intervals are at least `min_interval` long.
pub fn score(starts_secs: &[f64], sizes: &[f64], min_interval: f64, min_intervals: usize) -> Option<BeaconScore> {
    let mut scratch = Scratch::default();
    scratch.starts.extend_from_slice(starts_secs);
    scratch.sizes.extend_from_slice(sizes);
    score_in(&mut scratch, min_interval, min_intervals)
}

/// [`score`] on the scratch buffers' `starts` and `sizes`, which it sorts
/// in place; the intervals and deviations reuse the scratch too.
fn score_in(scratch: &mut Scratch, min_interval: f64, min_intervals: usize) -> Option<BeaconScore> {
    let Scratch { starts: times, sizes, intervals, deviations, .. } = scratch;
    times.sort_by(f64::total_cmp);
    intervals.clear();
    intervals.extend(times.windows(2).map(|w| w[1] - w[0]).filter(|d| *d >= min_interval));
    if intervals.len() < min_intervals.max(1) {
        return None;
    }
    intervals.sort_by(f64::total_cmp);
    sizes.sort_by(f64::total_cmp);
    let (intervals, sizes) = (&*intervals, &*sizes);

    let median_interval = quantile(intervals, 0.5);
    let interval_skew = bowley_skew(intervals, MIN_INTERVAL_SPREAD_SECS);
    let interval_madm = madm(intervals, deviations);
    let interval_score = ((1.0 - interval_skew.abs()) + dispersion_score(interval_madm, median_interval)) / 2.0;

    let median_size = quantile(sizes, 0.5);
    let payload_skew = bowley_skew(sizes, MIN_SIZE_SPREAD_BYTES);
    let payload_madm = madm(sizes, deviations);
    let smallness = (1.0 - mode(sizes) / 65_535.0).max(0.0);
    let payload_score = ((1.0 - payload_skew.abs()) + dispersion_score(payload_madm, median_size) + smallness) / 3.0;

    Some(BeaconScore {
        score: (interval_score + payload_score) / 2.0,
        interval_score,
        payload_score,
        median_interval_secs: median_interval,
        interval_skew,
        interval_madm_secs: interval_madm,
        median_payload_bytes: median_size,
        payload_skew,
        payload_madm_bytes: payload_madm,
    })
}

/// `max(0, 1 − MADM/median)`: 1 for no spread, 0 once the spread reaches the median.
fn dispersion_score(madm: f64, median: f64) -> f64 {
    if median <= 0.0 { 0.0 } else { (1.0 - madm / median).max(0.0) }
}

pub struct BeaconingDetector {
    config: BeaconingConfig,
    pairs: EntityTable<PairKey, History>,
    scratch: Scratch,
}

impl BeaconingDetector {
    pub fn new(config: BeaconingConfig, limits: &LimitsConfig) -> Self {
        Self { pairs: EntityTable::new(limits.capacity(), config.history), config, scratch: Scratch::default() }
    }
}

/// What made a pair's connections a beacon.
enum Verdict {
    Regular,
    CheckIns(CheckIns),
}

/// Buffers reused for every scoring, so scoring allocates nothing per flow.
#[derive(Debug, Default)]
struct Scratch {
    starts: Vec<f64>,
    sizes: Vec<f64>,
    intervals: Vec<f64>,
    deviations: Vec<f64>,
    by_start: Vec<(u64, u64)>,
    payloads: Vec<u64>,
}

impl Scratch {
    /// The regularity score of the kept connections, when there are enough intervals.
    fn regularity(&mut self, history: &History, min_interval: f64, min_intervals: usize) -> Option<BeaconScore> {
        // Relative to the oldest kept start, so seconds keep their precision.
        let origin = history.connections.iter().map(|c| c.start_ns).min().unwrap_or(0);
        self.starts.clear();
        self.starts.extend(history.connections.iter().map(|c| (c.start_ns - origin) as f64 / 1e9));
        self.sizes.clear();
        self.sizes.extend(history.connections.iter().map(|c| c.bytes as f64));
        score_in(self, min_interval, min_intervals)
    }

    /// Too few connections to score: are they the same check-in repeated?
    fn check_ins(&mut self, history: &History, config: &BeaconingConfig) -> Option<CheckIns> {
        self.by_start.clear();
        self.by_start.extend(history.connections.iter().map(|c| (c.start_ns, c.payload)));
        self.by_start.sort_unstable();
        check_ins::judge(config, &self.by_start, &mut self.payloads)
    }
}

impl RuleDetector for BeaconingDetector {
    fn name(&self) -> &'static str {
        "beaconing"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let flow = facts.flow;
        if !facts.opened
            || facts.dst_is_group
            || (self.config.require_response && !facts.answered)
            || self.config.exclude_ports.contains(&flow.dst_port)
        {
            return;
        }
        let key = PairKey { src: flow.src_ip, dst: flow.dst_ip, proto: flow.proto, port: flow.dst_port };
        let history = self.pairs.entry(key, facts.now_ns, History::default);
        if history.connections.len() >= self.config.max_connections.max(1) {
            history.connections.pop_front();
        }
        history.connections.push_back(Connection {
            start_ns: flow.start_ns,
            end_ns: flow.end_ns,
            bytes: flow.orig.bytes,
            payload: payload(&flow.orig),
            flow_id: flow.flow_id,
            src_port: flow.src_port,
        });
        history.total += 1;
        let kept = history.connections.len();
        let min_interval = self.config.min_interval.as_secs_f64();
        if kept >= self.config.min_connections {
            let min_intervals = self.config.min_connections - 1;
            let Some(scored) = self.scratch.regularity(history, min_interval, min_intervals) else { return };
            if scored.score >= self.config.min_score {
                let severity = severity(&scored, kept as u64);
                out.push(finding(key, history, &scored, Verdict::Regular, scored.score, severity));
            }
        } else if facts.src_internal && !facts.dst_internal && kept >= self.config.checkin_min_connections {
            let Some(check_ins) = self.scratch.check_ins(history, &self.config) else { return };
            let Some(scored) = self.scratch.regularity(history, min_interval, 1) else { return };
            let score = 1.0 - check_ins.size_spread;
            out.push(finding(key, history, &scored, Verdict::CheckIns(check_ins), score, Severity::Low));
        }
    }

    fn expire(&mut self, now_ns: u64) {
        self.pairs.expire(now_ns);
    }

    fn tracked(&self) -> usize {
        self.pairs.len()
    }

    fn evicted(&self) -> u64 {
        self.pairs.evicted_full()
    }
}

/// Medium from a score of 0.9; high only for a near-perfect score (≥ 0.95)
/// sustained over at least 24 connections (a day of hourly check-ins):
/// benign software polls regularly too, so regularity alone stays low.
fn severity(scored: &BeaconScore, connections: u64) -> Severity {
    if scored.score >= 0.95 && connections >= 24 {
        Severity::High
    } else if scored.score >= 0.9 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

fn finding(
    key: PairKey,
    history: &History,
    scored: &BeaconScore,
    verdict: Verdict,
    score: f64,
    severity: Severity,
) -> Finding {
    let connections = history.connections.len() as u64;
    let mut by_start: Vec<&Connection> = history.connections.iter().collect();
    by_start.sort_by_key(|c| c.start_ns);
    let recent = by_start.len().saturating_sub(MAX_FLOWS_PER_EVENT);
    let flows = FlowSample::new(
        by_start[recent..]
            .iter()
            .map(|c| FlowRef {
                flow_id: c.flow_id,
                proto: key.proto,
                src_ip: key.src,
                src_port: c.src_port,
                dst_ip: key.dst,
                dst_port: key.port,
            })
            .collect(),
        history.total,
    );
    Finding {
        kind: AnomalyKind::Beaconing,
        entity: Entity::Service { src: key.src, dst: key.dst, proto: key.proto, port: key.port },
        severity,
        score,
        summary: match verdict {
            Verdict::Regular => format!(
                "{} checks in with {}:{} every {:.1} s ({connections} connections, ≈{:.0} bytes each, score {score:.2})",
                key.src, key.dst, key.port, scored.median_interval_secs, scored.median_payload_bytes
            ),
            Verdict::CheckIns(check_ins) => format!(
                "{} sent {}:{} the same-size request {connections} times, {:.0} s apart or more",
                key.src, key.dst, key.port, check_ins.min_gap_secs
            ),
        },
        src_ip: Some(key.src),
        src_port: None,
        dst_ip: Some(key.dst),
        dst_port: Some(key.port),
        proto: Some(key.proto),
        first_ns: by_start.first().map_or(0, |c| c.start_ns),
        last_ns: by_start.iter().map(|c| c.end_ns).max().unwrap_or(0),
        evidence: Evidence::Beaconing {
            pattern: match verdict {
                Verdict::Regular => BeaconPattern::Regular,
                Verdict::CheckIns(_) => BeaconPattern::CheckIns,
            },
            connections,
            median_interval_secs: scored.median_interval_secs,
            interval_skew: scored.interval_skew,
            interval_madm_secs: scored.interval_madm_secs,
            median_payload_bytes: scored.median_payload_bytes,
            payload_skew: scored.payload_skew,
            payload_madm_bytes: scored.payload_madm_bytes,
            interval_score: scored.interval_score,
            payload_score: scored.payload_score,
        },
        flows,
        occurrences: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::tests::{observe_all, syn_only, tcp_session};

    #[test]
    fn perfect_beacon_scores_near_one() -> Result<(), Box<dyn std::error::Error>> {
        let starts: Vec<f64> = (0..10).map(|i| i as f64 * 60.0).collect();
        let sizes = vec![300.0; 10];
        let s = score(&starts, &sizes, 1.0, 5).ok_or("not scored")?;
        assert_eq!(
            (s.interval_score, s.interval_skew, s.interval_madm_secs, s.median_interval_secs),
            (1.0, 0.0, 0.0, 60.0)
        );
        // Payload: no skew, no spread, smallness 1 − 300/65535.
        assert!((s.payload_score - (3.0 - 300.0 / 65_535.0) / 3.0).abs() < 1e-12);
        assert!((s.score - (1.0 + s.payload_score) / 2.0).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn jitter_is_tolerated_but_randomness_is_not() -> Result<(), Box<dyn std::error::Error>> {
        // ±10 % jitter around 30 s, alternating, sizes within a few bytes.
        let jittered: Vec<f64> = (0..20).map(|i| i as f64 * 30.0 + if i % 2 == 0 { 3.0 } else { -3.0 }).collect();
        let sizes: Vec<f64> = (0..20).map(|i| 280.0 + (i % 3) as f64).collect();
        let s = score(&jittered, &sizes, 1.0, 5).ok_or("not scored")?;
        // Intervals alternate 24 s and 36 s: Q1 = Q2 = 24 (no skew), MADM 0.
        assert!(s.score > 0.9, "{s:?}");
        // Browsing: intervals spread over two orders of magnitude, sizes too.
        let random_starts = [0.0, 2.0, 3.5, 40.0, 41.0, 300.0, 302.0, 900.0, 1500.0, 1501.5];
        let random_sizes = [800.0, 12_000.0, 650.0, 90_000.0, 1_400.0, 5_000.0, 700.0, 64_000.0, 2_000.0, 30_000.0];
        let r = score(&random_starts, &random_sizes, 1.0, 5).ok_or("not scored")?;
        assert!(r.score < 0.6, "{r:?}");
        Ok(())
    }

    #[test]
    fn millisecond_jitter_is_not_skew() -> Result<(), Box<dyn std::error::Error>> {
        // ratinfected's check-ins: starts in seconds, and the bytes each sent.
        let starts = [0.0, 0.012, 74.205, 84.210, 94.225, 104.238, 114.239, 118.446];
        let sizes = [1589.0, 235.0, 89_730.0, 89_730.0, 92_297.0, 93_167.0, 89_720.0, 89_725.0];
        let s = score(&starts, &sizes, 1.0, 5).ok_or("not scored")?;
        assert_eq!((s.interval_skew, s.payload_skew), (0.0, 0.0));
        assert!((s.median_interval_secs - 10.013).abs() < 1e-9, "{s:?}");
        assert!(s.interval_score > 0.999, "{s:?}");
        // Large screen grabs: no smallness, so the payload half is ≈ (1 + 0.97 + 0) / 3.
        assert!((s.payload_score - (2.0 - 2567.0 / 89_730.0) / 3.0).abs() < 1e-9, "{s:?}");
        assert!(s.score > 0.8 && s.score < 0.85, "{s:?}");
        Ok(())
    }

    #[test]
    fn bursts_do_not_count_as_intervals() {
        // Ten connections within a second: no interval of at least 1 s.
        let starts: Vec<f64> = (0..10).map(|i| i as f64 * 0.05).collect();
        assert_eq!(score(&starts, &[100.0; 10], 1.0, 5), None);
    }

    #[test]
    fn detector_reports_a_regular_answered_pair_and_ignores_unanswered_retries() {
        let mut detector = BeaconingDetector::new(BeaconingConfig::default(), &LimitsConfig::default());
        let flows: Vec<_> = (0..8u64)
            .flat_map(|i| {
                let checkin = tcp_session(i, "172.16.0.114", "172.16.0.111", 4433, i as f64 * 10.0, 350, 200);
                let retry = syn_only(100 + i, "192.168.2.108", "52.24.43.67", 80, i as f64 * 4.6);
                [checkin, retry]
            })
            .collect();
        let out = observe_all(&mut detector, &flows);
        // Scored from the 6th check-in on: the 6th, 7th and 8th each report.
        assert_eq!(out.len(), 3);
        let last = &out[2];
        assert_eq!(
            (last.src_ip, last.dst_ip, last.dst_port),
            ("172.16.0.114".parse().ok(), "172.16.0.111".parse().ok(), Some(4433))
        );
        assert_eq!(last.severity, Severity::Medium);
        let Evidence::Beaconing { connections, median_interval_secs, interval_score, .. } = &last.evidence else {
            panic!("wrong evidence")
        };
        assert_eq!((*connections, *median_interval_secs, *interval_score), (8, 10.0, 1.0));
        assert_eq!(last.flows.total, 8);
        assert_eq!(last.flows.refs.len(), 8);
    }

    #[test]
    fn sparse_same_size_check_ins_to_an_outside_server_are_low_beacons() {
        let mut detector = BeaconingDetector::new(BeaconingConfig::default(), &LimitsConfig::default());
        let flows: Vec<_> = [0.0, 15.2, 41.4, 90.0]
            .into_iter()
            .enumerate()
            .flat_map(|(i, at)| {
                let id = i as u64;
                // Six frames, the smallest a 60-byte acknowledgement: 980 − 6 × 60 = 620 payload bytes.
                let mut c2 = tcp_session(id, "192.168.122.145", "184.170.149.44", 80, at, 980, 700);
                c2.orig.len_min = 60;
                // The same requests inside the network are not judged as check-ins.
                let mut lan = tcp_session(10 + id, "192.168.122.145", "192.168.122.1", 80, at, 980, 700);
                lan.orig.len_min = 60;
                [c2, lan]
            })
            .collect();
        let out = observe_all(&mut detector, &flows);
        // From the third check-in on, each reports (suppression makes them one event).
        assert_eq!(out.len(), 2);
        let Evidence::Beaconing { pattern, connections, .. } = &out[1].evidence else { panic!("wrong evidence") };
        assert_eq!((*pattern, *connections, out[1].severity), (BeaconPattern::CheckIns, 4, Severity::Low));
        assert_eq!(out[1].dst_ip, "184.170.149.44".parse().ok());
        // Every request the same size: a spread of 0.
        assert_eq!(out[1].score, 1.0);
    }
}
