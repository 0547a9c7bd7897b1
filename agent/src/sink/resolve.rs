//! Merged settings → the configuration the sinks run with. This is the one
//! place that knows the defaults and checks that settings fit together.

use std::time::Duration;

use super::{
    BatchPolicy, EmailConfig, EmailSettings, EventsConfig, EventsSettings, OutputPath, QueueConfig, RetryPolicy,
    Rotation, SinkSettings, SmtpCredentials, SmtpTls, SyslogConfig, SyslogSettings, WebhookConfig, WebhookSettings,
    syslog::Facility,
};
use crate::{config::ConfigError, event::Severity};

pub(crate) const ALERT_LEVEL: Severity = Severity::Low;
/// A sink without its own level reports everything `--alert-level` lets through.
pub(crate) const SINK_LEVEL: Severity = Severity::Low;
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const EVENTS_KEEP: usize = 5;
pub(crate) const ATTEMPTS: u32 = 5;
/// Backoff 0.5 s, 1 s, 2 s, 4 s (jittered) between five attempts: a receiver
/// that restarts within a few seconds loses nothing.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);
pub(crate) const WEBHOOK_QUEUE: usize = 1024;
pub(crate) const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const SYSLOG_QUEUE: usize = 1024;
pub(crate) const SYSLOG_FACILITY: Facility = Facility::Daemon;
pub(crate) const SYSLOG_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const MAIL_QUEUE: usize = 256;
pub(crate) const MAIL_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const MAIL_BATCH_WINDOW: Duration = Duration::ZERO;
pub(crate) const MAIL_BATCH_MAX: usize = 100;
pub(crate) const SMTP_TLS: SmtpTls = SmtpTls::None;

/// Everything [`SinkSet::from_config`](super::SinkSet::from_config) needs; a
/// sink that is `None` is off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedSinkConfig {
    pub alert_level: Severity,
    pub drain_timeout: Duration,
    pub events: Option<EventsConfig>,
    pub webhook: Option<WebhookConfig>,
    pub syslog: Option<SyslogConfig>,
    pub email: Option<EmailConfig>,
    pub csv: Option<OutputPath>,
}

impl Default for ResolvedSinkConfig {
    /// No sinks.
    fn default() -> Self {
        Self {
            alert_level: ALERT_LEVEL,
            drain_timeout: DRAIN_TIMEOUT,
            events: None,
            webhook: None,
            syslog: None,
            email: None,
            csv: None,
        }
    }
}

/// A setting as both sources spell it: its flag, and its key in a `[sinks.…]` table.
#[derive(Clone, Copy)]
struct Setting<'a> {
    flag: &'a str,
    table: &'a str,
    key: &'a str,
}

impl Setting<'_> {
    fn invalid(self, problem: impl Into<String>) -> ConfigError {
        let Self { flag, table, key } = self;
        ConfigError::Invalid { setting: format!("--{flag} / {key} in [sinks.{table}]"), problem: problem.into() }
    }

    fn at_least_one<T: PartialOrd + From<u8>>(self, value: T) -> Result<T, ConfigError> {
        if value < T::from(1) { Err(self.invalid("must be at least 1")) } else { Ok(value) }
    }
}

const fn setting<'a>(flag: &'a str, table: &'a str, key: &'a str) -> Setting<'a> {
    Setting { flag, table, key }
}

/// Queue size and attempts of a network sink whose flags start with `prefix`.
fn queue(
    (prefix, table): (&str, &str),
    capacity: Option<usize>,
    attempts: Option<u32>,
    default_capacity: usize,
) -> Result<QueueConfig, ConfigError> {
    let capacity_flag = format!("{prefix}-queue");
    let attempts_flag = format!("{prefix}-attempts");
    Ok(QueueConfig {
        capacity: setting(&capacity_flag, table, "queue").at_least_one(capacity.unwrap_or(default_capacity))?,
        retry: RetryPolicy {
            max_attempts: setting(&attempts_flag, table, "attempts").at_least_one(attempts.unwrap_or(ATTEMPTS))?,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
        },
    })
}

impl SinkSettings {
    /// Applies the defaults and checks the settings fit together; a sink
    /// whose address is missing is off, but its other settings are then an
    /// error rather than silently ignored.
    pub fn resolve(self) -> Result<ResolvedSinkConfig, ConfigError> {
        Ok(ResolvedSinkConfig {
            alert_level: self.alert_level.unwrap_or(ALERT_LEVEL),
            drain_timeout: self.drain_timeout.map_or(DRAIN_TIMEOUT, |d| d.0),
            events: self.events.resolve()?,
            webhook: self.webhook.resolve()?,
            syslog: self.syslog.resolve()?,
            email: self.email.resolve()?,
            csv: self.csv.path,
        })
    }
}

impl EventsSettings {
    fn resolve(self) -> Result<Option<EventsConfig>, ConfigError> {
        let Some(path) = self.path else {
            if self != Self::default() {
                return Err(
                    setting("events", "events", "path").invalid("the other events settings need an events output")
                );
            }
            return Ok(None);
        };
        let rotation = match (self.max_size, &path) {
            (None, _) => {
                if self.keep.is_some() {
                    return Err(setting("events-keep", "events", "keep").invalid("only applies with --events-max-size"));
                }
                None
            }
            (Some(_), OutputPath::Stdout) => {
                return Err(setting("events-max-size", "events", "max_size").invalid("stdout cannot be rotated"));
            }
            (Some(max_size), OutputPath::File(_)) => Some(Rotation {
                max_size: setting("events-max-size", "events", "max_size").at_least_one(max_size.as_u64())?,
                keep: self.keep.unwrap_or(EVENTS_KEEP),
            }),
        };
        Ok(Some(EventsConfig { path, level: self.level.unwrap_or(SINK_LEVEL), rotation }))
    }
}

impl WebhookSettings {
    fn resolve(self) -> Result<Option<WebhookConfig>, ConfigError> {
        let Some(url) = self.url else {
            if self != Self::default() {
                return Err(setting("webhook", "webhook", "url").invalid("the other webhook settings need a URL"));
            }
            return Ok(None);
        };
        Ok(Some(WebhookConfig {
            url,
            level: self.level.unwrap_or(SINK_LEVEL),
            timeout: self.timeout.map_or(WEBHOOK_TIMEOUT, |d| d.0),
            queue: queue(("webhook", "webhook"), self.queue, self.attempts, WEBHOOK_QUEUE)?,
        }))
    }
}

impl SyslogSettings {
    fn resolve(self) -> Result<Option<SyslogConfig>, ConfigError> {
        let Some(address) = self.address else {
            if self != Self::default() {
                return Err(setting("syslog", "syslog", "address").invalid("the other syslog settings need an address"));
            }
            return Ok(None);
        };
        Ok(Some(SyslogConfig {
            address,
            level: self.level.unwrap_or(SINK_LEVEL),
            facility: self.facility.unwrap_or(SYSLOG_FACILITY),
            hostname: self.hostname,
            timeout: SYSLOG_TIMEOUT,
            queue: queue(("syslog", "syslog"), self.queue, self.attempts, SYSLOG_QUEUE)?,
        }))
    }
}

impl EmailSettings {
    fn resolve(self) -> Result<Option<EmailConfig>, ConfigError> {
        let Some(relay) = self.relay else {
            if self != Self::default() {
                return Err(
                    setting("smtp-relay", "email", "relay").invalid("the other mail settings need an SMTP relay")
                );
            }
            return Ok(None);
        };
        let from = self.from.ok_or_else(|| setting("mail-from", "email", "from").invalid("mail needs a sender"))?;
        if self.to.is_empty() {
            return Err(setting("mail-to", "email", "to").invalid("mail needs at least one recipient"));
        }
        let credentials = match (self.username, self.password) {
            (Some(username), Some(password)) => Some(SmtpCredentials { username, password }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(setting("smtp-password", "email", "password")
                    .invalid("--smtp-user needs a password (FLOWWATCH_SMTP_PASSWORD, --smtp-password or the file)"));
            }
            (None, Some(_)) => return Err(setting("smtp-user", "email", "username").invalid("a password needs a user")),
        };
        let tls = self.tls.unwrap_or(SMTP_TLS);
        let batch = BatchPolicy {
            window: self.batch_window.map_or(MAIL_BATCH_WINDOW, |d| d.0),
            max_events: setting("mail-batch-max", "email", "batch_max")
                .at_least_one(self.batch_max.unwrap_or(MAIL_BATCH_MAX))?,
        };
        Ok(Some(EmailConfig {
            port: relay.port.unwrap_or(tls.default_port()),
            host: relay.host,
            tls,
            credentials,
            from,
            to: self.to,
            level: self.level.unwrap_or(SINK_LEVEL),
            timeout: self.timeout.map_or(MAIL_TIMEOUT, |d| d.0),
            queue: queue(("mail", "email"), self.queue, self.attempts, MAIL_QUEUE)?,
            batch,
        }))
    }
}
