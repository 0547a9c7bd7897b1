//! Robust statistics of small samples (beacon intervals and sizes), and
//! distinct counting with bounded memory.

use std::hash::{BuildHasher, DefaultHasher, Hash};

use cardinality_estimator::CardinalityEstimator;
use foldhash::quality::FixedState;

/// Distinct items: exact up to a few dozen, then HyperLogLog++ with 2^10
/// five-bit registers (640 bytes, ≈3 % standard error).
///
/// Items are hashed with foldhash's quality hasher (a fixed seed, so runs
/// are reproducible): like SipHash it spreads small keys (ports, addresses)
/// over the high bits HyperLogLog reads, at a fraction of SipHash's cost,
/// which matters because every flow of a spoofed flood inserts one.
#[derive(Clone, Debug)]
pub struct Distinct<T: Hash> {
    // The estimator's own hasher is never used: items come in as hashes.
    estimator: CardinalityEstimator<T, DefaultHasher, 10, 5>,
}

impl<T: Hash> Distinct<T> {
    pub fn new() -> Self {
        Self { estimator: CardinalityEstimator::new() }
    }

    pub fn insert(&mut self, item: &T) {
        const HASHER: FixedState = FixedState::with_seed(0x5eed_f10e_a7c4_d15c);
        self.estimator.insert_hash(HASHER.hash_one(item));
    }

    pub fn estimate(&self) -> usize {
        self.estimator.estimate()
    }
}

impl<T: Hash> Default for Distinct<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The `q` quantile of sorted `values` by nearest rank, `values[round(q·(n−1))]`
/// (RITA's definition, so scores are comparable with its output).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Bowley's quartile skewness, (Q1 + Q3 − 2·Q2) / (Q3 − Q1), in [−1, 1]: 0
/// for a symmetric sample. Taken as 0 when the quartiles are less than
/// `min_spread` apart or the median equals one of them (as RITA does): the
/// measure is unstable then, and a sample that tight is as regular as it
/// gets (milliseconds of jitter must not read as skew).
pub fn bowley_skew(sorted: &[f64], min_spread: f64) -> f64 {
    let (q1, q2, q3) = (quantile(sorted, 0.25), quantile(sorted, 0.5), quantile(sorted, 0.75));
    if q3 - q1 < min_spread.max(f64::EPSILON) || q2 == q1 || q2 == q3 {
        return 0.0;
    }
    ((q1 + q3 - 2.0 * q2) / (q3 - q1)).clamp(-1.0, 1.0)
}

/// Median absolute deviation about the median.
pub fn madm(sorted: &[f64], scratch: &mut Vec<f64>) -> f64 {
    let median = quantile(sorted, 0.5);
    scratch.clear();
    scratch.extend(sorted.iter().map(|v| (v - median).abs()));
    scratch.sort_by(f64::total_cmp);
    quantile(scratch, 0.5)
}

/// The most frequent value of sorted `values` (the smallest on ties).
pub fn mode(sorted: &[f64]) -> f64 {
    let mut best = (0.0, 0usize);
    let mut run = (f64::NAN, 0usize);
    for &value in sorted {
        run = if value == run.0 { (value, run.1 + 1) } else { (value, 1) };
        if run.1 > best.1 {
            best = run;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_skew_and_dispersion() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(quantile(&sorted, 0.25), 2.0);
        assert_eq!(quantile(&sorted, 0.5), 3.0);
        assert_eq!(quantile(&sorted, 0.75), 4.0);
        assert_eq!(bowley_skew(&sorted, 0.0), 0.0);
        let skewed = [1.0, 1.5, 2.0, 8.0, 9.0];
        // Q1 = 1.5, Q2 = 2, Q3 = 8: (1.5 + 8 − 4) / 6.5
        assert!((bowley_skew(&skewed, 0.0) - 5.5 / 6.5).abs() < 1e-12);
        // Quartiles 6.5 apart are "no spread" when at least 10 is asked for.
        assert_eq!(bowley_skew(&skewed, 10.0), 0.0);
        let mut scratch = Vec::new();
        // deviations from 3: 2, 1, 0, 1, 7 → median 1
        assert_eq!(madm(&sorted, &mut scratch), 1.0);
        assert_eq!(mode(&[1.0, 2.0, 2.0, 3.0, 3.0]), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn distinct_counts_are_exact_when_small_and_close_when_large() {
        let mut ports: Distinct<u16> = Distinct::new();
        for port in [22, 80, 443, 80, 22] {
            ports.insert(&port);
        }
        assert_eq!(ports.estimate(), 3);
        let mut hosts: Distinct<std::net::IpAddr> = Distinct::new();
        for i in 0..20_000u32 {
            hosts.insert(&std::net::IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
        }
        // HyperLogLog++ with 2^10 registers: ≈3 % standard error; 10 % is over three of them.
        let estimate = hosts.estimate() as f64;
        assert!((estimate - 20_000.0).abs() < 2_000.0, "{estimate}");
    }
}
