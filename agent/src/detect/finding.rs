//! What a detector reports before suppression turns it into an event.

use std::net::IpAddr;

use models::{AnomalyKind, FlowObservation};

use crate::event::{Evidence, FlowRef, MAX_FLOWS_PER_EVENT, Severity};

/// Who a finding is about; suppression is per (kind, entity).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A host acting: a scanner, a host using new services, a source of model outliers.
    Source(IpAddr),
    /// A victim: of a flood, or of a model-outlier incident whose unanswered
    /// flows came from several (possibly spoofed) sources.
    Destination(IpAddr),
    /// Traffic between two hosts (exfiltration, DNS to one resolver).
    Pair(IpAddr, IpAddr),
    /// One client of one service (beaconing, connection floods).
    Service { src: IpAddr, dst: IpAddr, proto: u8, port: u16 },
    /// A country or network a host reached.
    Region { host: IpAddr, region: String },
}

/// Up to [`MAX_FLOWS_PER_EVENT`] flows a finding stands on, and how many there were.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowSample {
    pub refs: Vec<FlowRef>,
    pub total: u64,
    /// The flow counted last, so its next interim record is not counted again.
    last_flow_id: Option<u64>,
}

impl FlowSample {
    pub fn new(refs: Vec<FlowRef>, total: u64) -> Self {
        Self { refs, total, last_flow_id: None }
    }

    pub fn of(flow: &FlowObservation) -> Self {
        let mut sample = Self::default();
        sample.add(flow);
        sample
    }

    /// Counts the flow; keeps its key while there is room (the first ones
    /// are kept: they show how it started). A long flow's interim records
    /// share one key and are listed once.
    pub fn add(&mut self, flow: &FlowObservation) {
        if self.last_flow_id == Some(flow.flow_id) {
            return;
        }
        self.last_flow_id = Some(flow.flow_id);
        self.total += 1;
        if self.refs.len() < MAX_FLOWS_PER_EVENT {
            self.refs.push(FlowRef::of(flow));
        }
    }
}

/// One detection, in the source's time base.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: AnomalyKind,
    pub entity: Entity,
    pub severity: Severity,
    pub score: f64,
    pub summary: String,
    pub src_ip: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_ip: Option<IpAddr>,
    pub dst_port: Option<u16>,
    pub proto: Option<u8>,
    pub first_ns: u64,
    pub last_ns: u64,
    pub evidence: Evidence,
    pub flows: FlowSample,
    /// Detections this finding stands for: 1, or how many a detector
    /// gathered into one incident (new services of a host, model outliers
    /// of a source). Suppression adds these up into an event's `occurrences`.
    pub occurrences: u64,
}

/// The shared severity rule: how far past its threshold a measurement is.
/// Below 3× the threshold is `low`, below 10× `medium`, from 10× `high`
/// (an order of magnitude past a documented threshold is rarely benign).
pub fn severity_for_ratio(ratio: f64) -> Severity {
    if ratio >= 10.0 {
        Severity::High
    } else if ratio >= 3.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Maps "how many times the threshold" onto [0, 1): 1× → 0.5, 3× → 0.75,
/// 10× → 0.91, so scores of different detectors compare by the same rule.
pub fn score_for_ratio(ratio: f64) -> f64 {
    let ratio = ratio.max(0.0);
    ratio / (1.0 + ratio)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::tests::syn_only;

    #[test]
    fn severity_and_score_follow_the_ratio() {
        assert_eq!(severity_for_ratio(1.0), Severity::Low);
        assert_eq!(severity_for_ratio(2.99), Severity::Low);
        assert_eq!(severity_for_ratio(3.0), Severity::Medium);
        assert_eq!(severity_for_ratio(10.0), Severity::High);
        assert_eq!(score_for_ratio(1.0), 0.5);
        assert_eq!(score_for_ratio(3.0), 0.75);
        assert_eq!(score_for_ratio(-1.0), 0.0);
    }

    #[test]
    fn sample_keeps_the_first_keys_and_counts_all() {
        let mut sample = FlowSample::default();
        for id in 0..40 {
            sample.add(&syn_only(id, "10.0.0.1", "10.0.0.2", 1000 + id as u16, 0.0));
        }
        // A repeated record of the last flow is not a new flow.
        sample.add(&syn_only(39, "10.0.0.1", "10.0.0.2", 1039, 0.0));
        assert_eq!(sample.total, 40);
        assert_eq!(sample.refs.len(), MAX_FLOWS_PER_EVENT);
        assert_eq!(sample.refs[0].dst_port, 1000);
        assert_eq!(sample.refs[15].flow_id, 15);
    }
}
