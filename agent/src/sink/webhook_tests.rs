//! Against a real HTTP server on loopback that records what it receives and
//! answers with scripted statuses and delays.

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use super::*;
use crate::sink::{
    DeliveryCounts, EventSink, RetryPolicy,
    test_support::{event, event_with},
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Debug, PartialEq)]
struct Received {
    method: String,
    path: String,
    content_type: Option<String>,
    body: serde_json::Value,
}

/// Answers request `i` with `script[i]` (the last entry repeats): a status
/// after a delay.
struct TestServer {
    server: Arc<tiny_http::Server>,
    received: Arc<Mutex<Vec<Received>>>,
    thread: Option<thread::JoinHandle<()>>,
    url: String,
}

impl TestServer {
    fn start(script: Vec<(u16, Duration)>) -> Result<Self, Box<dyn std::error::Error>> {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?);
        let port = server.server_addr().to_ip().ok_or("not an IP listener")?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, received) = (server.clone(), received.clone());
            thread::spawn(move || {
                for (i, mut request) in server.incoming_requests().enumerate() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let content_type = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Content-Type"))
                        .map(|h| h.value.as_str().to_owned());
                    if let Ok(mut received) = received.lock() {
                        received.push(Received {
                            method: request.method().as_str().to_owned(),
                            path: request.url().to_owned(),
                            content_type,
                            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                        });
                    }
                    let (status, delay) = script[i.min(script.len() - 1)];
                    thread::sleep(delay);
                    let _ = request.respond(tiny_http::Response::empty(status));
                }
            })
        };
        Ok(Self { server, received, thread: Some(thread), url: format!("http://127.0.0.1:{port}/hooks/alerts") })
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn config(url: &str, capacity: usize, max_attempts: u32, timeout: Duration) -> Result<WebhookConfig, InvalidUrl> {
    Ok(WebhookConfig {
        url: url.parse()?,
        level: Severity::Low,
        timeout,
        queue: QueueConfig {
            capacity,
            retry: RetryPolicy {
                max_attempts,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(40),
            },
        },
    })
}

/// Delivers `events` and closes, allowing `drain` for the queue to empty.
fn deliver_all(config: &WebhookConfig, events: &[Event], drain: Duration) -> Result<DeliveryCounts, SinkStartError> {
    let mut sink = Box::new(start(config)?);
    for event in events {
        sink.deliver(event);
    }
    Ok(sink.close(Instant::now() + drain))
}

const OK: (u16, Duration) = (200, Duration::ZERO);

#[test]
fn posts_each_event_as_json() -> TestResult {
    let server = TestServer::start(vec![OK])?;
    let events = [event(1), event_with(2, Severity::Low), event(3)];
    let counts = deliver_all(&config(&server.url, 16, 3, Duration::from_secs(5))?, &events, Duration::from_secs(10))?;
    assert_eq!(counts, DeliveryCounts { accepted: 3, delivered: 3, ..DeliveryCounts::default() });
    let expected: Vec<Received> = events
        .iter()
        .map(|event| {
            Ok(Received {
                method: "POST".into(),
                path: "/hooks/alerts".into(),
                content_type: Some("application/json".into()),
                body: serde_json::to_value(event)?,
            })
        })
        .collect::<Result<_, serde_json::Error>>()?;
    assert_eq!(server.received(), expected);
    Ok(())
}

#[test]
fn a_503_twice_then_200_takes_exactly_three_attempts() -> TestResult {
    let server = TestServer::start(vec![(503, Duration::ZERO), (503, Duration::ZERO), OK])?;
    let counts =
        deliver_all(&config(&server.url, 16, 5, Duration::from_secs(5))?, &[event(7)], Duration::from_secs(10))?;
    assert_eq!(counts, DeliveryCounts { accepted: 1, delivered: 1, retries: 2, ..DeliveryCounts::default() });
    let bodies: Vec<_> = server.received().into_iter().map(|r| r.body["event_id"].clone()).collect();
    assert_eq!(bodies, [7, 7, 7]);
    Ok(())
}

#[test]
fn a_4xx_fails_without_retry_but_408_and_429_are_retried() -> TestResult {
    let server = TestServer::start(vec![(400, Duration::ZERO), (429, Duration::ZERO), (408, Duration::ZERO), OK])?;
    let counts = deliver_all(
        &config(&server.url, 16, 5, Duration::from_secs(5))?,
        &[event(1), event(2)],
        Duration::from_secs(10),
    )?;
    // Event 1: 400, given up. Event 2: 429, 408, then 200.
    assert_eq!(
        counts,
        DeliveryCounts { accepted: 2, delivered: 1, failed: 1, retries: 2, ..DeliveryCounts::default() }
    );
    let ids: Vec<_> = server.received().into_iter().map(|r| r.body["event_id"].clone()).collect();
    assert_eq!(ids, [1, 2, 2, 2]);
    Ok(())
}

#[test]
fn a_server_that_is_down_fails_after_every_attempt() -> TestResult {
    // A port nothing listens on: bind, learn the port, close.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let counts =
        deliver_all(&config(&url, 16, 4, Duration::from_secs(2))?, &[event(1), event(2)], Duration::from_secs(10))?;
    assert_eq!(counts, DeliveryCounts { accepted: 2, failed: 2, retries: 6, ..DeliveryCounts::default() });
    Ok(())
}

#[test]
fn a_server_slower_than_the_timeout_is_retried_then_given_up() -> TestResult {
    let server = TestServer::start(vec![(200, Duration::from_millis(600))])?;
    let counts =
        deliver_all(&config(&server.url, 16, 2, Duration::from_millis(150))?, &[event(1)], Duration::from_secs(10))?;
    assert_eq!(counts, DeliveryCounts { accepted: 1, failed: 1, retries: 1, ..DeliveryCounts::default() });
    Ok(())
}

#[test]
fn a_slow_server_behind_a_small_queue_drops_and_counts_the_excess() -> TestResult {
    const EVENTS: u64 = 20;
    const CAPACITY: usize = 2;
    let server = TestServer::start(vec![(200, Duration::from_millis(500))])?;
    let events: Vec<Event> = (1..=EVENTS).map(event).collect();
    let counts =
        deliver_all(&config(&server.url, CAPACITY, 3, Duration::from_secs(5))?, &events, Duration::from_secs(10))?;
    // The worker holds at most one event in flight and the queue two more:
    // every other event was dropped, and every event is accounted for.
    assert_eq!(counts.delivered + counts.dropped, EVENTS);
    assert!(counts.dropped >= EVENTS - CAPACITY as u64 - 1, "{counts:?}");
    assert_eq!((counts.accepted, counts.failed, counts.queued, counts.retries), (EVENTS, 0, 0, 0));
    // What was delivered is exactly what the server received.
    assert_eq!(server.received().len() as u64, counts.delivered);
    Ok(())
}

#[test]
fn a_drain_timeout_shorter_than_the_backlog_reports_the_rest_as_queued() -> TestResult {
    let server = TestServer::start(vec![(200, Duration::from_millis(500))])?;
    let events: Vec<Event> = (1..=5).map(event).collect();
    let counts = deliver_all(&config(&server.url, 8, 3, Duration::from_secs(5))?, &events, Duration::from_millis(700))?;
    // 500 ms per event and 700 ms to drain: at most two got through; the rest
    // is reported as still queued rather than silently lost.
    assert_eq!((counts.accepted, counts.delivered + counts.queued), (5, 5), "{counts:?}");
    assert!(counts.queued >= 3, "{counts:?}");
    Ok(())
}

#[test]
fn urls_are_validated_and_redacted() -> TestResult {
    let url: HttpUrl = "https://user:secret@hooks.example:8443/alerts?token=abc".parse()?;
    assert_eq!(url.redacted(), "https://hooks.example:8443/alerts");
    assert_eq!(url.as_str(), "https://user:secret@hooks.example:8443/alerts?token=abc");
    assert_eq!(format!("{url:?}"), "HttpUrl(\"https://hooks.example:8443/alerts\")");
    let errors: Vec<String> = ["ftp://host/x", "hooks.example/alerts", "http:///x"]
        .iter()
        .filter_map(|s| s.parse::<HttpUrl>().err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        errors[0],
        "invalid webhook URL \"ftp://host/x\": the scheme must be http or https (expected http://HOST[:PORT]/PATH or https://…)"
    );
    Ok(())
}

#[test]
fn statuses_map_to_outcomes() {
    let outcome = |status| match status_outcome(status) {
        Ok(()) => "delivered",
        Err(DeliveryError::Transient(_)) => "retry",
        Err(DeliveryError::Permanent(_)) => "failed",
    };
    let observed: Vec<_> = [200, 204, 301, 400, 404, 408, 429, 500, 503].into_iter().map(outcome).collect();
    assert_eq!(observed, ["delivered", "delivered", "failed", "failed", "failed", "retry", "retry", "retry", "retry"]);
}
