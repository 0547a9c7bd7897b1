//! Where records and alert events go.
//!
//! Flow records go to NDJSON ([`NdjsonWriter`]) and optionally CSV
//! ([`FlowCsvSink`]). Alert events fan out through a [`SinkSet`] to every
//! configured [`EventSink`]: NDJSON events (stdout or a rotating file), an
//! HTTP webhook, syslog (RFC 5424) and mail through an SMTP relay.
//!
//! Network sinks never block the detection thread: each has a bounded queue
//! in front of a worker thread that retries with backoff. Nothing is lost
//! silently: every sink counts what it accepted, delivered, gave up on
//! (`failed`), could not queue (`dropped`) and still holds (`queued`), and
//! warns (rate-limited) as losses happen.

// First, so the macro is visible in the modules below.
#[macro_use]
mod from_str_serde;

mod csv;
mod email;
mod events;
mod ndjson;
mod queue;
mod rate_limit;
pub(crate) mod resolve;
mod retry;
mod rotating_file;
mod set;
mod settings;
mod stats;
mod syslog;
#[cfg(test)]
pub(crate) mod test_support;
mod webhook;

use std::time::Instant;

pub use csv::{FlowCsvSink, flow_csv_header};
pub use email::{EmailConfig, RelayAddr, SmtpCredentials, SmtpTls};
pub use events::{EventsConfig, EventsSink};
pub use ndjson::{NdjsonWriter, OutputPath, SinkError};
pub use queue::{BatchPolicy, QueueConfig, QueuedSink};
pub use resolve::ResolvedSinkConfig;
pub use retry::RetryPolicy;
pub use rotating_file::{RotatingFile, Rotation};
pub use set::SinkSet;
pub use settings::{
    CsvSettings, EmailSettings, EventsSettings, HumanDuration, Secret, SinkArgs, SinkSettings, SyslogSettings,
    WebhookSettings,
};
pub use stats::{DeliveryCounts, SinkStats};
pub use syslog::{Facility, Rfc5424Formatter, SyslogAddr, SyslogConfig};
pub use webhook::{HttpUrl, WebhookConfig};

use crate::event::Event;

/// One destination for alert events.
///
/// `deliver` must not block on the network or fail the caller: a sink that
/// cannot deliver counts the event as `failed` or `dropped` and warns.
pub trait EventSink: Send {
    /// Short name for stats and logs: `events`, `webhook`, `syslog`, `email`.
    fn name(&self) -> &'static str;

    /// Where events go, without credentials (a path, URL or address).
    fn target(&self) -> &str;

    fn deliver(&mut self, event: &Event);

    /// Pushes buffered output out (local sinks); queued sinks deliver on their own.
    fn flush(&mut self);

    fn stats(&self) -> DeliveryCounts;

    /// Stops accepting events and delivers what is queued, giving up at
    /// `deadline`; whatever is still undelivered then stays in `queued`.
    fn close(self: Box<Self>, deadline: Instant) -> DeliveryCounts;
}

/// Starting a sink failed; the message says which and what to check.
#[derive(Debug, thiserror::Error)]
pub enum SinkStartError {
    #[error("cannot open {path} for {what}: {source}")]
    Open {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the CSV header to {path}: {source}")]
    CsvHeader {
        path: String,
        #[source]
        source: ::csv::Error,
    },
    #[error("cannot start the {sink} sink's worker thread: {source}")]
    Spawn {
        sink: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up TLS to the SMTP relay {relay}: {source}")]
    SmtpTls {
        relay: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}
