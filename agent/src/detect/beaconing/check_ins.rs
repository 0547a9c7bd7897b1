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

use super::BeaconingConfig;
use crate::duration::saturating_ns;

/// How alike the check-ins' payloads are, and how far apart they came.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckIns {
    pub median_payload: f64,
    /// (largest − smallest) / median payload.
    pub size_spread: f64,
    /// The shortest time between two check-ins' starts.
    pub min_gap_secs: f64,
}

/// Whether `connections`, (start in ns, payload bytes) in start order, are
/// repeated check-ins by the `checkin_*` settings of `config`. `sizes` is a
/// buffer to sort the payloads in, reused by the caller so judging
/// allocates nothing per flow.
pub fn judge(config: &BeaconingConfig, connections: &[(u64, u64)], sizes: &mut Vec<u64>) -> Option<CheckIns> {
    if connections.len() < config.checkin_min_connections.max(2) {
        return None;
    }
    let min_gap_ns = connections.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).min().unwrap_or(0);
    if min_gap_ns < saturating_ns(config.checkin_min_gap) {
        return None;
    }
    sizes.clear();
    sizes.extend(connections.iter().map(|c| c.1));
    sizes.sort_unstable();
    let (smallest, largest, median) = (sizes[0], sizes[sizes.len() - 1], sizes[sizes.len() / 2]);
    if smallest < config.checkin_min_payload.max(1) {
        return None;
    }
    let size_spread = (largest - smallest) as f64 / median as f64;
    (size_spread <= config.checkin_max_size_spread).then_some(CheckIns {
        median_payload: median as f64,
        size_spread,
        min_gap_secs: min_gap_ns as f64 / 1e9,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::facts::tests::SEC;

    /// 3 check-ins, 10 s apart, 100 payload bytes, sizes within 3 %.
    fn judge(connections: &[(u64, u64)]) -> Option<CheckIns> {
        super::judge(&BeaconingConfig::default(), connections, &mut Vec::new())
    }

    #[test]
    fn the_same_message_at_irregular_times_is_a_check_in() {
        // cryptowall4_c2: 489, 494 and 496 payload bytes at 0, 15.2 and 41.4 s.
        let cryptowall = [(0, 489), (15_172 * SEC / 1000, 494), (41_377 * SEC / 1000, 496)];
        let found = judge(&cryptowall);
        assert_eq!(found.map(|c| (c.median_payload, c.min_gap_secs)), Some((494.0, 15.172)));
        assert!(found.is_some_and(|c| (c.size_spread - 7.0 / 494.0).abs() < 1e-12));
        // Two are not a repetition; a burst is one page; different requests are browsing.
        assert_eq!(judge(&cryptowall[..2]), None);
        assert_eq!(judge(&[(0, 489), (SEC, 494), (40 * SEC, 496)]), None);
        assert_eq!(judge(&[(0, 489), (15 * SEC, 620), (40 * SEC, 496)]), None);
        // Empty connections carry no message.
        assert_eq!(judge(&[(0, 0), (15 * SEC, 0), (40 * SEC, 0)]), None);
    }
}
