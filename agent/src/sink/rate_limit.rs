//! Warnings about repeated losses, at most one per interval, each saying how
//! many happened since the previous one.

use std::time::{Duration, Instant};

/// How often a sink warns about the same kind of loss.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct RateLimitedWarning {
    interval: Duration,
    last_warned: Option<Instant>,
    unreported: u64,
}

impl RateLimitedWarning {
    pub(crate) fn new(interval: Duration) -> Self {
        Self { interval, last_warned: None, unreported: 0 }
    }

    /// Counts one occurrence. Returns the occurrences since the last warning
    /// when it is time to warn (always for the first one), `None` otherwise.
    pub(crate) fn record(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        let due = self.last_warned.is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last_warned = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

impl Default for RateLimitedWarning {
    fn default() -> Self {
        Self::new(WARN_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_first_then_once_per_interval_with_the_count_since() {
        let start = Instant::now();
        let mut warning = RateLimitedWarning::new(Duration::from_secs(10));
        assert_eq!(warning.record(start), Some(1));
        assert_eq!(warning.record(start + Duration::from_secs(1)), None);
        assert_eq!(warning.record(start + Duration::from_secs(9)), None);
        assert_eq!(warning.record(start + Duration::from_secs(10)), Some(3));
        assert_eq!(warning.record(start + Duration::from_secs(11)), None);
        assert_eq!(warning.record(start + Duration::from_secs(25)), Some(2));
    }
}
