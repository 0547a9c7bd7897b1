//! Syslog: RFC 5424 messages over UDP, TCP or a unix socket.

mod format;
mod transport;

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

pub use format::Rfc5424Formatter;
use serde::Deserialize;
use transport::SyslogTransport;

use super::{
    QueuedSink, SinkStartError,
    queue::{BatchPolicy, QueueConfig},
};
use crate::event::Severity;

/// Where syslog messages go: `udp://HOST:PORT`, `tcp://HOST:PORT` or `unix:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogAddr {
    /// `HOST:PORT`, resolved at every (re)connect.
    Udp(String),
    Tcp(String),
    /// A datagram socket, e.g. `/dev/log`.
    Unix(PathBuf),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid syslog address {0:?}: expected udp://HOST:PORT, tcp://HOST:PORT or unix:PATH (e.g. unix:/dev/log)")]
pub struct InvalidSyslogAddr(String);

impl FromStr for SyslogAddr {
    type Err = InvalidSyslogAddr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidSyslogAddr(s.to_owned());
        let host_port = |rest: &str| {
            let (host, port) = rest.rsplit_once(':').ok_or_else(invalid)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid());
            }
            Ok(rest.to_owned())
        };
        if let Some(rest) = s.strip_prefix("udp://") {
            Ok(Self::Udp(host_port(rest)?))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(Self::Tcp(host_port(rest)?))
        } else if let Some(path) = s.strip_prefix("unix:") {
            // `unix:/dev/log` and `unix:///dev/log` alike.
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() { Err(invalid()) } else { Ok(Self::Unix(PathBuf::from(path))) }
        } else {
            Err(invalid())
        }
    }
}

deserialize_from_str!(SyslogAddr);

impl fmt::Display for SyslogAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(host_port) => write!(f, "udp://{host_port}"),
            Self::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Syslog facilities (RFC 5424 table 1), in code order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Ntp,
    Audit,
    Alert,
    Clock,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    pub const fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogConfig {
    pub address: SyslogAddr,
    pub level: Severity,
    pub facility: Facility,
    /// HOSTNAME in the header; `None` uses this machine's name.
    pub hostname: Option<String>,
    /// TCP connect and write timeout.
    pub timeout: Duration,
    pub queue: QueueConfig,
}

pub(crate) fn start(config: &SyslogConfig) -> Result<QueuedSink, SinkStartError> {
    let hostname = match &config.hostname {
        Some(name) => name.clone(),
        // An unreadable hostname leaves the NILVALUE, as the RFC prescribes.
        None => hostname::get().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let formatter = Rfc5424Formatter::new(config.facility, &hostname, std::process::id());
    let transport = SyslogTransport::new(config.address.clone(), formatter, config.timeout);
    QueuedSink::start("syslog", config.address.to_string(), transport, config.queue, BatchPolicy::SINGLE)
}

#[cfg(test)]
mod tests;
