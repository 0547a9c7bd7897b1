//! Mail through an SMTP relay (plain, STARTTLS or implicit TLS, optionally
//! authenticated), from a bounded queue like the other network sinks.
//!
//! With a batch window, events arriving within that window of the first one
//! (up to a maximum) go out as one mail, so a burst of alerts is one message
//! rather than a mail storm. SMTP 4xx replies and connection trouble are
//! retried; 5xx replies fail at once.

mod render;

use std::{fmt, str::FromStr, time::Duration};

use lettre::{
    Message, SmtpTransport, Transport as _,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};
use serde::Deserialize;

use super::{
    QueuedSink, SinkStartError,
    queue::{BatchPolicy, DeliveryError, QueueConfig, Transport},
    settings::Secret,
};
use crate::event::{Event, Severity};

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, for a relay on the host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl SmtpTls {
    /// The port each mode conventionally uses.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

/// `HOST[:PORT]`; without a port, the default for the TLS mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayAddr {
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid SMTP relay {0:?}: expected HOST or HOST:PORT")]
pub struct InvalidRelay(String);

impl FromStr for RelayAddr {
    type Err = InvalidRelay;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidRelay(s.to_owned());
        // A bracketed IPv6 literal keeps its colons: `[::1]:25`.
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                (host, Some(port.parse().map_err(|_| invalid())?))
            }
            _ => (s, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self { host: host.to_owned(), port })
    }
}

deserialize_from_str!(RelayAddr);

impl fmt::Display for RelayAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        match self.port {
            Some(port) if self.host.contains(':') => write!(f, "[{host}]:{port}"),
            Some(port) => write!(f, "{host}:{port}"),
            None => write!(f, "{host}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<SmtpCredentials>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub level: Severity,
    /// For each SMTP connection and command.
    pub timeout: Duration,
    pub queue: QueueConfig,
    /// Events gathered into one mail.
    pub batch: BatchPolicy,
}

pub(crate) fn start(config: &EmailConfig) -> Result<QueuedSink, SinkStartError> {
    let relay = format!("{}:{}", config.host, config.port);
    let tls_error = |source| SinkStartError::SmtpTls { relay: relay.clone(), source };
    let mut builder = match config.tls {
        SmtpTls::None => SmtpTransport::builder_dangerous(&config.host),
        SmtpTls::Starttls => SmtpTransport::starttls_relay(&config.host).map_err(tls_error)?,
        SmtpTls::Tls => SmtpTransport::relay(&config.host).map_err(tls_error)?,
    }
    .port(config.port)
    .timeout(Some(config.timeout));
    if let Some(credentials) = &config.credentials {
        builder = builder
            .credentials(Credentials::new(credentials.username.clone(), credentials.password.expose().to_owned()));
    }
    let transport = EmailTransport { mailer: builder.build(), from: config.from.clone(), to: config.to.clone() };
    let target = format!("smtp://{relay} to {}", mailbox_list(&config.to));
    QueuedSink::start("email", target, transport, config.queue, config.batch)
}

fn mailbox_list(mailboxes: &[Mailbox]) -> String {
    mailboxes.iter().map(|mailbox| mailbox.email.to_string()).collect::<Vec<_>>().join(", ")
}

struct EmailTransport {
    mailer: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl EmailTransport {
    fn message(&self, batch: &[Event]) -> Result<Message, lettre::error::Error> {
        let builder = self.to.iter().cloned().fold(Message::builder().from(self.from.clone()), |b, to| b.to(to));
        builder.subject(render::subject(batch)).header(ContentType::TEXT_PLAIN).body(render::body(batch))
    }
}

impl Transport for EmailTransport {
    fn send(&mut self, batch: &[Event]) -> Result<(), DeliveryError> {
        let message =
            self.message(batch).map_err(|e| DeliveryError::Permanent(format!("cannot build the alert mail: {e}")))?;
        self.mailer.send(&message).map(drop).map_err(smtp_error)
    }
}

/// 5xx replies, client-side and TLS errors will not pass by retrying;
/// 4xx replies, timeouts and connection trouble may.
fn smtp_error(error: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {error}");
    if error.is_permanent() || error.is_client() || error.is_tls() {
        DeliveryError::Permanent(message)
    } else {
        DeliveryError::Transient(message)
    }
}

#[cfg(test)]
mod tests;
