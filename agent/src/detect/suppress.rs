//! Suppression: the same kind for the same entity is not re-alerted within
//! a window. Repeats inside the window are counted, not dropped: the next
//! event for that entity carries them in its `occurrences`; when the
//! window ends with repeats not yet reported, one event standing for them
//! is emitted (at the next [`Suppressor::expire`], or at [`Suppressor::finish`]).
//! A repeat with a higher severity than the last event is reported at once.

use std::{num::NonZeroUsize, time::Duration};

use lru::LruCache;
use models::AnomalyKind;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use super::finding::{Entity, Finding};
use crate::{duration::saturating_ns, event::Severity};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuppressionConfig {
    /// 10 min: an ongoing incident produces one event per ten minutes per
    /// entity (with its repeat count), few enough to read, often enough to
    /// see that it goes on.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// (kind, entity) pairs remembered. 65,536; when full, the least
    /// recently alerted one is forgotten after its pending repeats are
    /// emitted, so nothing is lost, only possibly alerted again.
    pub max_entities: usize,
}

impl Default for SuppressionConfig {
    fn default() -> Self {
        Self { window: Duration::from_secs(600), max_entities: 65_536 }
    }
}

#[derive(Debug)]
struct Slot {
    /// When the last event was let through (source time): the window's start.
    emitted_ns: u64,
    emitted_severity: Severity,
    /// Repeats since the last event, as one finding: the latest, stretched
    /// back to the first repeat, its `occurrences` summing theirs.
    pending: Option<Finding>,
}

type Key = (AnomalyKind, Entity);

pub struct Suppressor {
    window_ns: u64,
    slots: LruCache<Key, Slot, FxBuildHasher>,
    suppressed: u64,
}

impl Suppressor {
    pub fn new(config: &SuppressionConfig) -> Self {
        Self {
            window_ns: saturating_ns(config.window),
            slots: LruCache::with_hasher(
                NonZeroUsize::new(config.max_entities).unwrap_or(NonZeroUsize::MIN),
                FxBuildHasher,
            ),
            suppressed: 0,
        }
    }

    /// Lets `finding` through (into `out`) or counts it as a repeat, at
    /// source time `now_ns`. What comes out carries in `occurrences` the
    /// repeats it stands for.
    pub fn admit(&mut self, finding: Finding, now_ns: u64, out: &mut Vec<Finding>) {
        let key = (finding.kind, finding.entity.clone());
        if let Some(slot) = self.slots.get_mut(&key) {
            let window_over = now_ns.saturating_sub(slot.emitted_ns) >= self.window_ns;
            let severity = finding.severity;
            // The held repeats and this finding, as one.
            let merged = match slot.pending.take() {
                Some(held) => Finding {
                    first_ns: held.first_ns.min(finding.first_ns),
                    occurrences: held.occurrences + finding.occurrences,
                    ..finding
                },
                None => finding,
            };
            if window_over || severity > slot.emitted_severity {
                *slot = Slot { emitted_ns: now_ns, emitted_severity: severity, pending: None };
                out.push(merged);
            } else {
                self.suppressed += 1;
                slot.pending = Some(merged);
            }
            return;
        }
        let slot = Slot { emitted_ns: now_ns, emitted_severity: finding.severity, pending: None };
        if let Some((_, evicted)) = self.slots.push(key, slot) {
            out.extend(evicted.pending);
        }
        out.push(finding);
    }

    /// Ends the windows that are over at `now_ns`: their pending repeats are
    /// emitted and the entity starts afresh.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Finding>) {
        let over: Vec<Key> = self
            .slots
            .iter()
            .filter(|(_, slot)| now_ns.saturating_sub(slot.emitted_ns) >= self.window_ns)
            .map(|(key, _)| key.clone())
            .collect();
        for key in over {
            if let Some(slot) = self.slots.pop(&key) {
                out.extend(slot.pending);
            }
        }
    }

    /// Emits every pending repeat (end of input).
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        while let Some((_, slot)) = self.slots.pop_lru() {
            out.extend(slot.pending);
        }
    }

    /// Repeats held back so far (each is in some event's `occurrences`).
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    pub fn tracked(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::{
        detect::finding::FlowSample,
        event::{Evidence, ScanPattern},
    };

    const MIN: u64 = 60_000_000_000;

    fn scan(src: &str, at_min: u64, severity: Severity) -> Finding {
        let src: IpAddr = src.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Finding {
            kind: AnomalyKind::PortScan,
            entity: Entity::Source(src),
            severity,
            score: 0.5,
            summary: String::new(),
            src_ip: Some(src),
            src_port: None,
            dst_ip: None,
            dst_port: None,
            proto: None,
            first_ns: at_min * MIN,
            last_ns: at_min * MIN,
            evidence: Evidence::PortScan {
                pattern: ScanPattern::Vertical,
                distinct_ports: at_min,
                distinct_hosts: 1,
                attempts: 0,
                failed: 0,
                log_likelihood_ratio: None,
                window_secs: None,
            },
            flows: FlowSample::default(),
            occurrences: 1,
        }
    }

    fn occurrences(out: &[Finding]) -> Vec<(u64, u64, u64)> {
        out.iter().map(|f| (f.first_ns / MIN, f.last_ns / MIN, f.occurrences)).collect()
    }

    #[test]
    fn repeats_are_counted_into_the_next_event() {
        let mut s = Suppressor::new(&SuppressionConfig::default());
        let mut out = Vec::new();
        for minute in [0, 1, 2, 3, 12] {
            s.admit(scan("10.0.0.1", minute, Severity::Low), minute * MIN, &mut out);
        }
        // Minute 0 passes; 1–3 are held; 12 is past the window and carries them.
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (1, 12, 4)]);
        assert_eq!(s.suppressed(), 3);
    }

    #[test]
    fn a_quiet_window_emits_what_it_held_and_finish_emits_the_rest() {
        let mut s = Suppressor::new(&SuppressionConfig::default());
        let mut out = Vec::new();
        s.admit(scan("10.0.0.1", 0, Severity::Low), 0, &mut out);
        s.admit(scan("10.0.0.1", 2, Severity::Low), 2 * MIN, &mut out);
        s.admit(scan("10.0.0.1", 4, Severity::Low), 4 * MIN, &mut out);
        s.admit(scan("10.0.0.2", 5, Severity::Low), 5 * MIN, &mut out);
        s.admit(scan("10.0.0.2", 6, Severity::Low), 6 * MIN, &mut out);
        s.expire(9 * MIN, &mut out);
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (5, 5, 1)]);
        s.expire(10 * MIN, &mut out);
        // 10.0.0.1's window (from minute 0) is over: its two repeats come out as one event.
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (5, 5, 1), (2, 4, 2)]);
        s.finish(&mut out);
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (5, 5, 1), (2, 4, 2), (6, 6, 1)]);
        assert_eq!(s.tracked(), 0);
    }

    #[test]
    fn escalation_passes_at_once_and_entities_are_separate() {
        let mut s = Suppressor::new(&SuppressionConfig::default());
        let mut out = Vec::new();
        s.admit(scan("10.0.0.1", 0, Severity::Low), 0, &mut out);
        s.admit(scan("10.0.0.1", 1, Severity::Low), MIN, &mut out);
        s.admit(scan("10.0.0.1", 2, Severity::High), 2 * MIN, &mut out);
        s.admit(scan("10.0.0.9", 2, Severity::Low), 2 * MIN, &mut out);
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (1, 2, 2), (2, 2, 1)]);
        assert_eq!(out[1].severity, Severity::High);
    }

    #[test]
    fn a_full_table_emits_what_it_forgets() {
        let config = SuppressionConfig { max_entities: 1, ..SuppressionConfig::default() };
        let mut s = Suppressor::new(&config);
        let mut out = Vec::new();
        s.admit(scan("10.0.0.1", 0, Severity::Low), 0, &mut out);
        s.admit(scan("10.0.0.1", 1, Severity::Low), MIN, &mut out);
        s.admit(scan("10.0.0.2", 2, Severity::Low), 2 * MIN, &mut out);
        assert_eq!(occurrences(&out), vec![(0, 0, 1), (1, 1, 1), (2, 2, 1)]);
    }
}
