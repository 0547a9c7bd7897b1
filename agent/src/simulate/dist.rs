//! The shapes of simulated traffic: heavy-tailed sizes, exponential gaps,
//! jitter. Built on `rand_distr`'s parameter-free `StandardNormal` and `Exp1`
//! so that no distribution needs an error path for constant parameters.

use rand::RngExt as _;
use rand_distr::{Exp1, StandardNormal};

use super::{rng::SimRng, units::Nanos};

/// A lognormal quantity given by its median and log-space spread, clamped
/// to `[min, max]`. Payload sizes and think times are lognormal in measured
/// traffic: most are small, a few are orders of magnitude larger.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
    pub min: f64,
    pub max: f64,
}

impl LogNormal {
    pub const fn new(median: f64, sigma: f64, min: f64, max: f64) -> Self {
        Self { median, sigma, min, max }
    }

    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        (self.median * (self.sigma * z).exp()).clamp(self.min, self.max)
    }

    /// A sample rounded to a whole number (bytes, packets).
    pub fn sample_u64(&self, rng: &mut SimRng) -> u64 {
        self.sample(rng).round() as u64
    }
}

/// An exponential gap with the given mean: the time between events of a
/// Poisson process (session starts, scan probes).
pub fn exponential(rng: &mut SimRng, mean: Nanos) -> Nanos {
    let e: f64 = rng.sample(Exp1);
    (e * mean as f64) as Nanos
}

/// Pareto with scale 1 and shape `alpha`, capped: host activity weights.
/// (A Pareto variable is `exp(E / alpha)` for `E` standard exponential.)
pub fn pareto(rng: &mut SimRng, alpha: f64, cap: f64) -> f64 {
    let e: f64 = rng.sample(Exp1);
    (e / alpha).exp().min(cap)
}

/// `base` moved by a uniform factor in `[1 - fraction, 1 + fraction]`.
pub fn jitter(rng: &mut SimRng, base: Nanos, fraction: f64) -> Nanos {
    let factor = 1.0 + rng.random_range(-fraction..=fraction);
    (base as f64 * factor) as Nanos
}

/// Zipf-like popularity over `n` items (rank `k` has weight `1 / k^s`):
/// a few web sites get most visits.
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    cumulative: Vec<f64>,
}

impl Popularity {
    pub fn zipf(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// An index in `0..n` (0 for an empty table).
    pub fn pick(&self, rng: &mut SimRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= target).min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn lognormal_median_and_clamp_hold() {
        let mut rng = stream(7, Stream::Population);
        let sizes = LogNormal::new(1000.0, 1.0, 100.0, 5000.0);
        let mut samples: Vec<f64> = (0..20_001).map(|_| sizes.sample(&mut rng)).collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[10_000];
        assert!((950.0..1050.0).contains(&median), "median {median}");
        assert_eq!((samples[0], samples[20_000]), (100.0, 5000.0));
    }

    #[test]
    fn exponential_mean_and_jitter_bounds_hold() {
        let mut rng = stream(7, Stream::Population);
        let mean = (0..20_000).map(|_| exponential(&mut rng, 1_000_000)).sum::<u64>() / 20_000;
        assert!((970_000..1_030_000).contains(&mean), "mean {mean}");
        for _ in 0..1000 {
            let j = jitter(&mut rng, 60_000, 0.1);
            assert!((54_000..=66_000).contains(&j), "{j}");
        }
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let mut rng = stream(7, Stream::Population);
        let popularity = Popularity::zipf(10, 1.0);
        let mut counts = [0u32; 10];
        for _ in 0..29_290 {
            counts[popularity.pick(&mut rng)] += 1;
        }
        // Weights 1, 1/2, … 1/10 sum to 2.929: rank 1 gets ~10,000, rank 10 ~1,000.
        assert!((9_500..10_500).contains(&counts[0]), "{counts:?}");
        assert!((850..1_150).contains(&counts[9]), "{counts:?}");
        assert_eq!(Popularity::zipf(0, 1.0).pick(&mut rng), 0);
    }
}
