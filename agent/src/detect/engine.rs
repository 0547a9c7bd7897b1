//! The detection engine: every flow record through every enabled detector,
//! findings through suppression, events out.

use std::collections::BTreeSet;

use models::FlowObservation;
use serde::Serialize;

use super::{
    baseline::{BaselineError, TrafficBaseline},
    beaconing::BeaconingDetector,
    config::{ConfigError, DetectorsConfig},
    detector::RuleDetector,
    dns_tunnel::DnsTunnelDetector,
    exfiltration::ExfiltrationDetector,
    facts::{FlowFacts, RecordSequence},
    finding::Finding,
    flood::FloodDetector,
    geo::{GeoConfig, GeoDetector, GeoLookup},
    ml_outlier::{MlOutliers, MlVerdict},
    networks::Networks,
    port_scan::PortScanDetector,
    rare_protocol::RareProtocolDetector,
    suppress::Suppressor,
};
use crate::{
    clock::Clock,
    event::{EVENT_SCHEMA_VERSION, Event, Timestamp},
};

/// How often (in source time) idle state is dropped and suppression
/// windows that ended are closed.
const HOUSEKEEPING_NS: u64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
}

/// Load of one detector's state tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetectorLoad {
    pub detector: &'static str,
    /// Entities tracked now.
    pub tracked: u64,
    /// Entities forgotten because a table was full (their partial evidence
    /// was lost); 0 unless `limits.max_entities` is too small for the traffic.
    pub evicted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetectorStats {
    pub flows: u64,
    pub findings: u64,
    pub events: u64,
    /// Findings held back as repeats (each counted in some event's `occurrences`).
    pub suppressed: u64,
    pub detectors: Vec<DetectorLoad>,
}

type GeoBaseline = (BTreeSet<String>, BTreeSet<u32>);

pub struct DetectionEngine {
    clock: Clock,
    networks: Networks,
    sequence: RecordSequence,
    /// The enabled detectors (the model-outlier gatherer among them), in the
    /// order they see each flow.
    detectors: Vec<Box<dyn RuleDetector>>,
    /// What the geo detector is built from once a lookup is given.
    geo_setup: Option<(GeoConfig, Option<GeoBaseline>)>,
    suppressor: Suppressor,
    findings: Vec<Finding>,
    /// Findings suppression let through, each standing for its `occurrences`.
    admitted: Vec<Finding>,
    next_event_id: u64,
    now_ns: u64,
    housekeeping_ns: u64,
    flows: u64,
    found: u64,
    emitted: u64,
}

impl DetectionEngine {
    /// Detectors from `config`; `clock` turns flow times into event times;
    /// `baseline` (from the model file) sets what normal is. Without one,
    /// rare_protocol and geo learn during their warm-up and flood,
    /// exfiltration and dns_tunnel use their absolute thresholds. The geo
    /// detector needs a lookup: see [`DetectionEngine::with_geo`].
    pub fn new(config: DetectorsConfig, clock: Clock, baseline: Option<TrafficBaseline>) -> Result<Self, EngineError> {
        config.validate()?;
        if let Some(baseline) = &baseline {
            baseline.check(&config)?;
        }
        let limits = &config.limits.clone();
        let known = baseline.is_some();
        let parts = baseline.map(TrafficBaseline::into_parts).unwrap_or_default();
        let c = config;
        let mut detectors: Vec<Box<dyn RuleDetector>> = Vec::new();
        if c.port_scan.enabled {
            detectors.push(Box::new(PortScanDetector::new(c.port_scan.clone(), limits)));
        }
        if c.flood.enabled {
            detectors.push(Box::new(FloodDetector::new(c.flood.clone(), limits, parts.destinations)));
        }
        if c.exfiltration.enabled {
            detectors.push(Box::new(ExfiltrationDetector::new(c.exfiltration.clone(), limits, parts.bytes_out)));
        }
        if c.beaconing.enabled {
            detectors.push(Box::new(BeaconingDetector::new(c.beaconing.clone(), limits)));
        }
        if c.dns_tunnel.enabled {
            detectors.push(Box::new(DnsTunnelDetector::new(c.dns_tunnel.clone(), limits, parts.dns)));
        }
        if c.rare_protocol.enabled {
            let services = known.then_some(parts.services);
            detectors.push(Box::new(RareProtocolDetector::new(c.rare_protocol.clone(), limits, services)));
        }
        if c.ml_outlier.enabled {
            detectors.push(Box::new(MlOutliers::new(&c.ml_outlier, limits.capacity().get())));
        }
        Ok(Self {
            clock,
            networks: Networks::new(c.internal_networks.clone()),
            sequence: RecordSequence::default(),
            detectors,
            geo_setup: c.geo.enabled.then(|| (c.geo.clone(), known.then_some((parts.countries, parts.asns)))),
            suppressor: Suppressor::new(&c.suppression),
            findings: Vec::new(),
            admitted: Vec::new(),
            next_event_id: 1,
            now_ns: 0,
            housekeeping_ns: 0,
            flows: 0,
            found: 0,
            emitted: 0,
        })
    }

    /// Turns the geo detector on with `lookup` (if the configuration enables it).
    pub fn with_geo(mut self, lookup: Box<dyn GeoLookup + Send>) -> Self {
        if let Some((config, baseline)) = self.geo_setup.take() {
            self.detectors.push(Box::new(GeoDetector::new(config, lookup, baseline)));
        }
        self
    }

    /// One flow record (in capture-time order per poll), with the model's
    /// verdict on it if a model scored it. Returns the events it completes.
    pub fn observe(&mut self, flow: &FlowObservation, ml: Option<&MlVerdict>) -> Vec<Event> {
        self.flows += 1;
        let first = self.sequence.is_first(flow);
        let facts = FlowFacts::new(flow, first, &self.networks).with_verdict(ml);
        self.now_ns = self.now_ns.max(facts.now_ns);
        let out = &mut self.findings;
        for detector in &mut self.detectors {
            detector.observe(&facts, out);
        }
        let now = self.now_ns;
        self.admit_findings(now);
        if now.saturating_sub(self.housekeeping_ns) >= HOUSEKEEPING_NS {
            self.housekeeping(now);
        }
        self.events()
    }

    /// Moves time forward to `now_ns` (source time) without a flow: drops
    /// idle state and emits the repeats of suppression windows that ended.
    /// Call it at each poll so quiet periods close their windows on time.
    pub fn advance(&mut self, now_ns: u64) -> Vec<Event> {
        self.now_ns = self.now_ns.max(now_ns);
        self.housekeeping(self.now_ns);
        self.events()
    }

    /// End of input: every repeat still held back is emitted.
    pub fn finish(&mut self) -> Vec<Event> {
        self.admit_deferred(u64::MAX);
        self.suppressor.finish(&mut self.admitted);
        self.events()
    }

    pub fn stats(&self) -> DetectorStats {
        let load = |detector, tracked: usize, evicted| DetectorLoad { detector, tracked: tracked as u64, evicted };
        let mut detectors: Vec<DetectorLoad> =
            self.detectors.iter().map(|d| load(d.name(), d.tracked(), d.evicted())).collect();
        detectors.push(load("suppression", self.suppressor.tracked(), 0));
        DetectorStats {
            flows: self.flows,
            findings: self.found,
            events: self.emitted,
            suppressed: self.suppressor.suppressed(),
            detectors,
        }
    }

    fn housekeeping(&mut self, now: u64) {
        self.housekeeping_ns = now;
        for detector in &mut self.detectors {
            detector.expire(now);
        }
        self.admit_deferred(now);
        self.suppressor.expire(now, &mut self.admitted);
    }

    /// Findings the detectors held back that are due at `now`, through suppression.
    fn admit_deferred(&mut self, now: u64) {
        for detector in &mut self.detectors {
            detector.deferred(now, &mut self.findings);
        }
        // `now` is u64::MAX at the end of input; suppression windows run on flow time.
        self.admit_findings(now.min(self.now_ns));
    }

    /// The detectors' new findings, counted and through suppression at source time `now`.
    fn admit_findings(&mut self, now: u64) {
        self.found += self.findings.len() as u64;
        for finding in self.findings.drain(..) {
            self.suppressor.admit(finding, now, &mut self.admitted);
        }
    }

    fn events(&mut self) -> Vec<Event> {
        let mut events = Vec::with_capacity(self.admitted.len());
        for admitted in self.admitted.drain(..) {
            events.push(to_event(admitted, self.next_event_id, &self.clock));
            self.next_event_id += 1;
        }
        self.emitted += events.len() as u64;
        events
    }
}

fn to_event(finding: Finding, event_id: u64, clock: &Clock) -> Event {
    Event {
        record_type: "event",
        schema_version: EVENT_SCHEMA_VERSION,
        kind: finding.kind,
        event_id,
        severity: finding.severity,
        score: finding.score,
        summary: finding.summary,
        src_ip: finding.src_ip,
        src_port: finding.src_port,
        dst_ip: finding.dst_ip,
        dst_port: finding.dst_port,
        proto: finding.proto,
        first_seen: Timestamp(clock.to_epoch_ns(finding.first_ns)),
        last_seen: Timestamp(clock.to_epoch_ns(finding.last_ns)),
        occurrences: finding.occurrences,
        evidence: finding.evidence,
        flows: finding.flows.refs,
        flows_total: finding.flows.total,
        remote: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        detect::{
            baseline::BaselineBuilder,
            facts::tests::{SEC, syn_only, tcp_session},
            geo::{GeoLocation, StaticGeo},
        },
        event::{AnomalyKind, FeatureContribution, Severity},
    };

    fn engine(config: DetectorsConfig) -> Result<DetectionEngine, EngineError> {
        DetectionEngine::new(config, Clock::epoch(), None)
    }

    /// A vertical scan of `ports` ports, one probe every 10 ms.
    fn scan(ports: u64) -> Vec<FlowObservation> {
        (0..ports).map(|i| syn_only(i, "172.16.0.8", "64.13.134.52", 1 + i as u16, i as f64 * 0.01)).collect()
    }

    #[test]
    fn events_are_numbered_timed_and_count_their_repeats() -> Result<(), Box<dyn std::error::Error>> {
        let mut engine = engine(DetectorsConfig::default())?;
        let mut events = Vec::new();
        for flow in scan(40) {
            events.extend(engine.observe(&flow, None));
        }
        // Decisions at 10, 14, …, 38 failures: the first passes, the rest are
        // repeats within the suppression window, except the one at 30
        // (severity medium), which escalates at once and carries the four
        // repeats before it.
        let seen: Vec<_> = events.iter().map(|e| (e.event_id, e.severity, e.occurrences)).collect();
        assert_eq!(seen, vec![(1, Severity::Low, 1), (2, Severity::Medium, 5)]);
        assert_eq!(events[0].first_seen, Timestamp(1_700_000_000 * SEC as i128));
        assert_eq!(events[0].last_seen, Timestamp(1_700_000_000 * SEC as i128 + 90_000_000));
        assert_eq!((events[0].record_type, events[0].schema_version), ("event", EVENT_SCHEMA_VERSION));
        let rest = engine.finish();
        let seen: Vec<_> = rest.iter().map(|e| (e.event_id, e.severity, e.occurrences)).collect();
        assert_eq!(seen, vec![(3, Severity::Medium, 2)]);
        let stats = engine.stats();
        assert_eq!((stats.flows, stats.findings, stats.events, stats.suppressed), (40, 8, 3, 6));
        Ok(())
    }

    #[test]
    fn advance_closes_quiet_suppression_windows() -> Result<(), Box<dyn std::error::Error>> {
        let mut engine = engine(DetectorsConfig::default())?;
        let flows = scan(14);
        let mut events = Vec::new();
        for flow in &flows {
            events.extend(engine.observe(flow, None));
        }
        assert_eq!(events.len(), 1);
        // The window opened with the first event, at the 10th probe.
        let opened = flows[9].end_ns;
        assert!(engine.advance(opened + 10 * 60 * SEC - 1).is_empty());
        let late = engine.advance(opened + 10 * 60 * SEC);
        assert_eq!(late.iter().map(|e| (e.event_id, e.occurrences)).collect::<Vec<_>>(), vec![(2, 1)]);
        assert!(engine.finish().is_empty());
        Ok(())
    }

    #[test]
    fn interim_records_of_one_connection_count_once() -> Result<(), Box<dyn std::error::Error>> {
        let mut config = DetectorsConfig::default();
        config.flood.max_connections = 2;
        let mut engine = engine(config)?;
        // One long SSH session cut into 5 interim records and a final one: one connection.
        let mut session = tcp_session(1, "10.0.0.5", "10.0.0.9", 22, 0.0, 5_000, 9_000);
        let mut events = Vec::new();
        for part in 0..6u64 {
            session.ended = part == 5;
            session.start_ns = 1_700_000_000 * SEC + part * 300 * SEC;
            session.end_ns = session.start_ns + 300 * SEC;
            events.extend(engine.observe(&session, None));
        }
        assert!(events.is_empty(), "{events:?}");
        // A second and third connection make it 3 in a minute: past the limit of 2.
        let mut flows = vec![tcp_session(2, "10.0.0.5", "10.0.0.9", 22, 1800.0, 500, 900)];
        flows.push(tcp_session(3, "10.0.0.5", "10.0.0.9", 22, 1801.0, 500, 900));
        flows.push(tcp_session(4, "10.0.0.5", "10.0.0.9", 22, 1802.0, 500, 900));
        for flow in &flows {
            events.extend(engine.observe(flow, None));
        }
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![AnomalyKind::Flood]);
        Ok(())
    }

    #[test]
    fn disabled_detectors_and_verdicts_without_a_model() -> Result<(), Box<dyn std::error::Error>> {
        let mut config = DetectorsConfig::default();
        config.port_scan.enabled = false;
        config.ml_outlier.enabled = false;
        let mut engine = engine(config)?;
        let verdict = MlVerdict {
            score: 0.95,
            threshold: 0.6,
            is_anomaly: true,
            beyond_training: 1.5,
            top_features: vec![FeatureContribution { feature: "orig_bytes".into(), value: 1e9, contribution: 0.8 }],
            warm_up: false,
        };
        let mut events = Vec::new();
        for flow in scan(40) {
            events.extend(engine.observe(&flow, Some(&verdict)));
        }
        events.extend(engine.finish());
        assert!(events.is_empty(), "{events:?}");
        assert!(engine.stats().detectors.iter().all(|d| d.detector != "port_scan"));

        let mut engine = self::engine(DetectorsConfig::default())?;
        let flow = tcp_session(1, "10.0.0.5", "203.0.113.9", 443, 0.0, 900, 9_000);
        // Gathered for a minute per source: reported when the window closes.
        assert!(engine.observe(&flow, Some(&verdict)).is_empty());
        let events = engine.advance(flow.end_ns + 60 * SEC);
        assert_eq!(events.len(), 1);
        // 1.5 tail-widths beyond training, capped at medium by default.
        assert_eq!(
            (events[0].kind, events[0].severity, events[0].score),
            (AnomalyKind::MlOutlier, Severity::Medium, 0.95)
        );
        Ok(())
    }

    #[test]
    fn geo_speaks_only_with_a_lookup() -> Result<(), Box<dyn std::error::Error>> {
        let mut config = DetectorsConfig::default();
        config.geo.deny_countries = vec!["KP".into()];
        let flow = tcp_session(1, "10.0.0.5", "175.45.176.3", 443, 0.0, 900, 9_000);
        let mut without = engine(config.clone())?;
        assert!(without.observe(&flow, None).is_empty());
        let table = StaticGeo::new(vec![(
            "175.45.176.0/22".parse()?,
            GeoLocation { country: Some("KP".into()), asn: Some(131279), is_public: true },
        )]);
        let mut with = engine(config)?.with_geo(Box::new(table));
        let events = with.observe(&flow, None);
        assert_eq!(
            events.iter().map(|e| (e.kind, e.severity)).collect::<Vec<_>>(),
            vec![(AnomalyKind::Geo, Severity::High)]
        );
        Ok(())
    }

    #[test]
    fn bad_configuration_and_a_mismatched_baseline_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let mut config = DetectorsConfig::default();
        config.port_scan.theta_benign = 1.5;
        assert!(matches!(engine(config), Err(EngineError::Config(ConfigError::Probability { .. }))));

        let baseline = BaselineBuilder::new(&DetectorsConfig::default()).build();
        let mut config = DetectorsConfig::default();
        config.dns_tunnel.window = Duration::from_secs(120);
        let refused = DetectionEngine::new(config, Clock::epoch(), Some(baseline.clone()));
        assert!(matches!(
            refused,
            Err(EngineError::Baseline(BaselineError::Window { field: "dns_tunnel.window", .. }))
        ));
        assert!(DetectionEngine::new(DetectorsConfig::default(), Clock::epoch(), Some(baseline)).is_ok());
        Ok(())
    }
}
