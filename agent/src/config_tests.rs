//! The config file, the sink flags, how they merge and what they resolve to.

use std::{io::Write, path::PathBuf, time::Duration};

use clap::{CommandFactory, Parser};

use super::*;
use crate::{
    event::Severity,
    sink::{
        BatchPolicy, EmailConfig, EventsConfig, Facility, HumanDuration, OutputPath, QueueConfig, ResolvedSinkConfig,
        RetryPolicy, Rotation, Secret, SinkArgs, SmtpCredentials, SmtpTls, SyslogAddr, SyslogConfig, WebhookConfig,
    },
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The sink flags as a command would flatten them.
#[derive(Debug, Parser)]
struct TestCli {
    #[command(flatten)]
    sinks: SinkArgs,
}

fn parse_cli(args: &[&str]) -> Result<SinkArgs, clap::Error> {
    TestCli::try_parse_from(std::iter::once("flowwatch").chain(args.iter().copied())).map(|cli| cli.sinks)
}

const FULL: &str = r#"
[sinks]
alert_level = "medium"
drain_timeout = "2s"

[sinks.events]
path = "/var/log/flowwatch/events.ndjson"
level = "low"
max_size = "10MiB"
keep = 3

[sinks.webhook]
url = "https://hooks.example.test/flowwatch?token=abc"
level = "high"
queue = 64
timeout = "750ms"
attempts = 7

[sinks.syslog]
address = "tcp://logs.example.test:601"
level = "medium"
facility = "local3"
hostname = "edge-1"
queue = 32
attempts = 2

[sinks.email]
relay = "smtp.example.test"
tls = "starttls"
username = "alerts"
password = "hunter2"
from = "flowwatch <alerts@example.test>"
to = ["soc@example.test", "oncall@example.test"]
level = "high"
queue = 8
attempts = 4
timeout = "10s"
batch_window = "30s"
batch_max = 20

[sinks.csv]
path = "-"
"#;

fn retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(30) }
}

#[test]
fn a_full_file_resolves_to_exactly_its_settings() -> TestResult {
    let config = Config::parse(FULL, Path::new("flowwatch.toml"))?;
    let resolved = config.sinks.resolve()?;
    let expected = ResolvedSinkConfig {
        alert_level: Severity::Medium,
        drain_timeout: Duration::from_secs(2),
        events: Some(EventsConfig {
            path: OutputPath::File("/var/log/flowwatch/events.ndjson".into()),
            level: Severity::Low,
            rotation: Some(Rotation { max_size: 10 * 1024 * 1024, keep: 3 }),
        }),
        webhook: Some(WebhookConfig {
            url: "https://hooks.example.test/flowwatch?token=abc".parse()?,
            level: Severity::High,
            timeout: Duration::from_millis(750),
            queue: QueueConfig { capacity: 64, retry: retry(7) },
        }),
        syslog: Some(SyslogConfig {
            address: SyslogAddr::Tcp("logs.example.test:601".into()),
            level: Severity::Medium,
            facility: Facility::Local3,
            hostname: Some("edge-1".into()),
            timeout: Duration::from_secs(5),
            queue: QueueConfig { capacity: 32, retry: retry(2) },
        }),
        email: Some(EmailConfig {
            host: "smtp.example.test".into(),
            port: 587,
            tls: SmtpTls::Starttls,
            credentials: Some(SmtpCredentials { username: "alerts".into(), password: Secret::new("hunter2") }),
            from: "flowwatch <alerts@example.test>".parse()?,
            to: vec!["soc@example.test".parse()?, "oncall@example.test".parse()?],
            level: Severity::High,
            timeout: Duration::from_secs(10),
            queue: QueueConfig { capacity: 8, retry: retry(4) },
            batch: BatchPolicy { window: Duration::from_secs(30), max_events: 20 },
        }),
        csv: Some(OutputPath::Stdout),
    };
    assert_eq!(resolved, expected);
    Ok(())
}

#[test]
fn the_same_settings_as_flags_resolve_the_same() -> TestResult {
    let args = parse_cli(&[
        "--alert-level=medium",
        "--sink-drain-timeout=2s",
        "--events=/var/log/flowwatch/events.ndjson",
        "--events-level=low",
        "--events-max-size=10MiB",
        "--events-keep=3",
        "--webhook=https://hooks.example.test/flowwatch?token=abc",
        "--webhook-level=high",
        "--webhook-queue=64",
        "--webhook-timeout=750ms",
        "--webhook-attempts=7",
        "--syslog=tcp://logs.example.test:601",
        "--syslog-level=medium",
        "--syslog-facility=local3",
        "--syslog-hostname=edge-1",
        "--syslog-queue=32",
        "--syslog-attempts=2",
        "--smtp-relay=smtp.example.test",
        "--smtp-tls=starttls",
        "--smtp-user=alerts",
        "--smtp-password=hunter2",
        "--mail-from=flowwatch <alerts@example.test>",
        "--mail-to=soc@example.test",
        "--mail-to=oncall@example.test",
        "--mail-level=high",
        "--mail-queue=8",
        "--mail-attempts=4",
        "--mail-timeout=10s",
        "--mail-batch-window=30s",
        "--mail-batch-max=20",
        "--csv=-",
    ])?;
    let file = Config::parse(FULL, Path::new("flowwatch.toml"))?;
    assert_eq!(args.sinks, file.sinks);
    Ok(())
}

#[test]
fn an_unknown_key_is_rejected_with_file_and_line() {
    let text = "[sinks.webhook]\nurl = \"http://127.0.0.1:8080/\"\nlevle = \"high\"\n";
    let error = Config::parse(text, Path::new("/etc/flowwatch.toml")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.starts_with("config file /etc/flowwatch.toml: TOML parse error at line 3, column 1"), "{error}");
    assert!(error.contains("unknown field `levle`, expected one of `url`, `level`"), "{error}");
}

#[test]
fn a_bad_value_is_rejected_with_its_line_and_what_to_write() {
    let text = "[sinks]\nalert_level = \"low\"\n\n[sinks.syslog]\naddress = \"logs:514\"\n";
    let error = Config::parse(text, Path::new("f.toml")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.starts_with("config file f.toml: TOML parse error at line 5, column 11"), "{error}");
    assert!(error.contains("expected udp://HOST:PORT, tcp://HOST:PORT or unix:PATH"), "{error}");
    let error = Config::parse("[sinks]\nalert_level = \"urgent\"\n", Path::new("f.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("line 2") && error.contains("unknown variant `urgent`"), "{error}");
}

#[test]
fn an_unknown_table_is_rejected() {
    let error = Config::parse("[sink]\n", Path::new("f.toml")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("line 1") && error.contains("unknown field `sink`, expected `sinks`"), "{error}");
}

#[test]
fn a_missing_file_says_which() {
    let error = Config::load(Path::new("/nonexistent/flowwatch.toml")).err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("cannot read the config file /nonexistent/flowwatch.toml: No such file or directory (os error 2)")
    );
}

#[test]
fn the_command_line_wins_field_by_field() -> TestResult {
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(FULL.as_bytes())?;
    let path = file.path().to_str().ok_or("temp path is not UTF-8")?;
    let resolved = parse_cli(&[
        "--config",
        path,
        "--webhook-level",
        "low",
        "--syslog",
        "udp://127.0.0.1:514",
        "--mail-to",
        "cli@example.test",
    ])?
    .resolve()?;
    let webhook = resolved.webhook.ok_or("webhook is off")?;
    // From the command line…
    assert_eq!(webhook.level, Severity::Low);
    // …the rest of the same table from the file.
    assert_eq!((webhook.url.redacted(), webhook.queue.capacity), ("https://hooks.example.test/flowwatch", 64));
    let syslog = resolved.syslog.ok_or("syslog is off")?;
    assert_eq!((syslog.address, syslog.facility), (SyslogAddr::Udp("127.0.0.1:514".into()), Facility::Local3));
    // A list from the command line replaces the file's.
    let email = resolved.email.ok_or("email is off")?;
    assert_eq!(email.to, vec!["cli@example.test".parse::<lettre::message::Mailbox>()?]);
    assert_eq!(resolved.alert_level, Severity::Medium);
    Ok(())
}

#[test]
fn defaults_apply_to_what_neither_source_sets() -> TestResult {
    let resolved = parse_cli(&["--webhook", "http://127.0.0.1:9000/a", "--events", "-"])?.resolve()?;
    let expected = ResolvedSinkConfig {
        alert_level: Severity::Low,
        drain_timeout: Duration::from_secs(5),
        events: Some(EventsConfig { path: OutputPath::Stdout, level: Severity::Low, rotation: None }),
        webhook: Some(WebhookConfig {
            url: "http://127.0.0.1:9000/a".parse()?,
            level: Severity::Low,
            timeout: Duration::from_secs(5),
            queue: QueueConfig { capacity: 1024, retry: retry(5) },
        }),
        ..ResolvedSinkConfig::default()
    };
    assert_eq!(resolved, expected);
    assert_eq!(parse_cli(&[])?.resolve()?, ResolvedSinkConfig::default());
    Ok(())
}

#[test]
fn settings_that_do_not_fit_together_say_which_and_why() -> TestResult {
    let problem = |args: &[&str]| -> Result<String, clap::Error> {
        Ok(parse_cli(args)?.resolve().err().map(|e| e.to_string()).unwrap_or_default())
    };
    assert_eq!(
        problem(&["--webhook-level", "high"])?,
        "--webhook / url in [sinks.webhook]: the other webhook settings need a URL"
    );
    assert_eq!(
        problem(&["--events", "-", "--events-max-size", "1MiB"])?,
        "--events-max-size / max_size in [sinks.events]: stdout cannot be rotated"
    );
    assert_eq!(
        problem(&["--events", "e.ndjson", "--events-keep", "2"])?,
        "--events-keep / keep in [sinks.events]: only applies with --events-max-size"
    );
    assert_eq!(
        problem(&["--webhook", "http://h:1/", "--webhook-queue", "0"])?,
        "--webhook-queue / queue in [sinks.webhook]: must be at least 1"
    );
    assert_eq!(
        problem(&["--smtp-relay", "mx:25", "--mail-to", "a@b.test"])?,
        "--mail-from / from in [sinks.email]: mail needs a sender"
    );
    assert_eq!(
        problem(&["--smtp-relay", "mx:25", "--mail-from", "a@b.test"])?,
        "--mail-to / to in [sinks.email]: mail needs at least one recipient"
    );
    assert_eq!(
        problem(&["--smtp-relay", "mx", "--mail-from", "a@b.test", "--mail-to", "c@d.test", "--smtp-user", "u"])?,
        "--smtp-password / password in [sinks.email]: --smtp-user needs a password \
         (FLOWWATCH_SMTP_PASSWORD, --smtp-password or the file)"
    );
    Ok(())
}

#[test]
fn bad_flag_values_are_rejected_by_the_parser() {
    for args in [
        &["--alert-level", "urgent"][..],
        &["--webhook", "ftp://x/"],
        &["--syslog", "x:514"],
        &["--events-max-size", "lots"],
        &["--mail-to", "not an address"],
        &["--webhook-timeout", "soon"],
    ] {
        assert!(parse_cli(args).is_err(), "{args:?} was accepted");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() -> TestResult {
    let args = parse_cli(&["--smtp-password", "hunter2", "--webhook", "https://u:pw@h.test/x?token=t"])?;
    let debug = format!("{args:?}");
    assert!(!debug.contains("hunter2") && !debug.contains("pw@") && !debug.contains("token=t"), "{debug}");
    Ok(())
}

/// Help texts state defaults in words; they must be the defaults `resolve` applies.
#[test]
fn help_states_the_defaults_resolve_applies() -> TestResult {
    use crate::sink::resolve as d;
    let secs = |duration: Duration| format!("{}s", duration.as_secs());
    let expected = [
        ("alert-level", d::ALERT_LEVEL.to_string()),
        ("sink-drain-timeout", secs(d::DRAIN_TIMEOUT)),
        ("events-level", d::SINK_LEVEL.to_string()),
        ("events-keep", d::EVENTS_KEEP.to_string()),
        ("webhook-level", d::SINK_LEVEL.to_string()),
        ("webhook-queue", d::WEBHOOK_QUEUE.to_string()),
        ("webhook-timeout", secs(d::WEBHOOK_TIMEOUT)),
        ("webhook-attempts", d::ATTEMPTS.to_string()),
        ("syslog-level", d::SINK_LEVEL.to_string()),
        ("syslog-facility", format!("{:?}", d::SYSLOG_FACILITY).to_lowercase()),
        ("syslog-queue", d::SYSLOG_QUEUE.to_string()),
        ("syslog-attempts", d::ATTEMPTS.to_string()),
        ("smtp-tls", format!("{:?}", d::SMTP_TLS).to_lowercase()),
        ("mail-level", d::SINK_LEVEL.to_string()),
        ("mail-queue", d::MAIL_QUEUE.to_string()),
        ("mail-attempts", d::ATTEMPTS.to_string()),
        ("mail-timeout", secs(d::MAIL_TIMEOUT)),
        ("mail-batch-window", secs(d::MAIL_BATCH_WINDOW)),
        ("mail-batch-max", d::MAIL_BATCH_MAX.to_string()),
    ];
    let command = TestCli::command();
    for (flag, default) in expected {
        let arg = command.get_arguments().find(|arg| arg.get_long() == Some(flag)).ok_or(flag)?;
        let help = arg.get_help().map(|help| help.to_string()).unwrap_or_default();
        assert!(
            help.ends_with(&format!("[default: {default}]")),
            "--{flag}: {help:?} should end with [default: {default}]"
        );
    }
    Ok(())
}

#[test]
fn the_flag_set_is_consistent() {
    TestCli::command().debug_assert();
}

#[test]
fn durations_and_paths_parse_like_their_flags() -> TestResult {
    assert_eq!("2.5".parse::<HumanDuration>()?, HumanDuration(Duration::from_millis(2500)));
    assert_eq!("-".parse::<OutputPath>()?.to_string(), "-");
    assert_eq!(PathBuf::from("a/b").display().to_string(), "a/b".parse::<OutputPath>()?.to_string());
    Ok(())
}
