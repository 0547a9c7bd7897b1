//! Sparse check-ins: too few connections for the regularity score, but
//! each one the same message.
//!
//! Malware that checks in with its server on demand or after long sleeps
//! (CryptoWall's POSTs to its gate script) makes a handful of connections
//! at irregular times, each sending a request of one fixed format whose
//! size varies by a few bytes of identifiers. Interval statistics mean
//! nothing over two or three intervals; the repeated identical message
//! does. Requests of a browsing session to one server differ in paths and
//! cookies by far more, and come in bursts of parallel connections.
//!
//! The size compared is the payload: wire bytes less one header per packet
//! (the smallest frame, a bare acknowledgement). A check-in that downloads
//! a large answer acknowledges it with many header-only segments, which
//! would otherwise make the same request look far bigger.

use std::time::Duration;

/// What makes a run of connections repeated check-ins (see `BeaconingConfig`).
#[derive(Clone, Copy, Debug)]
pub struct CheckInRule {
    pub min_connections: usize,
    pub min_gap: Duration,
    pub min_payload: u64,
    pub max_size_spread: f64,
}

/// How alike the check-ins' payloads are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckIns {
    pub median_payload: f64,
    /// (largest − smallest) / median payload.
    pub size_spread: f64,
}

impl CheckInRule {
    /// `connections`: (start in ns, payload bytes), in start order.
    pub fn judge(&self, connections: &[(u64, u64)]) -> Option<CheckIns> {
        if connections.len() < self.min_connections.max(2) {
            return None;
        }
        let gap_ns = u64::try_from(self.min_gap.as_nanos()).unwrap_or(u64::MAX);
        if connections.windows(2).any(|w| w[1].0.saturating_sub(w[0].0) < gap_ns) {
            return None;
        }
        let mut sizes: Vec<u64> = connections.iter().map(|c| c.1).collect();
        sizes.sort_unstable();
        let (smallest, largest, median) = (sizes[0], sizes[sizes.len() - 1], sizes[sizes.len() / 2]);
        if smallest < self.min_payload.max(1) {
            return None;
        }
        let size_spread = (largest - smallest) as f64 / median as f64;
        (size_spread <= self.max_size_spread).then_some(CheckIns { median_payload: median as f64, size_spread })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::tests::SEC;

    fn rule() -> CheckInRule {
        CheckInRule { min_connections: 3, min_gap: Duration::from_secs(10), min_payload: 100, max_size_spread: 0.03 }
    }

    #[test]
    fn the_same_message_at_irregular_times_is_a_check_in() {
        // cryptowall4_c2: 489, 494 and 496 payload bytes at 0, 15.2 and 41.4 s.
        let cryptowall = [(0, 489), (15_172 * SEC / 1000, 494), (41_377 * SEC / 1000, 496)];
        let found = rule().judge(&cryptowall);
        assert_eq!(found.map(|c| c.median_payload), Some(494.0));
        assert!(found.is_some_and(|c| (c.size_spread - 7.0 / 494.0).abs() < 1e-12));
        // Two are not a repetition; a burst is one page; different requests are browsing.
        assert_eq!(rule().judge(&cryptowall[..2]), None);
        assert_eq!(rule().judge(&[(0, 489), (SEC, 494), (40 * SEC, 496)]), None);
        assert_eq!(rule().judge(&[(0, 489), (15 * SEC, 620), (40 * SEC, 496)]), None);
        // Empty connections carry no message.
        assert_eq!(rule().judge(&[(0, 0), (15 * SEC, 0), (40 * SEC, 0)]), None);
    }
}
