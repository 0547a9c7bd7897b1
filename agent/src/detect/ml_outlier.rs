//! Model outliers: a flow the model scored above its calibrated threshold.
//! The agent maps the models crate's output onto [`MlVerdict`]; the event
//! carries the threshold and the features that drove the score.
//!
//! Severity is graded by how far the flow lies beyond the *training*
//! traffic, not by its rank among the training flows: a threshold at level
//! `a` flags about `1 − a` of benign flows by design, so any grading inside
//! that top slice (e.g. "above 99.67 % of training flows is high") turns a
//! fixed share of benign traffic into high alerts. Only a flow the model
//! finds stranger than everything it was trained on can be medium, and only
//! one well beyond that high.
//!
//! Outliers within `report_window` of an incident's first are one incident
//! ([`MlOutliers`]): a sweep or a scan the model flags flow by flow becomes
//! one event with the count, the highest severity and score, and the
//! highest-scoring flows. An incident is one source's outliers, except that
//! an *unanswered* flow's source is unproven — a flood's sources are mostly
//! spoofed, one flow each, as the geo detector also assumes — so unanswered
//! outliers to a target that already has an incident join it: a spoofed
//! flood is one event about its victim, not one per forged address, while
//! a scanner's unanswered probes to many hosts stay with the scanner.
//!
//! During the host windows' warm-up (the first minute of a run) the model
//! judges a flow on its own features (see `analysis::scorer_for`); the
//! evidence counts those flows in `warm_up_flows`.

use std::{net::IpAddr, time::Duration};

use models::calibration::Calibration;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{
    detector::RuleDetector,
    facts::FlowFacts,
    finding::{Entity, Finding, FlowSample},
    gather::Gatherer,
};
use crate::event::{AnomalyKind, Evidence, FeatureContribution, FlowRef, MAX_FLOWS_PER_EVENT, Severity};

/// The model's verdict on one flow.
#[derive(Clone, Debug, PartialEq)]
pub struct MlVerdict {
    /// Anomaly score, higher is more anomalous (in [0, 1] for an Isolation Forest).
    pub score: f64,
    /// The calibrated threshold the score is compared with.
    pub threshold: f64,
    pub is_anomaly: bool,
    /// How far beyond the training traffic the flow's raw score lies (see
    /// [`beyond_training`]): negative within the training range, above 0
    /// past the training maximum.
    pub beyond_training: f64,
    /// The features that pushed the score up most, largest first.
    pub top_features: Vec<FeatureContribution>,
    /// Scored during the host windows' warm-up, on the flow's own features
    /// (host-window features set to their typical values).
    pub warm_up: bool,
}

/// How far a raw (combined) score lies past the highest training score, in
/// units of the training distribution's own upper tail (maximum − threshold;
/// the maximum − median when the threshold sits at the maximum): 0 at the
/// training maximum, 1 when the flow is as far beyond the maximum as the
/// maximum is beyond the threshold, negative inside the training range.
pub fn beyond_training(calibration: &Calibration, combined: f64) -> f64 {
    let training = calibration.training_scores();
    let max = training.max();
    let tail = [max - calibration.threshold(), max - training.quantile(0.5)]
        .into_iter()
        .find(|width| *width > f64::EPSILON * max.abs().max(1.0))
        .unwrap_or(1.0);
    (combined - max) / tail
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlOutlierConfig {
    pub enabled: bool,
    /// Outliers of one source within this long of its first are one event.
    /// 60 s: a scan or sweep the model flags flow by flow is over or well
    /// under way within a minute, and the event is not held back longer.
    #[serde(with = "humantime_serde")]
    pub report_window: Duration,
    /// The highest severity a model outlier alone is given. Medium: the model
    /// says a flow is unlike the baseline, not what it is, and novelty is
    /// routine in benign traffic when the baseline is small (a model learnt
    /// from ~1,000 simulated flows puts a few benign sources of another hour
    /// well beyond every training score). High is left to the detectors
    /// that name what happened; set `high` to let far outliers page.
    pub max_severity: Severity,
}

impl Default for MlOutlierConfig {
    fn default() -> Self {
        Self { enabled: true, report_window: Duration::from_secs(60), max_severity: Severity::Medium }
    }
}

/// Low while the flow is within the range of the training scores (the
/// threshold's expected false positives live there), medium once it is
/// beyond every training flow, high from one tail-width beyond (see
/// [`beyond_training`]); capped by [`MlOutlierConfig::max_severity`].
fn severity(verdict: &MlVerdict) -> Severity {
    if verdict.beyond_training >= 1.0 {
        Severity::High
    } else if verdict.beyond_training > 0.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Numbers incidents: a target stays registered until its incident is
/// handed out, which for one closed early (a full gatherer) is after its
/// source may have opened another; the serial tells the two apart.
type Serial = u64;

/// The outliers of one incident.
#[derive(Debug)]
struct Outliers {
    serial: Serial,
    count: u64,
    /// Outliers scored during the host windows' warm-up.
    warm_up: u64,
    severity: Severity,
    /// The highest-scoring verdict so far, whose features explain the event.
    top_score: f64,
    threshold: f64,
    top_features: Vec<FeatureContribution>,
    /// The highest-scoring flows (up to [`MAX_FLOWS_PER_EVENT`]), by score.
    flows: Vec<(f64, FlowRef)>,
    /// The one source, destination host and service (protocol, port) of
    /// every outlier; `None` once there are several.
    source: Option<IpAddr>,
    host: Option<IpAddr>,
    service: Option<(u8, u16)>,
    /// The destination this incident was opened for by an unanswered flow,
    /// which unanswered flows of other sources join.
    target: Option<IpAddr>,
    first_ns: u64,
    last_ns: u64,
}

impl Outliers {
    fn open(serial: Serial, flow: &models::FlowObservation, threshold: f64, target: Option<IpAddr>) -> Self {
        Self {
            serial,
            count: 0,
            warm_up: 0,
            severity: Severity::Low,
            top_score: f64::NEG_INFINITY,
            threshold,
            top_features: Vec::new(),
            flows: Vec::new(),
            source: Some(flow.src_ip),
            host: Some(flow.dst_ip),
            service: Some((flow.proto, flow.dst_port)),
            target,
            first_ns: flow.start_ns,
            last_ns: flow.end_ns,
        }
    }

    fn add(&mut self, flow: &models::FlowObservation, verdict: &MlVerdict) {
        self.count += 1;
        self.warm_up += u64::from(verdict.warm_up);
        self.severity = self.severity.max(severity(verdict));
        if verdict.score > self.top_score {
            self.top_score = verdict.score;
            self.threshold = verdict.threshold;
            self.top_features.clone_from(&verdict.top_features);
        }
        if self.source != Some(flow.src_ip) {
            self.source = None;
        }
        if self.host != Some(flow.dst_ip) {
            self.host = None;
        }
        if self.service != Some((flow.proto, flow.dst_port)) {
            self.service = None;
        }
        self.first_ns = self.first_ns.min(flow.start_ns);
        self.last_ns = self.last_ns.max(flow.end_ns);
        if self.flows.iter().any(|(_, f)| f.flow_id == flow.flow_id) {
            return;
        }
        let lowest = self.flows.iter().enumerate().min_by(|a, b| a.1.0.total_cmp(&b.1.0)).map(|(i, f)| (i, f.0));
        match lowest {
            _ if self.flows.len() < MAX_FLOWS_PER_EVENT => self.flows.push((verdict.score, FlowRef::of(flow))),
            Some((index, score)) if verdict.score > score => self.flows[index] = (verdict.score, FlowRef::of(flow)),
            _ => {}
        }
    }
}

/// Gathers anomalous verdicts into incidents, keyed by the source that
/// opened each.
pub struct MlOutliers {
    incidents: Gatherer<IpAddr, Outliers>,
    /// Targets of open incidents → the incident (its source and serial).
    targets: FxHashMap<IpAddr, (IpAddr, Serial)>,
    next_serial: Serial,
    max_severity: Severity,
}

impl MlOutliers {
    pub fn new(config: &MlOutlierConfig, max_sources: usize) -> Self {
        Self {
            incidents: Gatherer::new(config.report_window, max_sources),
            targets: FxHashMap::default(),
            next_serial: 0,
            max_severity: config.max_severity,
        }
    }
}

impl RuleDetector for MlOutliers {
    fn name(&self) -> &'static str {
        "ml_outlier"
    }

    /// A record the model scored; only anomalous verdicts count. Findings
    /// come when an incident's window closes ([`RuleDetector::deferred`]).
    fn observe(&mut self, facts: &FlowFacts<'_>, _out: &mut Vec<Finding>) {
        let Some(verdict) = facts.verdict.filter(|v| v.is_anomaly) else { return };
        let flow = facts.flow;
        if let Some(outliers) = self.incidents.get_mut(&flow.src_ip) {
            outliers.add(flow, verdict);
            return;
        }
        // A group address answers nobody, so silence says nothing about the sender.
        let unproven_source = facts.unanswered() && !facts.dst_is_group;
        if unproven_source
            && let Some(&(opener, serial)) = self.targets.get(&flow.dst_ip)
            && let Some(outliers) = self.incidents.get_mut(&opener).filter(|o| o.serial == serial)
        {
            outliers.add(flow, verdict);
            return;
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let target = unproven_source.then_some(flow.dst_ip);
        if let Some(target) = target {
            self.targets.insert(target, (flow.src_ip, serial));
        }
        self.incidents
            .entry(flow.src_ip, facts.now_ns, || Outliers::open(serial, flow, verdict.threshold, target))
            .add(flow, verdict);
    }

    /// The incidents whose window is over at `now_ns`, as findings.
    fn deferred(&mut self, now_ns: u64, out: &mut Vec<Finding>) {
        let Self { incidents, targets, max_severity, .. } = self;
        incidents.due(now_ns, |opener, mut outliers| {
            if let Some(target) = outliers.target
                && targets.get(&target) == Some(&(opener, outliers.serial))
            {
                targets.remove(&target);
            }
            outliers.severity = outliers.severity.min(*max_severity);
            out.push(finding(opener, outliers));
        });
    }

    fn tracked(&self) -> usize {
        self.incidents.len()
    }
}

fn finding(opener: IpAddr, outliers: Outliers) -> Finding {
    let Outliers {
        count,
        warm_up,
        severity,
        top_score,
        threshold,
        top_features,
        mut flows,
        source,
        host,
        service,
        target,
        first_ns,
        last_ns,
        ..
    } = outliers;
    flows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let drivers: Vec<&str> = top_features.iter().take(3).map(|f| f.feature.as_str()).collect();
    let drivers = if drivers.is_empty() { "no single feature".to_string() } else { drivers.join(", ") };
    // Other sources join an incident only through its target.
    let (entity, src_ip, dst_ip) = match (source, target) {
        (None, Some(victim)) => (Entity::Destination(victim), None, Some(victim)),
        _ => (Entity::Source(opener), Some(opener), host),
    };
    let mut summary = match (count, source, host, service) {
        (1, Some(src), Some(dst), Some((_, port))) => {
            format!("flow {src} → {dst}:{port} scored {top_score:.3} (threshold {threshold:.3}), driven by {drivers}")
        }
        (_, Some(src), _, _) => format!(
            "{count} flows from {src} scored above the threshold {threshold:.3} (highest {top_score:.3}), driven by {drivers}"
        ),
        _ => format!(
            "{count} unanswered flows from several (possibly spoofed) sources to {victim} scored above the threshold \
             {threshold:.3} (highest {top_score:.3}), driven by {drivers}",
            victim = dst_ip.map_or_else(String::new, |ip| ip.to_string())
        ),
    };
    if warm_up > 0 {
        summary.push_str(&format!("; {warm_up} scored during warm-up on flow features alone"));
    }
    let single = flows.first().map(|f| f.1.src_port).filter(|_| count == 1);
    Finding {
        kind: AnomalyKind::MlOutlier,
        entity,
        severity,
        score: top_score,
        summary,
        src_ip,
        src_port: single,
        dst_ip,
        dst_port: service.map(|s| s.1),
        proto: service.map(|s| s.0),
        first_ns,
        last_ns,
        evidence: Evidence::MlOutlier { threshold, top_features, warm_up_flows: warm_up },
        flows: FlowSample::new(flows.into_iter().map(|f| f.1).collect(), count),
        occurrences: count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::{
        UDP,
        tests::{flow, observe_judged, syn_only, tcp_session, with_orig},
    };

    fn verdict(score: f64, beyond_training: f64, is_anomaly: bool) -> MlVerdict {
        MlVerdict {
            score,
            threshold: 0.6,
            is_anomaly,
            beyond_training,
            top_features: vec![FeatureContribution { feature: "orig_bytes".into(), value: 9e8, contribution: 0.7 }],
            warm_up: false,
        }
    }

    /// The findings of `flows` with their verdicts, at the end of input,
    /// with every severity allowed.
    fn judge_all(flows: &[(models::FlowObservation, MlVerdict)]) -> Vec<Finding> {
        judge_all_with(&MlOutlierConfig { max_severity: Severity::High, ..MlOutlierConfig::default() }, flows)
    }

    fn judge_all_with(config: &MlOutlierConfig, flows: &[(models::FlowObservation, MlVerdict)]) -> Vec<Finding> {
        let mut outliers = MlOutliers::new(config, 1024);
        let mut out = observe_judged(&mut outliers, flows.iter().map(|(flow, verdict)| (flow, Some(verdict))));
        assert!(out.is_empty(), "findings come when an incident's window closes");
        outliers.deferred(u64::MAX, &mut out);
        out
    }

    #[test]
    fn anomalous_verdicts_become_findings_graded_by_margin() {
        let flow = tcp_session(1, "10.0.0.5", "203.0.113.9", 443, 0.0, 900, 9_000);
        assert_eq!(judge_all(&[(flow.clone(), verdict(0.9, 2.0, false))]), vec![]);
        let grades: Vec<_> = [-0.5, 0.0, 0.01, 0.99, 1.0, 7.0]
            .iter()
            .flat_map(|beyond| judge_all(&[(flow.clone(), verdict(0.99, *beyond, true))]))
            .map(|f| f.severity)
            .collect();
        use Severity::{High, Low, Medium};
        assert_eq!(grades, vec![Low, Low, Medium, Medium, High, High]);
        // By default a model outlier alone is at most medium.
        let capped = judge_all_with(&MlOutlierConfig::default(), &[(flow.clone(), verdict(0.99, 7.0, true))]);
        assert_eq!(capped[0].severity, Medium);
        let found = judge_all(&[(flow, verdict(0.9, 1.0, true))]);
        assert_eq!((found[0].score, found[0].occurrences), (0.9, 1));
        assert!(found[0].summary.ends_with("driven by orig_bytes"), "{}", found[0].summary);
        assert_eq!((found[0].dst_ip, found[0].dst_port), ("203.0.113.9".parse().ok(), Some(443)));
        assert_eq!(found[0].flows.refs[0].flow_id, 1);
    }

    #[test]
    fn a_sweep_flagged_flow_by_flow_is_one_incident_with_its_top_flows() {
        // 20 hosts probed within a minute, scores rising with the host number; one far beyond training.
        let flows: Vec<_> = (0..20u64)
            .map(|i| {
                let flow = tcp_session(i, "10.0.0.5", &format!("10.0.1.{i}"), 23, i as f64, 60, 60);
                (flow, verdict((70 + i) as f64 / 100.0, if i == 7 { 1.5 } else { -0.2 }, true))
            })
            .collect();
        let found = judge_all(&flows);
        assert_eq!(found.len(), 1);
        let incident = &found[0];
        assert_eq!((incident.occurrences, incident.flows.total, incident.flows.refs.len()), (20, 20, 16));
        assert_eq!(
            (incident.severity, incident.entity.clone()),
            (Severity::High, Entity::Source("10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))))
        );
        // Several hosts, one port: the port is named; the flows are the 16 highest-scoring, highest first.
        assert_eq!((incident.dst_ip, incident.dst_port, incident.score), (None, Some(23), 0.89));
        let ids: Vec<u64> = incident.flows.refs.iter().map(|f| f.flow_id).take(3).collect();
        assert_eq!(ids, vec![19, 18, 17]);
        assert!(incident.flows.refs.iter().all(|f| f.flow_id >= 4));
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn addr(text: &str) -> Result<IpAddr, std::net::AddrParseError> {
        text.parse()
    }

    #[test]
    fn a_spoofed_flood_is_one_incident_about_its_victim() -> TestResult {
        // 300 one-SYN flows from as many forged sources to one web server, and
        // one ordinary answered outlier of another client of that server.
        let mut flows: Vec<_> = (0..300u64)
            .map(|i| {
                let src = format!("198.51.{}.{}", i / 200, i % 200 + 1);
                (syn_only(i, &src, "10.10.10.10", 80, i as f64 * 0.01), verdict(0.95, 0.5, true))
            })
            .collect();
        let client = tcp_session(300, "10.0.0.5", "10.10.10.10", 80, 1.0, 900, 9_000);
        flows.push((client, verdict(0.99, 0.5, true)));
        let found = judge_all(&flows);
        let summary: Vec<_> = found.iter().map(|f| (f.entity.clone(), f.src_ip, f.dst_ip, f.occurrences)).collect();
        let (victim, client) = (addr("10.10.10.10")?, addr("10.0.0.5")?);
        assert_eq!(
            summary,
            vec![
                (Entity::Destination(victim), None, Some(victim), 300),
                (Entity::Source(client), Some(client), Some(victim), 1),
            ]
        );
        assert_eq!(found[0].dst_port, Some(80));
        assert!(found[0].summary.starts_with("300 unanswered flows from several"), "{}", found[0].summary);
        Ok(())
    }

    #[test]
    fn unanswered_probes_of_one_scanner_stay_with_the_scanner() -> TestResult {
        // A horizontal scan: 50 hosts probed on port 23, nobody answers.
        let flows: Vec<_> = (0..50u64)
            .map(|i| (syn_only(i, "10.0.0.5", &format!("10.0.2.{i}"), 23, i as f64 * 0.1), verdict(0.9, 0.5, true)))
            .collect();
        let found = judge_all(&flows);
        assert_eq!(found.len(), 1);
        let scanner = addr("10.0.0.5")?;
        assert_eq!(
            (found[0].entity.clone(), found[0].src_ip, found[0].dst_ip, found[0].dst_port, found[0].occurrences),
            (Entity::Source(scanner), Some(scanner), None, Some(23), 50)
        );
        Ok(())
    }

    #[test]
    fn answered_or_multicast_outliers_of_several_sources_stay_apart() -> TestResult {
        // Two clients of one server, answered; two hosts announcing to an mDNS group, which answers nobody.
        let mdns = |id, src: &str| {
            let flow = with_orig(flow(id, UDP, src, "224.0.0.251", 5353, 2.0, 0), 1, 120, 0);
            (flow, verdict(0.9, 0.5, true))
        };
        let flows = vec![
            (tcp_session(1, "10.0.0.5", "10.0.0.80", 80, 0.0, 900, 9_000), verdict(0.9, 0.5, true)),
            (tcp_session(2, "10.0.0.6", "10.0.0.80", 80, 1.0, 900, 9_000), verdict(0.9, 0.5, true)),
            mdns(3, "10.0.0.7"),
            mdns(4, "10.0.0.8"),
        ];
        let sources: Vec<_> = judge_all(&flows).iter().map(|f| (f.entity.clone(), f.occurrences)).collect();
        let expected: Vec<_> = ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"]
            .into_iter()
            .map(|text| addr(text).map(|ip| (Entity::Source(ip), 1)))
            .collect::<Result<_, _>>()?;
        assert_eq!(sources, expected);
        Ok(())
    }

    #[test]
    fn warm_up_verdicts_are_counted_in_the_evidence() {
        let warm = |id, start_s| {
            let flow = tcp_session(id, "10.0.0.5", "203.0.113.9", 443, start_s, 900, 9_000);
            (flow, MlVerdict { warm_up: true, ..verdict(0.97, 0.5, true) })
        };
        let settled = (tcp_session(3, "10.0.0.5", "203.0.113.9", 443, 30.0, 900, 9_000), verdict(0.98, 0.5, true));
        let found = judge_all(&[warm(1, 0.0), warm(2, 1.0), settled]);
        assert_eq!(found.len(), 1);
        let Evidence::MlOutlier { warm_up_flows, .. } = found[0].evidence else {
            panic!("not an ml_outlier evidence: {:?}", found[0].evidence)
        };
        assert_eq!((warm_up_flows, found[0].occurrences), (2, 3));
        assert!(found[0].summary.ends_with("; 2 scored during warm-up on flow features alone"), "{}", found[0].summary);
        // With no warm-up flow the summary says nothing about it.
        let plain =
            judge_all(&[(tcp_session(4, "10.0.0.5", "203.0.113.9", 443, 0.0, 900, 9_000), verdict(0.9, 0.5, true))]);
        assert!(!plain[0].summary.contains("warm-up"), "{}", plain[0].summary);
    }

    #[test]
    fn distance_beyond_training_is_measured_in_tail_widths() -> Result<(), models::calibration::CalibrationError> {
        // Training scores 0..=100: median 50, 0.9-quantile 90, maximum 100.
        let scores: Vec<f64> = (0..=100).map(f64::from).collect();
        let calibration = Calibration::fit(&scores, 0.9)?;
        let tail_widths: Vec<f64> =
            [95.0, 100.0, 105.0, 110.0, 130.0].iter().map(|s| beyond_training(&calibration, *s)).collect();
        assert_eq!(tail_widths, vec![-0.5, 0.0, 0.5, 1.0, 3.0]);
        // Threshold at the maximum: the tail is measured from the median instead.
        let at_max = Calibration::fit(&scores, 1.0)?;
        assert_eq!(beyond_training(&at_max, 125.0), 0.5);
        Ok(())
    }
}
