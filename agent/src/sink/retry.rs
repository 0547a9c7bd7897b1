//! Bounded retries with exponential backoff and jitter, and the shutdown
//! deadline that cuts a backoff short.

use std::{
    sync::{Condvar, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// How a queued sink retries a delivery that failed for a reason that may pass
/// (a 5xx, a timeout, a refused connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least 1.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles per attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): the exponential step
    /// `initial * 2^(attempt-1)` capped at `max_backoff`, then "equal jitter" —
    /// half of it fixed, half random — so senders that failed together do not
    /// retry in lockstep, yet every pause is at least half the step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self.step(attempt);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    fn step(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }
}

/// The deadline by which a closing sink must be done, shared with its worker.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    deadline: Mutex<Option<Instant>>,
    began: Condvar,
}

impl Shutdown {
    pub(crate) fn begin(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = Some(deadline);
        self.began.notify_all();
    }

    /// True once shutdown has begun and its deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.lock().unwrap_or_else(PoisonError::into_inner).is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Waits `delay` before a retry. Returns false, at once, if shutdown has
    /// begun (or begins while waiting) and the wait would end past its
    /// deadline: the retry could not finish in time anyway.
    pub(crate) fn pause(&self, delay: Duration) -> bool {
        let wake_at = Instant::now() + delay;
        let mut deadline = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if deadline.is_some_and(|deadline| wake_at > deadline) {
                return false;
            }
            let now = Instant::now();
            if now >= wake_at {
                return true;
            }
            deadline = self.began.wait_timeout(deadline, wake_at - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(1000),
    };

    #[test]
    fn steps_double_up_to_the_cap() {
        let steps: Vec<u128> = (1..=6).map(|attempt| POLICY.step(attempt).as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(POLICY.step(u32::MAX).as_millis(), 1000);
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_step() {
        for attempt in 1..=6 {
            let step = POLICY.step(attempt);
            for _ in 0..200 {
                let backoff = POLICY.backoff(attempt);
                assert!(backoff >= step / 2 && backoff <= step, "{backoff:?} outside [{:?}, {step:?}]", step / 2);
            }
        }
    }

    #[test]
    fn a_pause_past_the_shutdown_deadline_gives_up() {
        let shutdown = Shutdown::default();
        assert!(shutdown.pause(Duration::from_millis(1)));
        assert!(!shutdown.expired());
        shutdown.begin(Instant::now() + Duration::from_secs(60));
        assert!(!shutdown.pause(Duration::from_secs(120)));
        assert!(shutdown.pause(Duration::from_millis(1)));
        shutdown.begin(Instant::now());
        assert!(shutdown.expired());
    }

    #[test]
    fn shutdown_beginning_wakes_a_long_pause() -> Result<(), Box<dyn std::error::Error>> {
        let shutdown = std::sync::Arc::new(Shutdown::default());
        let waiter = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || shutdown.pause(Duration::from_secs(3600)))
        };
        std::thread::sleep(Duration::from_millis(20));
        shutdown.begin(Instant::now() + Duration::from_millis(10));
        let finished = waiter.join().map_err(|_| "pause thread panicked")?;
        assert!(!finished);
        Ok(())
    }
}
