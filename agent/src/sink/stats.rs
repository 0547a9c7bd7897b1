//! What each sink did with the events it was given.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::event::Severity;

/// Delivery counts of one sink. Every accepted event ends up in exactly one
/// of `delivered`, `failed`, `dropped` or `queued`, so
/// `accepted == delivered + failed + dropped + queued`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Events (or flow records, for CSV) given to the sink after level filtering.
    pub accepted: u64,
    pub delivered: u64,
    /// Gave up: a permanent error, or still failing after every retry.
    pub failed: u64,
    /// Not queued because the queue was full.
    pub dropped: u64,
    /// Extra attempts made (an event delivered on its third attempt adds 2).
    pub retries: u64,
    /// Accepted but not yet delivered or given up on. After `close`, these
    /// were still undelivered when the drain timeout ran out.
    pub queued: u64,
}

/// One sink's line in the stats report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    pub sink: &'static str,
    pub target: String,
    /// The lowest severity this sink reports (the stricter of `--alert-level`
    /// and its own level); absent for flow-record sinks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Severity>,
    #[serde(flatten)]
    pub counts: DeliveryCounts,
}

impl SinkStats {
    /// Events this sink was given and did not deliver.
    pub fn undelivered(&self) -> u64 {
        self.counts.accepted.saturating_sub(self.counts.delivered)
    }
}

/// Counters shared between a sink's front end and its worker thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::SeqCst);
    }

    pub(crate) fn failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::SeqCst);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn snapshot(&self) -> DeliveryCounts {
        // Outcomes are read before `accepted`: an event is always accepted
        // before its outcome is counted, so `queued` cannot go negative.
        let delivered = self.delivered.load(Ordering::SeqCst);
        let failed = self.failed.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        let retries = self.retries.load(Ordering::SeqCst);
        let accepted = self.accepted.load(Ordering::SeqCst);
        DeliveryCounts {
            accepted,
            delivered,
            failed,
            dropped,
            retries,
            queued: accepted.saturating_sub(delivered + failed + dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_is_what_has_no_outcome_yet() {
        let counters = Counters::default();
        for _ in 0..6 {
            counters.accepted();
        }
        counters.delivered(2);
        counters.failed(1);
        counters.dropped();
        counters.retried();
        let counts = counters.snapshot();
        assert_eq!(counts, DeliveryCounts { accepted: 6, delivered: 2, failed: 1, dropped: 1, retries: 1, queued: 2 });
    }

    #[test]
    fn stats_serialize_flat() -> Result<(), serde_json::Error> {
        let stats = SinkStats {
            sink: "webhook",
            target: "http://127.0.0.1:9/hook".to_owned(),
            level: Some(Severity::Medium),
            counts: DeliveryCounts { accepted: 3, delivered: 1, failed: 1, dropped: 1, retries: 4, queued: 0 },
        };
        assert_eq!(
            serde_json::to_string(&stats)?,
            r#"{"sink":"webhook","target":"http://127.0.0.1:9/hook","level":"medium","accepted":3,"delivered":1,"failed":1,"dropped":1,"retries":4,"queued":0}"#
        );
        assert_eq!(stats.undelivered(), 2);
        Ok(())
    }
}
