//! Traffic over time for the dashboard's graph: per-second buckets over a
//! sliding window that ends at the newest time seen, in the capture's own
//! time (so a replayed capture graphs its own timeline, not the replay's).

use std::collections::VecDeque;

/// Bytes per one-second bucket, the newest bucket last.
#[derive(Debug)]
pub struct RateSeries {
    /// Window length in seconds (buckets kept).
    window: u64,
    /// Unix second of the newest bucket; `None` until something arrives.
    newest: Option<i64>,
    /// Fractional: a span's bytes are split between the seconds it covers.
    buckets: VecDeque<f64>,
}

impl RateSeries {
    pub fn new(window_seconds: u64) -> Self {
        let window = window_seconds.max(2);
        Self { window, newest: None, buckets: VecDeque::with_capacity(window as usize) }
    }

    pub fn window(&self) -> u64 {
        self.window
    }

    /// Spreads `bytes` evenly over `[start, end]` (Unix seconds):
    /// a flow record, or kernel counters between two stats lines, only says
    /// how much moved in that span. Parts before
    /// the window are dropped; the window moves forward to `end`.
    pub fn spread(&mut self, start: f64, end: f64, bytes: u64) {
        let end = end.max(start);
        self.advance_to(end.floor() as i64);
        let Some(newest) = self.newest else { return };
        let oldest = newest - self.buckets.len() as i64 + 1;
        let span = end - start;
        if span <= 0.0 {
            self.add_at(start.floor() as i64, oldest, bytes as f64);
            return;
        }
        let first = (start.floor() as i64).max(oldest);
        for second in first..=end.floor() as i64 {
            let from = start.max(second as f64);
            let to = end.min(second as f64 + 1.0);
            let share = (to - from).max(0.0) / span;
            self.add_at(second, oldest, bytes as f64 * share);
        }
    }

    fn add_at(&mut self, second: i64, oldest: i64, bytes: f64) {
        if second < oldest {
            return;
        }
        if let Some(bucket) = self.buckets.get_mut((second - oldest) as usize) {
            *bucket += bytes;
        }
    }

    /// Moves the window so its newest bucket is `second`, never backwards.
    fn advance_to(&mut self, second: i64) {
        let newest = match self.newest {
            None => {
                // A full window of empty seconds, so the first flow's own
                // earlier seconds fit in it.
                self.newest = Some(second);
                self.buckets.resize(self.window as usize, 0.0);
                return;
            }
            Some(newest) if second <= newest => return,
            Some(newest) => newest,
        };
        let steps = ((second - newest) as u64).min(self.window);
        for _ in 0..steps {
            if self.buckets.len() as u64 == self.window {
                self.buckets.pop_front();
            }
            self.buckets.push_back(0.0);
        }
        self.newest = Some(second);
    }

    /// `(seconds before the newest bucket, bytes in it)`, oldest first; the
    /// newest bucket is still filling, so the graph shows it but it reads low.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let count = self.buckets.len();
        self.buckets.iter().enumerate().map(move |(i, b)| (i as f64 - (count as f64 - 1.0), *b))
    }

    pub fn newest(&self) -> Option<i64> {
        self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(series: &RateSeries) -> Vec<f64> {
        series.points().map(|(_, bytes)| bytes).collect()
    }

    #[test]
    fn a_flow_is_spread_over_the_seconds_it_spans() {
        let mut series = RateSeries::new(10);
        series.spread(100.5, 102.5, 400);
        assert_eq!(series.newest(), Some(102));
        let mut expected = vec![0.0; 7];
        expected.extend([100.0, 200.0, 100.0]);
        assert_eq!(bytes(&series), expected);
        series.spread(103.0, 103.0, 50);
        expected.remove(0);
        expected.push(50.0);
        assert_eq!(bytes(&series), expected);
    }

    #[test]
    fn the_window_keeps_only_its_length_and_never_moves_back() {
        let mut series = RateSeries::new(3);
        for second in 0..5 {
            series.spread(second as f64, second as f64 + 0.5, 10);
        }
        assert_eq!(bytes(&series), vec![10.0, 10.0, 10.0]);
        series.spread(3.2, 3.4, 5);
        assert_eq!(bytes(&series), vec![10.0, 15.0, 10.0]);
        series.spread(0.0, 0.5, 1000);
        assert_eq!(bytes(&series), vec![10.0, 15.0, 10.0], "older than the window");
        let offsets: Vec<f64> = series.points().map(|(x, _)| x).collect();
        assert_eq!(offsets, vec![-2.0, -1.0, 0.0]);
    }

    #[test]
    fn a_long_jump_clears_the_window() {
        let mut series = RateSeries::new(4);
        series.spread(10.0, 10.0, 7);
        series.spread(1000.0, 1000.0, 9);
        assert_eq!(bytes(&series), vec![0.0, 0.0, 0.0, 9.0]);
    }

    #[test]
    fn spreading_conserves_what_falls_inside_the_window() {
        let mut series = RateSeries::new(60);
        series.spread(10.0, 10.0, 0);
        series.spread(10.25, 13.75, 350);
        let total: f64 = bytes(&series).iter().sum();
        assert!((total - 350.0).abs() < 1e-9, "{total}");
    }
}
