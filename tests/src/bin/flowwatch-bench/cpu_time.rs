//! Time by CPU as well as by wall clock: the bench machine is shared, and
//! wall time also counts the time other processes held the core.

use std::time::Instant;

use nix::time::{ClockId, clock_gettime};

use crate::report::median;

/// CPU seconds this thread has used (user and system, so the syscalls it
/// makes count too).
pub fn thread_cpu_seconds() -> f64 {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(f64::NAN, |ts| ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9)
}

/// One timed piece of work: its CPU seconds and wall seconds.
#[derive(Clone, Copy, Debug)]
pub struct Elapsed {
    pub cpu: f64,
    pub wall: f64,
}

impl Elapsed {
    /// Runs `work` once and times it.
    pub fn of<T>(work: impl FnOnce() -> T) -> (Self, T) {
        let (cpu_started, wall_started) = (thread_cpu_seconds(), Instant::now());
        let result = work();
        let elapsed = Self { cpu: thread_cpu_seconds() - cpu_started, wall: wall_started.elapsed().as_secs_f64() };
        (elapsed, result)
    }

    /// `items / CPU seconds`, the figure load on the machine does not distort.
    pub fn rate_by_cpu(&self, items: usize) -> f64 {
        items as f64 / self.cpu
    }

    /// "N per s by wall clock, T ms CPU": the note beside a CPU-time rate.
    pub fn note(&self, items: usize) -> String {
        format!(
            "{:.0}/s by wall clock; {items} in {:.1} ms CPU, {:.1} ms wall",
            items as f64 / self.wall,
            self.cpu * 1e3,
            self.wall * 1e3
        )
    }
}

/// The same work timed several times: the bench machine's speed drifts
/// by tens of percent between runs, so one sample says little. Rows report
/// the median and show the range.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<Elapsed>);

impl Samples {
    /// The median of the samples' CPU-time rates.
    pub fn median_rate_by_cpu(&self, items: usize) -> f64 {
        median(&self.0.iter().map(|e| e.rate_by_cpu(items)).collect::<Vec<_>>())
    }

    /// "median of N (min–max/s by CPU); …": the note beside a median rate,
    /// ending in the median sample's wall-clock note.
    pub fn note(&self, items: usize) -> String {
        let mut by_cpu = self.0.clone();
        by_cpu.sort_by(|a, b| a.cpu.total_cmp(&b.cpu));
        // The least CPU is the highest rate.
        let (Some(fastest), Some(slowest)) = (by_cpu.first(), by_cpu.last()) else {
            return "no samples".to_owned();
        };
        format!(
            "median of {} ({:.0}–{:.0}/s by CPU); median sample {}",
            by_cpu.len(),
            slowest.rate_by_cpu(items),
            fastest.rate_by_cpu(items),
            by_cpu[by_cpu.len() / 2].note(items)
        )
    }
}
