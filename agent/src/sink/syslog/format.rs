//! RFC 5424 message formatting.
//!
//! Hand-written rather than the `syslog` crate's `Formatter5424`: that takes
//! a numeric MSGID (ours is the event kind) and always stamps the current
//! time, while an alert's TIMESTAMP should be when it was observed.
//!
//! ```text
//! SYSLOG-MSG = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
//!              SP STRUCTURED-DATA [SP MSG]
//! ```

use std::fmt::Write as _;

use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

use super::Facility;
use crate::event::{Event, Severity, Timestamp};

pub const APP_NAME: &str = "flowwatch";

/// SD-ID of our structured-data element. Names without an `@` are reserved
/// for IANA; 32473 is the enterprise number RFC 5612 sets aside for examples
/// and documentation, used until flowwatch registers its own.
pub const SD_ID: &str = "flowwatch@32473";

const NILVALUE: &str = "-";
const BOM: &str = "\u{feff}";

/// RFC 3339 in UTC with at most six fractional digits (TIME-SECFRAC).
const TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Formats events as RFC 5424 messages for one host and process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rfc5424Formatter {
    facility: Facility,
    hostname: String,
    procid: String,
}

impl Rfc5424Formatter {
    /// `hostname` is cleaned to the header grammar (printable US-ASCII, at most
    /// 255 characters, `-` when nothing is left).
    pub fn new(facility: Facility, hostname: &str, pid: u32) -> Self {
        Self { facility, hostname: header_field(hostname, 255), procid: pid.to_string() }
    }

    /// One message, without transport framing. TIMESTAMP is the event's
    /// `last_seen` (when the anomaly was observed — capture time on replay);
    /// MSGID is the event kind; MSG is the summary.
    pub fn format(&self, event: &Event) -> String {
        let mut message = format!(
            "<{pri}>1 {timestamp} {host} {APP_NAME} {procid} {msgid} ",
            pri = self.facility.code() * 8 + syslog_severity(event.severity),
            timestamp = timestamp(event.last_seen),
            host = self.hostname,
            procid = self.procid,
            msgid = event.kind.as_str(),
        );
        write_structured_data(&mut message, event);
        if !event.summary.is_empty() {
            message.push(' ');
            // MSG-UTF8 must start with a BOM; pure ASCII is sent as MSG-ANY.
            if !event.summary.is_ascii() {
                message.push_str(BOM);
            }
            message.push_str(&event.summary);
        }
        message
    }
}

/// RFC 5424 severity: high = critical (2), medium = warning (4), low = notice (5).
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::High => 2,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

fn timestamp(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(at.epoch_ns())
        .ok()
        .and_then(|t| t.format(TIMESTAMP).ok())
        .unwrap_or_else(|| NILVALUE.to_owned())
}

/// Header fields are 1*N PRINTUSASCII (33..=126): anything else is dropped.
fn header_field(value: &str, max_len: usize) -> String {
    let cleaned: String = value.chars().filter(|c| c.is_ascii_graphic()).take(max_len).collect();
    if cleaned.is_empty() { NILVALUE.to_owned() } else { cleaned }
}

/// `[flowwatch@32473 name="value" …]` with the event's key fields; absent
/// fields are left out.
fn write_structured_data(out: &mut String, event: &Event) {
    let remote = event.remote.as_ref();
    let params: [(&str, Option<String>); 12] = [
        ("event_id", Some(event.event_id.to_string())),
        ("severity", Some(event.severity.to_string())),
        ("score", Some(event.score.to_string())),
        ("src_ip", event.src_ip.map(|ip| ip.to_string())),
        ("src_port", event.src_port.map(|port| port.to_string())),
        ("dst_ip", event.dst_ip.map(|ip| ip.to_string())),
        ("dst_port", event.dst_port.map(|port| port.to_string())),
        ("proto", event.proto.map(|proto| proto.to_string())),
        ("occurrences", Some(event.occurrences.to_string())),
        ("remote_country", remote.and_then(|r| r.country.clone())),
        ("remote_asn", remote.and_then(|r| r.asn).map(|asn| asn.to_string())),
        ("remote_org", remote.and_then(|r| r.org.clone())),
    ];
    out.push('[');
    out.push_str(SD_ID);
    for (name, value) in params {
        if let Some(value) = value {
            // Writing to a String cannot fail.
            let _ = write!(out, " {name}=\"{}\"", escape_param_value(&value));
        }
    }
    out.push(']');
}

/// PARAM-VALUE escapes `"`, `\` and `]` with a backslash (RFC 5424 §6.3.3).
pub fn escape_param_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sink::test_support::{event, event_with};

    /// The fixed event from test_support, as host `sensor-1`, pid 4242, facility local4.
    pub(crate) const EXPECTED: &str = concat!(
        "<162>1 2024-05-01T12:00:00.123456Z sensor-1 flowwatch 4242 port_scan ",
        r#"[flowwatch@32473 event_id="7" severity="high" score="0.875" src_ip="192.0.2.7" dst_ip="198.51.100.20" "#,
        r#"proto="6" occurrences="1" remote_country="GB" remote_asn="64496" remote_org="Example \"Net\" \\ [lab\]"] "#,
        "port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 7)"
    );

    #[test]
    fn formats_the_exact_rfc5424_line() {
        let formatter = Rfc5424Formatter::new(Facility::Local4, "sensor-1", 4242);
        assert_eq!(formatter.format(&event(7)), EXPECTED);
    }

    #[test]
    fn pri_is_facility_times_eight_plus_severity() {
        let pri = |facility: Facility, severity| {
            let line = Rfc5424Formatter::new(facility, "h", 1).format(&event_with(1, severity));
            line[1..line.find('>').unwrap_or(1)].to_owned()
        };
        assert_eq!(pri(Facility::Kern, Severity::High), "2");
        assert_eq!(pri(Facility::Daemon, Severity::Medium), "28");
        assert_eq!(pri(Facility::Local7, Severity::Low), "189");
        assert_eq!(pri(Facility::Auth, Severity::High), "34");
    }

    #[test]
    fn sd_values_escape_quote_backslash_and_bracket_only() {
        assert_eq!(escape_param_value(r#"a"b\c]d[e=f"#), r#"a\"b\\c\]d[e=f"#);
    }

    #[test]
    fn hostname_is_cleaned_to_printable_ascii() {
        let formatter = Rfc5424Formatter::new(Facility::User, "my host\u{e9}\n", 1);
        assert_eq!(formatter.hostname, "myhost");
        assert_eq!(Rfc5424Formatter::new(Facility::User, " ", 1).hostname, "-");
        assert_eq!(Rfc5424Formatter::new(Facility::User, &"h".repeat(300), 1).hostname.len(), 255);
    }

    #[test]
    fn a_non_ascii_message_starts_with_a_bom_and_absent_fields_are_left_out() {
        let mut event = event_with(3, Severity::Low);
        event.summary = "unseen country: Zürich".to_owned();
        event.remote = None;
        event.proto = None;
        let line = Rfc5424Formatter::new(Facility::User, "h", 9).format(&event);
        assert_eq!(
            line,
            "<13>1 2024-05-01T12:00:00.123456Z h flowwatch 9 port_scan \
             [flowwatch@32473 event_id=\"3\" severity=\"low\" score=\"0.875\" src_ip=\"192.0.2.7\" \
             dst_ip=\"198.51.100.20\" occurrences=\"1\"] \u{feff}unseen country: Zürich"
        );
    }

    /// Checks a message against the RFC 5424 ABNF, field by field.
    #[test]
    fn messages_follow_the_rfc_grammar() {
        let line = Rfc5424Formatter::new(Facility::Local0, "sensor-1", 77).format(&event(12));
        let mut fields = line.splitn(7, ' ');
        let mut next = || fields.next().unwrap_or_default();
        let (pri_version, timestamp, host, app, procid, msgid, rest) =
            (next(), next(), next(), next(), next(), next(), next());
        // PRI = "<" 1*3DIGIT ">", VERSION = NONZERO-DIGIT 0*2DIGIT
        let (pri, version) = pri_version[1..].split_once('>').unwrap_or_default();
        assert!(
            pri_version.starts_with('<') && (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit())
        );
        assert!(pri.parse::<u8>().is_ok_and(|pri| pri <= 191));
        assert_eq!(version, "1");
        // TIMESTAMP: FULL-DATE "T" FULL-TIME in UTC, TIME-SECFRAC of 1..6 digits.
        assert!(is_utc_timestamp(timestamp), "{timestamp}");
        for (field, max) in [(host, 255), (app, 48), (procid, 128), (msgid, 32)] {
            assert!((1..=max).contains(&field.len()) && field.bytes().all(|b| (33..=126).contains(&b)), "{field}");
        }
        // SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]", then SP MSG.
        assert!(rest.starts_with("[flowwatch@32473 "));
        let sd_end = sd_element_end(rest).unwrap_or(0);
        assert!(sd_end > 0 && rest[sd_end..].starts_with(' '), "{rest}");
        assert_eq!(&rest[sd_end + 1..], "port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 12)");
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffffZ` with 1 to 6 fractional digits.
    fn is_utc_timestamp(timestamp: &str) -> bool {
        let Some((seconds, fraction)) = timestamp.strip_suffix('Z').and_then(|t| t.split_once('.')) else {
            return false;
        };
        let shape_ok = seconds.len() == 19
            && seconds.char_indices().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        shape_ok && (1..=6).contains(&fraction.len()) && fraction.bytes().all(|b| b.is_ascii_digit())
    }

    /// Index after the closing `]` of the first SD-ELEMENT, honouring escapes in quoted values.
    fn sd_element_end(sd: &str) -> Option<usize> {
        let (mut in_value, mut escaped) = (false, false);
        for (i, c) in sd.char_indices() {
            match (in_value, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => in_value = !in_value,
                (false, _, ']') => return Some(i + 1),
                _ => {}
            }
        }
        None
    }
}
