//! Fan-out of alert events to every configured sink, each behind its level,
//! and of flow records to the CSV export.

use std::time::Instant;

use tracing::warn;

use super::{
    EventSink, EventsSink, FlowCsvSink, ResolvedSinkConfig, SinkStartError, SinkStats, email, syslog, webhook,
};
use crate::{
    event::{Event, Severity},
    flow::FlowRecord,
};

/// A sink and the lowest severity it reports: the stricter of
/// `--alert-level` and the sink's own level.
struct LeveledSink {
    level: Severity,
    sink: Box<dyn EventSink>,
}

impl LeveledSink {
    fn stats(&self) -> SinkStats {
        SinkStats {
            sink: self.sink.name(),
            target: self.sink.target().to_owned(),
            level: Some(self.level),
            counts: self.sink.stats(),
        }
    }
}

pub struct SinkSet {
    sinks: Vec<LeveledSink>,
    csv: Option<FlowCsvSink>,
    drain_timeout: std::time::Duration,
    alert_level: Severity,
}

impl SinkSet {
    /// Opens the local outputs and starts the network sinks' workers. Network
    /// receivers are not contacted yet: one that is down is retried later, it
    /// does not stop the agent from starting.
    pub fn from_config(config: &ResolvedSinkConfig) -> Result<Self, SinkStartError> {
        let mut sinks = Vec::new();
        let mut add = |level: Severity, sink: Box<dyn EventSink>| {
            sinks.push(LeveledSink { level: level.max(config.alert_level), sink });
        };
        if let Some(events) = &config.events {
            add(events.level, Box::new(EventsSink::open(events)?));
        }
        if let Some(webhook) = &config.webhook {
            add(webhook.level, Box::new(webhook::start(webhook)?));
        }
        if let Some(syslog) = &config.syslog {
            add(syslog.level, Box::new(syslog::start(syslog)?));
        }
        if let Some(email) = &config.email {
            add(email.level, Box::new(email::start(email)?));
        }
        let csv = config.csv.as_ref().map(FlowCsvSink::open).transpose()?;
        Ok(Self { sinks, csv, drain_timeout: config.drain_timeout, alert_level: config.alert_level })
    }

    /// Gives `event` to every sink whose level it reaches; never blocks on the network.
    pub fn deliver(&mut self, event: &Event) {
        for leveled in &mut self.sinks {
            if event.severity >= leveled.level {
                leveled.sink.deliver(event);
            }
        }
    }

    /// Whether any sink takes events (else the caller shows them another way).
    pub fn has_event_sink(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// The global `--alert-level`.
    pub fn alert_level(&self) -> Severity {
        self.alert_level
    }

    /// Writes a flow record to the CSV export, if there is one.
    pub fn deliver_flow(&mut self, record: &FlowRecord) {
        if let Some(csv) = &mut self.csv {
            csv.write(record);
        }
    }

    /// Pushes buffered output out; call after each poll.
    pub fn flush(&mut self) {
        self.sinks.iter_mut().for_each(|leveled| leveled.sink.flush());
        if let Some(csv) = &mut self.csv {
            csv.flush();
        }
    }

    /// Every sink's counts so far, for a periodic stats line.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks.iter().map(LeveledSink::stats).chain(self.csv.as_ref().map(FlowCsvSink::stats)).collect()
    }

    /// Closes every sink, giving all of them together at most the drain
    /// timeout to deliver what is queued, and returns their final counts.
    /// Warns about every sink that did not deliver everything it was given.
    pub fn close(mut self) -> Vec<SinkStats> {
        let deadline = Instant::now() + self.drain_timeout;
        self.flush();
        let mut report: Vec<SinkStats> = self
            .sinks
            .into_iter()
            .map(|leveled| {
                let (name, target) = (leveled.sink.name(), leveled.sink.target().to_owned());
                SinkStats { sink: name, target, level: Some(leveled.level), counts: leveled.sink.close(deadline) }
            })
            .collect();
        report.extend(self.csv.as_ref().map(FlowCsvSink::stats));
        for stats in &report {
            if stats.undelivered() > 0 {
                let c = &stats.counts;
                warn!(
                    sink = stats.sink,
                    target = %stats.target,
                    undelivered = stats.undelivered(),
                    failed = c.failed,
                    dropped = c.dropped,
                    still_queued = c.queued,
                    "not everything given to this sink was delivered"
                );
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use std::{net::UdpSocket, path::Path, time::Duration};

    use super::*;
    use crate::sink::{
        DeliveryCounts, EventsConfig, Facility, OutputPath, QueueConfig, RetryPolicy, SyslogConfig,
        test_support::{event_with, flow_record},
    };

    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// The `event_id`s in an NDJSON file.
    fn file_ids(path: &Path) -> TestResult<Vec<u64>> {
        std::fs::read_to_string(path)?
            .lines()
            .map(|line| Ok(serde_json::from_str::<serde_json::Value>(line)?["event_id"].as_u64().ok_or("no id")?))
            .collect()
    }

    /// The `event_id`s in the syslog datagrams waiting on `socket`.
    fn syslog_ids(socket: &UdpSocket) -> TestResult<Vec<u64>> {
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut ids = Vec::new();
        let mut datagram = [0u8; 4096];
        while let Ok(len) = socket.recv(&mut datagram) {
            let line = std::str::from_utf8(&datagram[..len])?;
            let id = line.split("event_id=\"").nth(1).and_then(|rest| rest.split('"').next()).ok_or("no id")?;
            ids.push(id.parse()?);
        }
        Ok(ids)
    }

    /// Low, medium, high, medium, low (ids 1–5) to an events file at level
    /// low and syslog at level high, under `alert_level`.
    fn deliver_to_two_sinks(alert_level: Severity) -> TestResult<(Vec<u64>, Vec<u64>, Vec<SinkStats>)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.ndjson");
        let listener = UdpSocket::bind("127.0.0.1:0")?;
        let mut set = SinkSet::from_config(&ResolvedSinkConfig {
            alert_level,
            events: Some(EventsConfig { path: OutputPath::File(path.clone()), level: Severity::Low, rotation: None }),
            syslog: Some(SyslogConfig {
                address: format!("udp://{}", listener.local_addr()?).parse()?,
                level: Severity::High,
                facility: Facility::Local0,
                hostname: None,
                timeout: Duration::from_secs(1),
                queue: QueueConfig {
                    capacity: 16,
                    retry: RetryPolicy {
                        max_attempts: 1,
                        initial_backoff: Duration::ZERO,
                        max_backoff: Duration::ZERO,
                    },
                },
            }),
            ..ResolvedSinkConfig::default()
        })?;
        let severities = [Severity::Low, Severity::Medium, Severity::High, Severity::Medium, Severity::Low];
        for (id, severity) in (1..).zip(severities) {
            set.deliver(&event_with(id, severity));
        }
        let stats = set.close();
        Ok((file_ids(&path)?, syslog_ids(&listener)?, stats))
    }

    #[test]
    fn each_sink_gets_exactly_the_events_at_or_above_its_level() -> TestResult {
        let (events, syslog, stats) = deliver_to_two_sinks(Severity::Low)?;
        assert_eq!(events, [1, 2, 3, 4, 5]);
        assert_eq!(syslog, [3]);
        let summary: Vec<_> = stats.iter().map(|s| (s.sink, s.level, s.counts.accepted, s.counts.delivered)).collect();
        assert_eq!(summary, [("events", Some(Severity::Low), 5, 5), ("syslog", Some(Severity::High), 1, 1)]);
        Ok(())
    }

    #[test]
    fn the_global_alert_level_raises_every_sink_level() -> TestResult {
        let (events, syslog, stats) = deliver_to_two_sinks(Severity::Medium)?;
        assert_eq!(events, [2, 3, 4]);
        assert_eq!(syslog, [3]);
        let levels: Vec<_> = stats.iter().map(|s| s.level).collect();
        assert_eq!(levels, [Some(Severity::Medium), Some(Severity::High)]);
        Ok(())
    }

    #[test]
    fn flows_go_to_the_csv_export_and_are_counted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("flows.csv");
        let mut set = SinkSet::from_config(&ResolvedSinkConfig {
            csv: Some(OutputPath::File(path.clone())),
            ..Default::default()
        })?;
        set.deliver_flow(&flow_record());
        set.deliver_flow(&flow_record());
        let stats = set.close();
        assert_eq!(stats.len(), 1);
        assert_eq!((stats[0].sink, stats[0].level), ("csv", None));
        assert_eq!(stats[0].counts, DeliveryCounts { accepted: 2, delivered: 2, ..DeliveryCounts::default() });
        // Header and two rows.
        assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 3);
        Ok(())
    }

    #[test]
    fn no_sinks_is_a_valid_set() -> TestResult {
        let mut set = SinkSet::from_config(&ResolvedSinkConfig::default())?;
        set.deliver(&event_with(1, Severity::High));
        set.deliver_flow(&flow_record());
        assert_eq!(set.close(), []);
        Ok(())
    }
}
