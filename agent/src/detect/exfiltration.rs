//! Exfiltration: an internal host sending far more bytes to one outside
//! host, over a window, than it usually does, and far more than it gets back.
//!
//! Bytes count by direction, not by who opened the flow: an internal server
//! answering an outside client sends "out" too. The out/in ratio keeps
//! downloads, streaming and request/response traffic out. Against the
//! host's baseline (99th percentile of its per-window bytes out to one
//! outside host) when there is one, else against an absolute volume.

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use serde::{Deserialize, Serialize};

use super::{
    baseline::Quantiles,
    config::LimitsConfig,
    detector::RuleDetector,
    facts::FlowFacts,
    finding::{Entity, Finding, FlowSample, score_for_ratio, severity_for_ratio},
    table::EntityTable,
    window::{Refire, SlidingWindow},
};
use crate::event::{AnomalyKind, Evidence};

const MIB: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExfiltrationConfig {
    pub enabled: bool,
    /// 10 min: long enough for a slow, steady upload to add up, short enough
    /// to report while it is still going.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Bytes out to one outside host per window that are exfiltration when
    /// the baseline does not know the host. 100 MiB (≈1.4 Mb/s for ten
    /// minutes): more than browsing, mail or updates send; large uploads and
    /// off-site backups also reach it, which is why a baseline is better.
    pub min_bytes_out: u64,
    /// With a baseline: this many times the host's usual bytes out… 3: an
    /// upload three times the host's worst normal window.
    pub baseline_factor: f64,
    /// …and at least this many bytes. 10 MiB: hosts that usually send
    /// nothing should not alert on an email attachment.
    pub baseline_min_bytes_out: u64,
    /// Bytes out per byte in. 5: a bulk upload returns only acknowledgements
    /// (1/20 to 1/40 of its bytes); browsing and streaming are inbound-heavy.
    pub min_out_in_ratio: f64,
}

impl Default for ExfiltrationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(600),
            min_bytes_out: 100 * MIB,
            baseline_factor: 3.0,
            baseline_min_bytes_out: 10 * MIB,
            min_out_in_ratio: 5.0,
        }
    }
}

#[derive(Debug, Default)]
struct Bucket {
    first_ns: Option<u64>,
    bytes_out: u64,
    bytes_in: u64,
}

#[derive(Debug)]
struct Transfer {
    window: SlidingWindow<Bucket>,
    refire: Refire,
    /// Flows since the volume passed half the threshold.
    flows: FlowSample,
    /// The host's threshold, from the baseline when the entry was made (the
    /// baseline never changes, so no flow needs to look it up again).
    threshold: Threshold,
}

/// Bytes out that are exfiltration, and the host's usual bytes out it came from.
#[derive(Clone, Copy, Debug)]
struct Threshold {
    bytes_out: f64,
    usual: Option<f64>,
}

pub struct ExfiltrationDetector {
    config: ExfiltrationConfig,
    baseline: BTreeMap<IpAddr, Quantiles>,
    transfers: EntityTable<(IpAddr, IpAddr), Transfer>,
}

impl ExfiltrationDetector {
    /// `baseline`: per internal host, bytes out to one outside host per window.
    pub fn new(config: ExfiltrationConfig, limits: &LimitsConfig, baseline: BTreeMap<IpAddr, Quantiles>) -> Self {
        let ttl = limits.idle_timeout.max(config.window * 2);
        Self { transfers: EntityTable::new(limits.capacity(), ttl), baseline, config }
    }
}

fn threshold(c: &ExfiltrationConfig, baseline: &BTreeMap<IpAddr, Quantiles>, host: IpAddr) -> Threshold {
    match baseline.get(&host) {
        Some(usual) => Threshold {
            bytes_out: (usual.p99 * c.baseline_factor).max(c.baseline_min_bytes_out as f64),
            usual: Some(usual.p99),
        },
        None => Threshold { bytes_out: c.min_bytes_out as f64, usual: None },
    }
}

impl RuleDetector for ExfiltrationDetector {
    fn name(&self) -> &'static str {
        "exfiltration"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        let Some((host, remote, sent, received)) = orient(facts) else {
            return;
        };
        let now = facts.now_ns;
        let (config, baseline) = (&self.config, &self.baseline);
        let transfer = if sent == 0 {
            // Nothing out: only a transfer already tracked needs its bytes in
            // (spoofed floods would otherwise fill the table with silent pairs).
            match self.transfers.get_mut(&(host, remote), now) {
                Some(transfer) => transfer,
                None => return,
            }
        } else {
            self.transfers.entry((host, remote), now, || Transfer {
                window: SlidingWindow::new(config.window, now),
                refire: Refire::default(),
                flows: FlowSample::default(),
                threshold: threshold(config, baseline, host),
            })
        };
        let Threshold { bytes_out: threshold, usual } = transfer.threshold;
        let bucket = transfer.window.at(now);
        bucket.first_ns = Some(bucket.first_ns.map_or(facts.flow.start_ns, |t| t.min(facts.flow.start_ns)));
        bucket.bytes_out += sent;
        bucket.bytes_in += received;
        let view = transfer.window.view(now);
        let bytes_out = view.sum(|b| b.bytes_out as f64);
        let bytes_in = view.sum(|b| b.bytes_in as f64);
        if bytes_out < threshold / 2.0 {
            if transfer.flows.total > 0 {
                transfer.flows = FlowSample::default();
            }
            return;
        }
        transfer.flows.add(facts.flow);
        if bytes_out < threshold || bytes_out < bytes_in * config.min_out_in_ratio {
            return;
        }
        let ratio = bytes_out / threshold;
        let severity = severity_for_ratio(ratio);
        if !transfer.refire.should_fire(now, transfer.window.len_ns(), severity) {
            return;
        }
        let window_secs = transfer.window.len_secs();
        let first_ns = view.first_ns(|b| b.first_ns).unwrap_or(facts.flow.start_ns);
        out.push(Finding {
            kind: AnomalyKind::Exfiltration,
            entity: Entity::Pair(host, remote),
            severity,
            score: score_for_ratio(ratio),
            summary: format!(
                "{host} sent {:.1} MiB to {remote} in {window_secs:.0} s and received {:.1} MiB",
                bytes_out / MIB as f64,
                bytes_in / MIB as f64
            ),
            src_ip: Some(host),
            src_port: None,
            dst_ip: Some(remote),
            dst_port: None,
            proto: None,
            first_ns,
            last_ns: facts.flow.end_ns,
            evidence: Evidence::Exfiltration {
                window_secs,
                bytes_out: bytes_out.round() as u64,
                bytes_in: bytes_in.round() as u64,
                baseline_bytes_out: usual,
                threshold_bytes_out: threshold,
            },
            flows: transfer.flows.clone(),
            occurrences: 1,
        });
    }

    fn expire(&mut self, now_ns: u64) {
        self.transfers.expire(now_ns);
    }

    fn tracked(&self) -> usize {
        self.transfers.len()
    }

    fn evicted(&self) -> u64 {
        self.transfers.evicted_full()
    }
}

/// (internal host, outside host, bytes out, bytes in) of a flow crossing
/// the border, whichever side opened it.
pub(crate) fn orient(facts: &FlowFacts<'_>) -> Option<(IpAddr, IpAddr, u64, u64)> {
    let flow = facts.flow;
    match (facts.src_internal, facts.dst_internal) {
        (true, false) if !facts.dst_is_group => Some((flow.src_ip, flow.dst_ip, flow.orig.bytes, flow.resp.bytes)),
        (false, true) => Some((flow.dst_ip, flow.src_ip, flow.resp.bytes, flow.orig.bytes)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        detect::facts::tests::{observe_all, tcp_session},
        event::Severity,
    };

    #[test]
    fn an_upload_past_the_absolute_threshold_is_reported() {
        let mut detector =
            ExfiltrationDetector::new(ExfiltrationConfig::default(), &LimitsConfig::default(), BTreeMap::new());
        // 12 uploads of 10 MiB each to one outside host within 2 minutes.
        let flows: Vec<_> = (0..12u64)
            .map(|i| tcp_session(i, "10.0.0.5", "203.0.113.9", 443, i as f64 * 10.0, 10 * MIB, MIB / 4))
            .collect();
        let found = observe_all(&mut detector, &flows);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.src_ip, f.dst_ip), ("10.0.0.5".parse().ok(), "203.0.113.9".parse().ok()));
        assert_eq!(f.severity, Severity::Low);
        let Evidence::Exfiltration { bytes_out, bytes_in, baseline_bytes_out, threshold_bytes_out, .. } = &f.evidence
        else {
            panic!("wrong evidence")
        };
        assert_eq!((*bytes_out, *bytes_in, *baseline_bytes_out), (100 * MIB, 25 * MIB / 10, None));
        assert_eq!(*threshold_bytes_out, (100 * MIB) as f64);
        // Sampled from the 5th upload on (half the threshold).
        assert_eq!(f.flows.total, 6);
    }

    #[test]
    fn the_baseline_lowers_the_bar_and_downloads_never_count() -> Result<(), Box<dyn std::error::Error>> {
        let usual = Quantiles { p50: 100_000.0, p99: 2.0 * MIB as f64, max: 3.0 * MIB as f64, windows: 500 };
        let baseline = BTreeMap::from([("10.0.0.5".parse()?, usual)]);
        let mut detector = ExfiltrationDetector::new(ExfiltrationConfig::default(), &LimitsConfig::default(), baseline);
        let download = tcp_session(1, "10.0.0.5", "203.0.113.9", 443, 0.0, 1_000, 400 * MIB);
        assert!(observe_all(&mut detector, &[download]).is_empty());
        // 10 MiB ≥ max(3 × 2 MiB, 10 MiB), sent by the internal *responder*.
        let pulled = tcp_session(2, "198.51.100.4", "10.0.0.5", 22, 10.0, 40_000, 10 * MIB);
        let found = observe_all(&mut detector, &[pulled]);
        assert_eq!(found.len(), 1);
        let Evidence::Exfiltration { bytes_out, baseline_bytes_out, threshold_bytes_out, .. } = &found[0].evidence
        else {
            panic!("wrong evidence")
        };
        assert_eq!(*bytes_out, 10 * MIB);
        assert_eq!(*baseline_bytes_out, Some(2.0 * MIB as f64));
        assert_eq!(*threshold_bytes_out, (10 * MIB) as f64);
        assert_eq!(found[0].dst_ip, "198.51.100.4".parse().ok());
        Ok(())
    }

    #[test]
    fn traffic_between_internal_hosts_is_not_exfiltration() {
        let mut detector =
            ExfiltrationDetector::new(ExfiltrationConfig::default(), &LimitsConfig::default(), BTreeMap::new());
        let copy = tcp_session(1, "172.16.0.114", "172.16.0.111", 4433, 0.0, 500 * MIB, MIB);
        assert!(observe_all(&mut detector, &[copy]).is_empty());
        assert_eq!(detector.tracked(), 0);
    }
}
