//! A bounded queue in front of a worker thread: how every network sink
//! delivers without ever blocking the detection thread.
//!
//! The front end (`deliver`) only tries to enqueue: when the queue is full the
//! event is counted as dropped and a rate-limited warning says so. The worker
//! takes events off the queue (several per batch if the sink batches), hands
//! them to its [`Transport`] and retries transient failures with backoff.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use tracing::warn;

use super::{
    EventSink, SinkStartError,
    rate_limit::RateLimitedWarning,
    retry::{RetryPolicy, Shutdown},
    stats::{Counters, DeliveryCounts},
};
use crate::event::Event;

/// Why one attempt failed, and whether another attempt could succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// Worth retrying: a 5xx, a timeout, a refused or reset connection.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: the receiver rejected the event (a 4xx, a bad address).
    #[error("{0}")]
    Permanent(String),
}

/// Sends events somewhere; runs on the sink's worker thread, so it may block
/// (within its own timeouts).
pub(crate) trait Transport: Send + 'static {
    /// Delivers one batch (a single event unless the sink batches).
    fn send(&mut self, batch: &[Event]) -> Result<(), DeliveryError>;
}

/// How many events one delivery may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    /// After taking an event, wait this long for more to send together; zero
    /// sends every event on its own.
    pub window: Duration,
    pub max_events: usize,
}

impl BatchPolicy {
    pub const SINGLE: Self = Self { window: Duration::ZERO, max_events: 1 };
}

/// Queue bound and retries of one network sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Events that may wait for the worker; more are dropped (and counted).
    pub capacity: usize,
    pub retry: RetryPolicy,
}

/// The front end of a network sink: an [`EventSink`] whose deliveries are
/// queued for a worker thread.
pub struct QueuedSink {
    name: &'static str,
    target: String,
    capacity: usize,
    sender: SyncSender<Event>,
    counters: Arc<Counters>,
    shutdown: Arc<Shutdown>,
    worker: WorkerHandle,
    loss_warning: RateLimitedWarning,
}

struct WorkerHandle {
    thread: JoinHandle<()>,
    /// Disconnects when the worker thread ends, however it ends.
    exited: Receiver<Infallible>,
}

impl QueuedSink {
    /// Starts the worker. `batch` is for transports that can carry several
    /// events at once; the others pass [`BatchPolicy::SINGLE`].
    pub(crate) fn start(
        name: &'static str,
        target: String,
        transport: impl Transport,
        config: QueueConfig,
        batch: BatchPolicy,
    ) -> Result<Self, SinkStartError> {
        let (sender, events) = mpsc::sync_channel(config.capacity);
        let (exit_guard, exited) = mpsc::channel::<Infallible>();
        let counters = Arc::new(Counters::default());
        let shutdown = Arc::new(Shutdown::default());
        let worker = Worker {
            name,
            target: target.clone(),
            transport,
            events,
            retry: config.retry,
            batch,
            counters: counters.clone(),
            shutdown: shutdown.clone(),
            failure_warning: RateLimitedWarning::default(),
        };
        let thread = thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn(move || {
                let _exit_guard = exit_guard;
                worker.run();
            })
            .map_err(|source| SinkStartError::Spawn { sink: name, source })?;
        Ok(Self {
            name,
            target,
            capacity: config.capacity,
            sender,
            counters,
            shutdown,
            worker: WorkerHandle { thread, exited },
            loss_warning: RateLimitedWarning::default(),
        })
    }

    fn warn_dropped(&mut self) {
        if let Some(dropped) = self.loss_warning.record(Instant::now()) {
            warn!(
                sink = self.name,
                target = %self.target,
                dropped,
                capacity = self.capacity,
                "alert queue full, events dropped: the receiver is slower than the alert rate \
                 (check it, or raise the sink's queue size)"
            );
        }
    }
}

impl EventSink for QueuedSink {
    fn name(&self) -> &'static str {
        self.name
    }

    fn target(&self) -> &str {
        &self.target
    }

    fn deliver(&mut self, event: &Event) {
        self.counters.accepted();
        match self.sender.try_send(event.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.counters.dropped();
                self.warn_dropped();
            }
            Err(TrySendError::Disconnected(_)) => {
                // Only if the worker panicked; its panic message is in the log.
                self.counters.failed(1);
                if self.loss_warning.record(Instant::now()).is_some() {
                    warn!(sink = self.name, "the sink's worker thread has stopped; events are not delivered");
                }
            }
        }
    }

    fn flush(&mut self) {}

    fn stats(&self) -> DeliveryCounts {
        self.counters.snapshot()
    }

    fn close(self: Box<Self>, deadline: Instant) -> DeliveryCounts {
        let Self { name, sender, counters, shutdown, worker, .. } = *self;
        shutdown.begin(deadline);
        // Disconnecting lets the worker drain what is queued and then exit.
        drop(sender);
        let wait = deadline.saturating_duration_since(Instant::now());
        match worker.exited.recv_timeout(wait) {
            Err(RecvTimeoutError::Disconnected) => {
                if worker.thread.join().is_err() {
                    warn!(sink = name, "the sink's worker thread panicked");
                }
            }
            // Still busy with a slow delivery: leave it; what it had not
            // delivered by now is reported as `queued`.
            Err(RecvTimeoutError::Timeout) => {}
            Ok(never) => match never {},
        }
        counters.snapshot()
    }
}

struct Worker<T> {
    name: &'static str,
    target: String,
    transport: T,
    events: Receiver<Event>,
    retry: RetryPolicy,
    batch: BatchPolicy,
    counters: Arc<Counters>,
    shutdown: Arc<Shutdown>,
    failure_warning: RateLimitedWarning,
}

impl<T: Transport> Worker<T> {
    fn run(mut self) {
        while let Some(batch) = self.next_batch() {
            self.deliver(&batch);
        }
    }

    /// The next batch, or `None` once the queue is closed and empty, or the
    /// shutdown deadline has passed (what is left then stays `queued`).
    fn next_batch(&self) -> Option<Vec<Event>> {
        let first = self.events.recv().ok()?;
        if self.shutdown.expired() {
            return None;
        }
        let mut batch = vec![first];
        let window_end = Instant::now() + self.batch.window;
        while batch.len() < self.batch.max_events {
            let left = window_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A closed queue returns what it still holds at once, then
            // `Disconnected`: shutdown never waits out a batch window.
            match self.events.recv_timeout(left) {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    fn deliver(&mut self, batch: &[Event]) {
        let events = batch.len() as u64;
        let mut attempt = 1;
        loop {
            let error = match self.transport.send(batch) {
                Ok(()) => {
                    self.counters.delivered(events);
                    return;
                }
                Err(error) => error,
            };
            let retryable = matches!(error, DeliveryError::Transient(_)) && attempt < self.retry.max_attempts;
            if retryable && self.shutdown.pause(self.retry.backoff(attempt)) {
                self.counters.retried();
                attempt += 1;
                continue;
            }
            self.counters.failed(events);
            self.warn_failed(events, attempt, &error);
            return;
        }
    }

    fn warn_failed(&mut self, events: u64, attempts: u32, error: &DeliveryError) {
        if let Some(failures) = self.failure_warning.record(Instant::now()) {
            let reason = match error {
                DeliveryError::Transient(_) if attempts < self.retry.max_attempts => "shutting down",
                DeliveryError::Transient(_) => "retries exhausted",
                DeliveryError::Permanent(_) => "rejected",
            };
            warn!(
                sink = self.name,
                target = %self.target,
                events,
                attempts,
                failures_since_last_warning = failures,
                "alert delivery failed ({reason}): {error}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::sink::test_support::event;

    /// Fails with the scripted errors, in order, then succeeds; records every batch.
    struct Scripted {
        failures: Vec<DeliveryError>,
        batches: Arc<Mutex<Vec<Vec<u64>>>>,
    }

    impl Transport for Scripted {
        fn send(&mut self, batch: &[Event]) -> Result<(), DeliveryError> {
            self.batches
                .lock()
                .map_err(|_| DeliveryError::Permanent("poisoned".into()))?
                .push(batch.iter().map(|e| e.event_id).collect());
            if self.failures.is_empty() { Ok(()) } else { Err(self.failures.remove(0)) }
        }
    }

    /// Final counts, and the event ids of every batch the transport was given.
    type Outcome = (DeliveryCounts, Vec<Vec<u64>>);

    fn config(capacity: usize, max_attempts: u32) -> QueueConfig {
        QueueConfig {
            capacity,
            retry: RetryPolicy {
                max_attempts,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(4),
            },
        }
    }

    fn run(
        failures: Vec<DeliveryError>,
        config: QueueConfig,
        batch: BatchPolicy,
        events: u64,
    ) -> Result<Outcome, Box<dyn std::error::Error>> {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let transport = Scripted { failures, batches: batches.clone() };
        let mut sink: Box<dyn EventSink> =
            Box::new(QueuedSink::start("test", "nowhere".into(), transport, config, batch)?);
        for id in 1..=events {
            sink.deliver(&event(id));
        }
        let counts = sink.close(Instant::now() + Duration::from_secs(10));
        let batches = batches.lock().map_err(|_| "poisoned")?.clone();
        Ok((counts, batches))
    }

    #[test]
    fn transient_failures_are_retried_until_delivered() -> Result<(), Box<dyn std::error::Error>> {
        let failures = vec![DeliveryError::Transient("503".into()), DeliveryError::Transient("503".into())];
        let (counts, batches) = run(failures, config(8, 5), BatchPolicy::SINGLE, 1)?;
        assert_eq!(batches, [[1], [1], [1]]);
        assert_eq!(counts, DeliveryCounts { accepted: 1, delivered: 1, retries: 2, ..DeliveryCounts::default() });
        Ok(())
    }

    #[test]
    fn retries_stop_at_max_attempts() -> Result<(), Box<dyn std::error::Error>> {
        let failures = (0..3).map(|_| DeliveryError::Transient("refused".into())).collect();
        let (counts, batches) = run(failures, config(8, 3), BatchPolicy::SINGLE, 2)?;
        // Event 1 fails three times; event 2 then goes through at once.
        assert_eq!(batches, [[1], [1], [1], [2]]);
        assert_eq!(
            counts,
            DeliveryCounts { accepted: 2, delivered: 1, failed: 1, retries: 2, ..DeliveryCounts::default() }
        );
        Ok(())
    }

    #[test]
    fn permanent_failures_are_not_retried() -> Result<(), Box<dyn std::error::Error>> {
        let (counts, batches) =
            run(vec![DeliveryError::Permanent("400".into())], config(8, 5), BatchPolicy::SINGLE, 1)?;
        assert_eq!(batches, [[1]]);
        assert_eq!(counts, DeliveryCounts { accepted: 1, failed: 1, ..DeliveryCounts::default() });
        Ok(())
    }

    #[test]
    fn a_batch_window_groups_events_up_to_the_maximum() -> Result<(), Box<dyn std::error::Error>> {
        let batch = BatchPolicy { window: Duration::from_secs(5), max_events: 3 };
        // Close comes long before the window ends: the last batch goes out at once.
        let (counts, batches) = run(Vec::new(), config(8, 1), batch, 5)?;
        assert_eq!(batches, [vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(counts, DeliveryCounts { accepted: 5, delivered: 5, ..DeliveryCounts::default() });
        Ok(())
    }
}
