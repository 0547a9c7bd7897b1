//! The real sink against a real SMTP server (aiosmtpd, started by the test),
//! which writes every mail it accepts to a directory as JSON.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

use super::*;
use crate::sink::{
    BatchPolicy, DeliveryCounts, EventSink, RetryPolicy,
    test_support::{event, event_with},
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SERVER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_to_dir.py");

/// A python3 that can import aiosmtpd. Debian's `python3-aiosmtpd` installs
/// for `/usr/bin/python3`, which a pyenv or venv `python3` on PATH may hide.
fn python_with_aiosmtpd() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// The SMTP server process; killed (by its pid) when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    mail_dir: tempfile::TempDir,
}

impl SmtpServer {
    /// `None` (after saying why) when aiosmtpd is not installed.
    fn start(reply_codes: &[&str]) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let Some(python) = python_with_aiosmtpd() else {
            eprintln!(
                "SKIPPED: python3 cannot import aiosmtpd; install it with `apt-get install python3-aiosmtpd` \
                 (cargo xtask setup does)"
            );
            return Ok(None);
        };
        let mail_dir = tempfile::tempdir()?;
        let mut child = Command::new(python)
            .arg(SERVER_SCRIPT)
            .arg(mail_dir.path())
            .args(reply_codes)
            .stdout(Stdio::piped())
            .spawn()?;
        let mut first_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut first_line)?;
        }
        // Built before the port is checked, so a bad start still kills the process.
        let mut server = Self { port: 0, child, mail_dir };
        server.port =
            first_line.trim().parse().map_err(|_| format!("SMTP server printed {first_line:?}, not a port"))?;
        Ok(Some(server))
    }

    /// The mails received so far, in order.
    fn mails(&self) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(self.mail_dir.path())?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
        paths.sort();
        paths.iter().map(|path| read_json(path)).collect()
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(port: u16, max_attempts: u32, batch: BatchPolicy) -> Result<EmailConfig, lettre::address::AddressError> {
    Ok(EmailConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        credentials: None,
        from: "flowwatch <alerts@sensor.test>".parse()?,
        to: vec!["soc@example.test".parse()?, "Night Shift <oncall@example.test>".parse()?],
        level: Severity::Low,
        timeout: Duration::from_secs(5),
        queue: QueueConfig {
            capacity: 16,
            retry: RetryPolicy {
                max_attempts,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(40),
            },
        },
        batch,
    })
}

fn send(config: &EmailConfig, events: &[Event]) -> Result<DeliveryCounts, SinkStartError> {
    let mut sink = Box::new(start(config)?);
    for event in events {
        sink.deliver(event);
    }
    Ok(sink.close(Instant::now() + Duration::from_secs(20)))
}

/// The JSON documents after each marker in a mail body.
fn event_jsons(body: &str) -> Result<Vec<serde_json::Value>, serde_json::Error> {
    body.split(render::JSON_MARKER)
        .skip(1)
        .map(|after| {
            // Each JSON object ends at the first line that is exactly "}".
            let end = after.find("\n}\n").map_or(after.len(), |i| i + 2);
            serde_json::from_str(&after[..end])
        })
        .collect()
}

#[test]
fn one_mail_per_event_with_subject_recipients_and_json() -> TestResult {
    let Some(server) = SmtpServer::start(&[])? else { return Ok(()) };
    let events = [event(1), event_with(2, Severity::Medium)];
    let counts = send(&config(server.port, 3, BatchPolicy::SINGLE)?, &events)?;
    assert_eq!(counts, DeliveryCounts { accepted: 2, delivered: 2, ..DeliveryCounts::default() });
    let mails = server.mails()?;
    assert_eq!(mails.len(), 2);
    for (mail, event) in mails.iter().zip(&events) {
        assert_eq!(mail["mail_from"], "alerts@sensor.test");
        assert_eq!(mail["rcpt_tos"], serde_json::json!(["soc@example.test", "oncall@example.test"]));
        assert_eq!(mail["from"], "flowwatch <alerts@sensor.test>");
        assert_eq!(mail["to"], "soc@example.test, Night Shift <oncall@example.test>");
        assert_eq!(mail["content_type"], "text/plain");
        let body = mail["body"].as_str().ok_or("no text body")?;
        assert_eq!(event_jsons(body)?, [serde_json::to_value(event)?]);
    }
    assert_eq!(
        mails[0]["subject"],
        "[flowwatch] HIGH port_scan: port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 1)"
    );
    assert_eq!(
        mails[1]["subject"],
        "[flowwatch] MEDIUM port_scan: port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 2)"
    );
    Ok(())
}

#[test]
fn a_batch_window_sends_one_mail_for_a_burst() -> TestResult {
    let Some(server) = SmtpServer::start(&[])? else { return Ok(()) };
    let events = [event_with(1, Severity::Low), event(2), event_with(3, Severity::Medium)];
    let batch = BatchPolicy { window: Duration::from_secs(10), max_events: 50 };
    let counts = send(&config(server.port, 3, batch)?, &events)?;
    assert_eq!(counts, DeliveryCounts { accepted: 3, delivered: 3, ..DeliveryCounts::default() });
    let mails = server.mails()?;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0]["subject"],
        "[flowwatch] 3 alerts, highest HIGH: port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 1) (+2 more)"
    );
    let expected: Vec<serde_json::Value> = events.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
    assert_eq!(event_jsons(mails[0]["body"].as_str().ok_or("no text body")?)?, expected);
    Ok(())
}

#[test]
fn a_4xx_reply_is_retried_and_a_5xx_reply_is_not() -> TestResult {
    let Some(server) = SmtpServer::start(&["451", "554"])? else { return Ok(()) };
    // Event 1: 451, retried, then 554: rejected. Event 2: accepted.
    let counts = send(&config(server.port, 5, BatchPolicy::SINGLE)?, &[event(1), event(2)])?;
    assert_eq!(
        counts,
        DeliveryCounts { accepted: 2, delivered: 1, failed: 1, retries: 1, ..DeliveryCounts::default() }
    );
    let mails = server.mails()?;
    assert_eq!(mails.len(), 1);
    assert_eq!(event_jsons(mails[0]["body"].as_str().ok_or("no text body")?)?, [serde_json::to_value(event(2))?]);
    Ok(())
}

#[test]
fn relay_addresses_parse() -> TestResult {
    for (input, host, port, printed) in [
        ("mail.example.test:2525", "mail.example.test", Some(2525), "mail.example.test:2525"),
        ("localhost", "localhost", None, "localhost"),
        ("[::1]:25", "::1", Some(25), "[::1]:25"),
    ] {
        let relay: RelayAddr = input.parse()?;
        assert_eq!((relay.host.as_str(), relay.port, relay.to_string().as_str()), (host, port, printed));
    }
    assert!("host:port".parse::<RelayAddr>().is_err());
    assert!(":25".parse::<RelayAddr>().is_err());
    assert_eq!([SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls].map(SmtpTls::default_port), [25, 587, 465]);
    Ok(())
}
