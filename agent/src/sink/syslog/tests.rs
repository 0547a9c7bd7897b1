//! The real sink against UDP, TCP and unix-socket listeners on loopback.

use std::{
    io::Read,
    net::{TcpListener, UdpSocket},
    os::unix::net::UnixDatagram,
    thread,
    time::{Duration, Instant},
};

use super::{format::tests::EXPECTED, *};
use crate::sink::{
    DeliveryCounts, EventSink, RetryPolicy,
    test_support::{event, event_with},
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(5);

fn config(address: &str, max_attempts: u32) -> Result<SyslogConfig, InvalidSyslogAddr> {
    Ok(SyslogConfig {
        address: address.parse()?,
        level: Severity::Low,
        facility: Facility::Local4,
        hostname: Some("sensor-1".to_owned()),
        timeout: Duration::from_secs(2),
        queue: QueueConfig {
            capacity: 16,
            retry: RetryPolicy {
                max_attempts,
                initial_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(20),
            },
        },
    })
}

/// The fixed line from the formatter tests, with this process's PROCID.
fn expected_line() -> String {
    EXPECTED.replace(" flowwatch 4242 ", &format!(" flowwatch {} ", std::process::id()))
}

fn send(config: &SyslogConfig, events: &[crate::event::Event]) -> Result<DeliveryCounts, SinkStartError> {
    let mut sink = Box::new(start(config)?);
    for event in events {
        sink.deliver(event);
    }
    Ok(sink.close(Instant::now() + WAIT))
}

#[test]
fn udp_datagram_is_the_exact_rfc5424_line() -> TestResult {
    let listener = UdpSocket::bind("127.0.0.1:0")?;
    listener.set_read_timeout(Some(WAIT))?;
    let address = format!("udp://{}", listener.local_addr()?);
    let counts = send(&config(&address, 3)?, &[event(7)])?;
    assert_eq!(counts, DeliveryCounts { accepted: 1, delivered: 1, ..DeliveryCounts::default() });
    let mut datagram = [0u8; 4096];
    let len = listener.recv(&mut datagram)?;
    assert_eq!(std::str::from_utf8(&datagram[..len])?, expected_line());
    Ok(())
}

#[test]
fn tcp_frames_are_octet_counted() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = format!("tcp://{}", listener.local_addr()?);
    let reader = thread::spawn(move || -> std::io::Result<String> {
        let (mut stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(WAIT))?;
        let mut received = String::new();
        // The sink closes its connection when it is closed.
        stream.read_to_string(&mut received)?;
        Ok(received)
    });
    let second = event_with(8, Severity::Medium);
    let counts = send(&config(&address, 3)?, &[event(7), second.clone()])?;
    assert_eq!(counts, DeliveryCounts { accepted: 2, delivered: 2, ..DeliveryCounts::default() });
    let received = reader.join().map_err(|_| "reader panicked")??;
    let first_line = expected_line();
    let second_line = Rfc5424Formatter::new(Facility::Local4, "sensor-1", std::process::id()).format(&second);
    assert!(second_line.starts_with("<164>1 "), "{second_line}");
    assert_eq!(received, format!("{} {first_line}{} {second_line}", first_line.len(), second_line.len()));
    Ok(())
}

#[test]
fn unix_datagram_socket_receives_the_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log");
    let listener = UnixDatagram::bind(&path)?;
    listener.set_read_timeout(Some(WAIT))?;
    let counts = send(&config(&format!("unix:{}", path.display()), 3)?, &[event(7)])?;
    assert_eq!(counts.delivered, 1);
    let mut datagram = [0u8; 4096];
    let len = listener.recv(&mut datagram)?;
    assert_eq!(std::str::from_utf8(&datagram[..len])?, expected_line());
    Ok(())
}

#[test]
fn a_refused_tcp_connection_is_retried_then_counted_as_failed() -> TestResult {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let counts = send(&config(&format!("tcp://127.0.0.1:{port}"), 3)?, &[event(1)])?;
    assert_eq!(counts, DeliveryCounts { accepted: 1, failed: 1, retries: 2, ..DeliveryCounts::default() });
    Ok(())
}

#[test]
fn addresses_parse_and_print_back() -> TestResult {
    for (input, parsed, printed) in [
        ("udp://127.0.0.1:514", SyslogAddr::Udp("127.0.0.1:514".into()), "udp://127.0.0.1:514"),
        ("tcp://[::1]:601", SyslogAddr::Tcp("[::1]:601".into()), "tcp://[::1]:601"),
        ("unix:/dev/log", SyslogAddr::Unix("/dev/log".into()), "unix:/dev/log"),
        ("unix:///dev/log", SyslogAddr::Unix("/dev/log".into()), "unix:/dev/log"),
    ] {
        let address: SyslogAddr = input.parse()?;
        assert_eq!((&address, address.to_string().as_str()), (&parsed, printed));
    }
    for bad in ["127.0.0.1:514", "udp://host", "tcp://:514", "udp://host:99999", "unix:", "http://x:1"] {
        assert!(bad.parse::<SyslogAddr>().is_err(), "{bad} parsed");
    }
    Ok(())
}

#[test]
fn facilities_have_their_rfc_codes() {
    assert_eq!(
        [Facility::Kern, Facility::Daemon, Facility::Authpriv, Facility::Local0, Facility::Local7].map(Facility::code),
        [0, 3, 10, 16, 23]
    );
}
