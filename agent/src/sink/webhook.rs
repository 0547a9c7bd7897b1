//! HTTP webhook: each event is POSTed as one JSON object.
//!
//! 2xx is delivered. 408, 429, 5xx, timeouts and connection errors are
//! retried with backoff; any other status (4xx, and 3xx: redirects are not
//! followed, a POST must not silently turn into a GET) fails at once.
//! `HTTP(S)_PROXY`/`NO_PROXY` from the environment are honoured.

use std::{fmt, str::FromStr, time::Duration};

use ureq::http::Uri;

use super::{
    QueuedSink, SinkStartError,
    queue::{BatchPolicy, DeliveryError, QueueConfig, Transport},
};
use crate::event::{Event, Severity};

/// Response bodies are read (so the connection can be reused) up to this much.
const MAX_RESPONSE_BODY: u64 = 64 * 1024;

/// An `http://` or `https://` URL with a host.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    url: String,
    /// The URL without user info and query, which may hold credentials.
    redacted: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid webhook URL {input:?}: {problem} (expected http://HOST[:PORT]/PATH or https://…)")]
pub struct InvalidUrl {
    input: String,
    problem: String,
}

impl FromStr for HttpUrl {
    type Err = InvalidUrl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |problem: &str| InvalidUrl { input: s.to_owned(), problem: problem.to_owned() };
        let uri: Uri = s.parse().map_err(|e: ureq::http::uri::InvalidUri| invalid(&e.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme,
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let host = uri.host().filter(|host| !host.is_empty()).ok_or_else(|| invalid("no host"))?;
        let port = uri.port_u16().map(|port| format!(":{port}")).unwrap_or_default();
        let redacted = format!("{scheme}://{host}{port}{}", uri.path());
        Ok(Self { url: s.to_owned(), redacted })
    }
}

deserialize_from_str!(HttpUrl);

impl HttpUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Safe to log: no user info, no query string.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

/// Debug shows the redacted form, so settings can be logged.
impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HttpUrl").field(&self.redacted).finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: HttpUrl,
    pub level: Severity,
    /// For the whole request: connect, send, response.
    pub timeout: Duration,
    pub queue: QueueConfig,
}

pub(crate) fn start(config: &WebhookConfig) -> Result<QueuedSink, SinkStartError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("flowwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let transport = WebhookTransport { agent, url: config.url.as_str().to_owned() };
    QueuedSink::start("webhook", config.url.redacted().to_owned(), transport, config.queue, BatchPolicy::SINGLE)
}

struct WebhookTransport {
    agent: ureq::Agent,
    url: String,
}

impl WebhookTransport {
    fn post(&self, event: &Event) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(event)
            .map_err(|e| DeliveryError::Permanent(format!("cannot encode the event as JSON: {e}")))?;
        let mut response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(request_error)?;
        // Read (and discard) the body so the connection goes back to the pool.
        let _ = response.body_mut().with_config().limit(MAX_RESPONSE_BODY).read_to_vec();
        status_outcome(response.status().as_u16())
    }
}

impl Transport for WebhookTransport {
    /// Batches are single events (see `start`), so a retry never re-posts one that went through.
    fn send(&mut self, batch: &[Event]) -> Result<(), DeliveryError> {
        batch.iter().try_for_each(|event| self.post(event))
    }
}

fn status_outcome(status: u16) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(DeliveryError::Transient(format!("HTTP status {status}"))),
        _ => Err(DeliveryError::Permanent(format!("HTTP status {status}"))),
    }
}

/// Network trouble may pass; a malformed request or a TLS setup problem will not.
fn request_error(error: ureq::Error) -> DeliveryError {
    let transient = matches!(
        error,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
    );
    let message = format!("POST failed: {error}");
    if transient { DeliveryError::Transient(message) } else { DeliveryError::Permanent(message) }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
