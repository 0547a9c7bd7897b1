//! Sink settings, as given on the command line and in the config file's
//! `[sinks]` table.
//!
//! One set of structs serves both: each field is a flag (clap) and a key
//! (serde), and every field is optional so the two sources can be merged
//! field by field — the command line wins — before
//! [`SinkSettings::resolve`](super::resolve) applies the defaults, which only
//! it knows. (The `[default: …]` in the help texts is checked against it by a
//! test.)

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use bytesize::ByteSize;
use clap::Args;
use lettre::message::Mailbox;
use serde::Deserialize;

use super::{HttpUrl, OutputPath, RelayAddr, ResolvedSinkConfig, SmtpTls, SyslogAddr, syslog::Facility};
use crate::{
    config::{Config, ConfigError},
    duration::{DurationError, parse_duration},
    event::Severity,
};

/// Sink flags plus `--config`: what a command flattens into its arguments.
#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct SinkArgs {
    /// TOML config file; a setting given on the command line wins over the file's, setting by setting.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub sinks: SinkSettings,
}

impl SinkArgs {
    /// Reads the config file if one was given, lets the command line override
    /// it and applies the defaults.
    pub fn resolve(self) -> Result<ResolvedSinkConfig, ConfigError> {
        let file = self.config_file()?;
        self.resolve_over(file.sinks)
    }

    /// The config file given with `--config`, or the empty default.
    pub fn config_file(&self) -> Result<Config, ConfigError> {
        self.config.as_deref().map_or_else(|| Ok(Config::default()), Config::load)
    }

    /// Lets the command line override `file` (the `[sinks]` of an already
    /// loaded config file) and applies the defaults.
    pub fn resolve_over(self, file: SinkSettings) -> Result<ResolvedSinkConfig, ConfigError> {
        self.sinks.over(file).resolve()
    }
}

/// `[sinks]` in the config file; the alert flags on the command line.
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Alerts")]
pub struct SinkSettings {
    /// Report only events at or above this level; each sink may be stricter [default: low].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub alert_level: Option<Severity>,

    /// At exit, how long to wait for queued alerts to go out [default: 5s].
    #[arg(id = "sink_drain_timeout", long = "sink-drain-timeout", value_name = "DURATION")]
    pub drain_timeout: Option<HumanDuration>,

    #[command(flatten)]
    #[serde(default)]
    pub events: EventsSettings,

    #[command(flatten)]
    #[serde(default)]
    pub webhook: WebhookSettings,

    #[command(flatten)]
    #[serde(default)]
    pub syslog: SyslogSettings,

    #[command(flatten)]
    #[serde(default)]
    pub email: EmailSettings,

    #[command(flatten)]
    #[serde(default)]
    pub csv: CsvSettings,
}

/// `[sinks.events]`
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Alert events (NDJSON)")]
pub struct EventsSettings {
    /// Alert events as NDJSON to this file (appended to), `-` for stdout.
    #[arg(id = "events", long = "events", value_name = "PATH")]
    pub path: Option<OutputPath>,

    /// Lowest severity written as events [default: low].
    #[arg(id = "events_level", long = "events-level", value_enum, value_name = "LEVEL")]
    pub level: Option<Severity>,

    /// Rotate the events file before it grows past this size (e.g. 10MiB, 500kB); default: never.
    #[arg(id = "events_max_size", long = "events-max-size", value_name = "SIZE")]
    pub max_size: Option<ByteSize>,

    /// Rotated events files to keep (PATH.1 newest … PATH.N) [default: 5].
    #[arg(id = "events_keep", long = "events-keep", value_name = "N")]
    pub keep: Option<usize>,
}

/// `[sinks.webhook]`
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Webhook")]
pub struct WebhookSettings {
    /// POST each alert as JSON to this http:// or https:// URL.
    #[arg(id = "webhook", long = "webhook", value_name = "URL")]
    pub url: Option<HttpUrl>,

    /// Lowest severity posted [default: low].
    #[arg(id = "webhook_level", long = "webhook-level", value_enum, value_name = "LEVEL")]
    pub level: Option<Severity>,

    /// Alerts waiting to be posted; more are dropped and counted [default: 1024].
    #[arg(id = "webhook_queue", long = "webhook-queue", value_name = "N")]
    pub queue: Option<usize>,

    /// Timeout of one POST, connection included [default: 5s].
    #[arg(id = "webhook_timeout", long = "webhook-timeout", value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,

    /// Attempts per alert, the first included, with exponential backoff between them [default: 5].
    #[arg(id = "webhook_attempts", long = "webhook-attempts", value_name = "N")]
    pub attempts: Option<u32>,
}

/// `[sinks.syslog]`
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Syslog")]
pub struct SyslogSettings {
    /// Send alerts as RFC 5424 syslog to udp://HOST:PORT, tcp://HOST:PORT or unix:PATH (e.g. unix:/dev/log).
    #[arg(id = "syslog", long = "syslog", value_name = "ADDR")]
    pub address: Option<SyslogAddr>,

    /// Lowest severity sent [default: low].
    #[arg(id = "syslog_level", long = "syslog-level", value_enum, value_name = "LEVEL")]
    pub level: Option<Severity>,

    /// Syslog facility [default: daemon].
    #[arg(id = "syslog_facility", long = "syslog-facility", value_enum, value_name = "FACILITY")]
    pub facility: Option<Facility>,

    /// HOSTNAME in the messages; default: this machine's name.
    #[arg(id = "syslog_hostname", long = "syslog-hostname", value_name = "NAME")]
    pub hostname: Option<String>,

    /// Alerts waiting to be sent; more are dropped and counted [default: 1024].
    #[arg(id = "syslog_queue", long = "syslog-queue", value_name = "N")]
    pub queue: Option<usize>,

    /// Attempts per alert, the first included [default: 5].
    #[arg(id = "syslog_attempts", long = "syslog-attempts", value_name = "N")]
    pub attempts: Option<u32>,
}

/// `[sinks.email]`
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Mail")]
pub struct EmailSettings {
    /// Mail alerts through this SMTP relay, HOST or HOST:PORT (port default: 25, 587 with STARTTLS, 465 with TLS).
    #[arg(id = "smtp_relay", long = "smtp-relay", value_name = "HOST:PORT")]
    pub relay: Option<RelayAddr>,

    /// Protection of the relay connection [default: none].
    #[arg(id = "smtp_tls", long = "smtp-tls", value_enum, value_name = "MODE")]
    pub tls: Option<SmtpTls>,

    /// Log in to the relay as this user (needs a password).
    #[arg(id = "smtp_user", long = "smtp-user", value_name = "USER")]
    pub username: Option<String>,

    /// Password for --smtp-user; prefer the environment variable, which `ps` does not show.
    #[arg(
        id = "smtp_password",
        long = "smtp-password",
        value_name = "PASSWORD",
        env = "FLOWWATCH_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<Secret>,

    /// Sender, e.g. "flowwatch <alerts@example.org>".
    #[arg(id = "mail_from", long = "mail-from", value_name = "ADDRESS")]
    pub from: Option<Mailbox>,

    /// Recipient; repeat for several.
    #[arg(id = "mail_to", long = "mail-to", value_name = "ADDRESS")]
    #[serde(default)]
    pub to: Vec<Mailbox>,

    /// Lowest severity mailed [default: low].
    #[arg(id = "mail_level", long = "mail-level", value_enum, value_name = "LEVEL")]
    pub level: Option<Severity>,

    /// Alerts waiting to be mailed; more are dropped and counted [default: 256].
    #[arg(id = "mail_queue", long = "mail-queue", value_name = "N")]
    pub queue: Option<usize>,

    /// Attempts per mail, the first included [default: 5].
    #[arg(id = "mail_attempts", long = "mail-attempts", value_name = "N")]
    pub attempts: Option<u32>,

    /// Timeout of each SMTP connection and command [default: 30s].
    #[arg(id = "mail_timeout", long = "mail-timeout", value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,

    /// Gather the alerts that arrive this long after a first one into one mail; 0 mails each alone [default: 0s].
    #[arg(id = "mail_batch_window", long = "mail-batch-window", value_name = "DURATION")]
    pub batch_window: Option<HumanDuration>,

    /// Most alerts in one mail [default: 100].
    #[arg(id = "mail_batch_max", long = "mail-batch-max", value_name = "N")]
    pub batch_max: Option<usize>,
}

/// `[sinks.csv]`
#[derive(Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Flow export")]
pub struct CsvSettings {
    /// Also write flow records as CSV to this file (truncated), `-` for stdout.
    #[arg(id = "csv", long = "csv", value_name = "PATH")]
    pub path: Option<OutputPath>,
}

impl SinkSettings {
    /// `self` (the command line) wins over `file`, field by field.
    pub fn over(self, file: Self) -> Self {
        Self {
            alert_level: self.alert_level.or(file.alert_level),
            drain_timeout: self.drain_timeout.or(file.drain_timeout),
            events: self.events.over(file.events),
            webhook: self.webhook.over(file.webhook),
            syslog: self.syslog.over(file.syslog),
            email: self.email.over(file.email),
            csv: self.csv.over(file.csv),
        }
    }
}

impl EventsSettings {
    fn over(self, file: Self) -> Self {
        Self {
            path: self.path.or(file.path),
            level: self.level.or(file.level),
            max_size: self.max_size.or(file.max_size),
            keep: self.keep.or(file.keep),
        }
    }
}

impl WebhookSettings {
    fn over(self, file: Self) -> Self {
        Self {
            url: self.url.or(file.url),
            level: self.level.or(file.level),
            queue: self.queue.or(file.queue),
            timeout: self.timeout.or(file.timeout),
            attempts: self.attempts.or(file.attempts),
        }
    }
}

impl SyslogSettings {
    fn over(self, file: Self) -> Self {
        Self {
            address: self.address.or(file.address),
            level: self.level.or(file.level),
            facility: self.facility.or(file.facility),
            hostname: self.hostname.or(file.hostname),
            queue: self.queue.or(file.queue),
            attempts: self.attempts.or(file.attempts),
        }
    }
}

impl EmailSettings {
    fn over(self, file: Self) -> Self {
        Self {
            relay: self.relay.or(file.relay),
            tls: self.tls.or(file.tls),
            username: self.username.or(file.username),
            password: self.password.or(file.password),
            from: self.from.or(file.from),
            // A list is replaced as a whole: recipients on the command line replace the file's.
            to: if self.to.is_empty() { file.to } else { self.to },
            level: self.level.or(file.level),
            queue: self.queue.or(file.queue),
            attempts: self.attempts.or(file.attempts),
            timeout: self.timeout.or(file.timeout),
            batch_window: self.batch_window.or(file.batch_window),
            batch_max: self.batch_max.or(file.batch_max),
        }
    }
}

impl CsvSettings {
    fn over(self, file: Self) -> Self {
        Self { path: self.path.or(file.path) }
    }
}

/// A duration setting: seconds (`2.5`) or with a unit (`250ms`, `30s`, `5m`),
/// the same spellings on the command line and in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Self)
    }
}

deserialize_from_str!(HumanDuration);

/// A password; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

deserialize_from_str!(Secret);
