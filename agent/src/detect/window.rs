//! Counters over a sliding window without keeping every sample: a current
//! fixed-length bucket plus the previous one, weighted by how much of it
//! still lies inside the window ending now (the approximation rate limiters
//! use). An attack straddling a bucket boundary is not split in two.

use std::time::Duration;

use crate::{duration::saturating_ns, event::Severity};

#[derive(Clone, Debug, Default)]
pub struct SlidingWindow<T> {
    len_ns: u64,
    bucket_start_ns: u64,
    current: T,
    previous: T,
}

/// A window's two buckets as seen at one moment.
#[derive(Clone, Copy, Debug)]
pub struct WindowView<'a, T> {
    pub current: &'a T,
    pub previous: &'a T,
    /// Share of the previous bucket still inside the window, in [0, 1].
    pub previous_weight: f64,
}

impl<T> WindowView<'_, T> {
    /// `field` over the whole window.
    pub fn sum(&self, field: impl Fn(&T) -> f64) -> f64 {
        field(self.current) + field(self.previous) * self.previous_weight
    }

    /// A distinct count over the window, never counting one item twice: the
    /// larger of the current bucket's and the weighted previous bucket's.
    pub fn distinct(&self, field: impl Fn(&T) -> f64) -> f64 {
        field(self.current).max(field(self.previous) * self.previous_weight)
    }

    /// When what the window holds started: the earlier of the two buckets'
    /// `first`, the previous bucket's only while part of it is still in the
    /// window. Buckets are filled by when flows end, so a long flow ending in
    /// the current bucket can have started before anything in the previous one.
    pub fn first_ns(&self, first: impl Fn(&T) -> Option<u64>) -> Option<u64> {
        let previous = if self.previous_weight > 0.0 { first(self.previous) } else { None };
        match (previous, first(self.current)) {
            (Some(previous), Some(current)) => Some(previous.min(current)),
            (previous, current) => previous.or(current),
        }
    }
}

impl<T: Default> SlidingWindow<T> {
    pub fn new(len: Duration, now_ns: u64) -> Self {
        Self {
            len_ns: saturating_ns(len).max(1),
            bucket_start_ns: now_ns,
            current: T::default(),
            previous: T::default(),
        }
    }

    /// The current bucket at `now_ns`, after moving the window forward.
    /// Samples older than the current bucket (records arrive in end-time
    /// order only per poll) are added to it rather than dropped.
    pub fn at(&mut self, now_ns: u64) -> &mut T {
        let elapsed = now_ns.saturating_sub(self.bucket_start_ns);
        if elapsed >= self.len_ns {
            self.previous = if elapsed < 2 * self.len_ns { std::mem::take(&mut self.current) } else { T::default() };
            self.current = T::default();
            self.bucket_start_ns = now_ns - elapsed % self.len_ns;
        }
        &mut self.current
    }

    pub fn view(&self, now_ns: u64) -> WindowView<'_, T> {
        let into_bucket = now_ns.saturating_sub(self.bucket_start_ns) as f64 / self.len_ns as f64;
        WindowView { current: &self.current, previous: &self.previous, previous_weight: (1.0 - into_bucket).max(0.0) }
    }

    pub fn len_ns(&self) -> u64 {
        self.len_ns
    }

    pub fn len_secs(&self) -> f64 {
        self.len_ns as f64 / 1e9
    }
}

/// When a condition that holds over a window is reported: when it first
/// holds, then once per window length while it keeps holding (each report
/// is one occurrence), and at once when its severity rises.
#[derive(Clone, Copy, Debug, Default)]
pub struct Refire {
    last: Option<(u64, Severity)>,
}

impl Refire {
    pub fn should_fire(&mut self, now_ns: u64, period_ns: u64, severity: Severity) -> bool {
        let due = match self.last {
            None => true,
            Some((at, reported)) => severity > reported || now_ns.saturating_sub(at) >= period_ns,
        };
        if due {
            self.last = Some((now_ns, severity));
        }
        due
    }
}

/// The share of a record's packets that falls inside a window: all of them
/// for a record shorter than the window, else the window's part of the
/// record's duration (its mean rate).
pub(crate) fn share_in(window_ns: u64, duration_ns: u64) -> f64 {
    if duration_ns > window_ns { window_ns as f64 / duration_ns as f64 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn previous_bucket_fades_as_the_window_moves() {
        let mut window: SlidingWindow<u32> = SlidingWindow::new(Duration::from_secs(10), 0);
        *window.at(SEC) += 10;
        *window.at(9 * SEC) += 10;
        let view = window.view(9 * SEC);
        assert_eq!(view.sum(|c| f64::from(*c)), 20.0);
        // 12 s: 2 s into the second bucket, 80 % of the first still counts.
        *window.at(12 * SEC) += 5;
        let view = window.view(12 * SEC);
        assert!((view.sum(|c| f64::from(*c)) - 21.0).abs() < 1e-9);
        assert!((view.distinct(|c| f64::from(*c)) - 16.0).abs() < 1e-9);
    }

    #[test]
    fn the_window_starts_in_the_previous_bucket_while_it_counts() {
        let mut window: SlidingWindow<Option<u64>> = SlidingWindow::new(Duration::from_secs(10), 0);
        *window.at(SEC) = Some(SEC);
        assert_eq!(window.view(5 * SEC).first_ns(|b| *b), Some(SEC));
        *window.at(12 * SEC) = Some(12 * SEC);
        assert_eq!(window.view(12 * SEC).first_ns(|b| *b), Some(SEC));
        // 20 s: the previous bucket has left the window.
        assert_eq!(window.view(20 * SEC).first_ns(|b| *b), Some(12 * SEC));
    }

    #[test]
    fn a_long_flow_in_the_current_bucket_can_start_the_window() {
        let mut window: SlidingWindow<Option<u64>> = SlidingWindow::new(Duration::from_secs(10), 0);
        *window.at(5 * SEC) = Some(5 * SEC);
        // A flow that began at 1 s ends at 12 s, in the next bucket.
        *window.at(12 * SEC) = Some(SEC);
        assert_eq!(window.view(12 * SEC).first_ns(|b| *b), Some(SEC));
    }

    #[test]
    fn refire_once_per_window_or_on_escalation() {
        let mut refire = Refire::default();
        let period = 10 * SEC;
        assert!(refire.should_fire(0, period, Severity::Low));
        assert!(!refire.should_fire(5 * SEC, period, Severity::Low));
        assert!(refire.should_fire(6 * SEC, period, Severity::Medium));
        assert!(!refire.should_fire(15 * SEC, period, Severity::Low));
        assert!(refire.should_fire(16 * SEC, period, Severity::Low));
    }

    #[test]
    fn a_long_gap_forgets_everything() {
        let mut window: SlidingWindow<u32> = SlidingWindow::new(Duration::from_secs(10), 0);
        *window.at(SEC) += 10;
        *window.at(35 * SEC) += 1;
        assert_eq!(window.view(35 * SEC).sum(|c| f64::from(*c)), 1.0);
        assert_eq!(window.len_secs(), 10.0);
    }
}
