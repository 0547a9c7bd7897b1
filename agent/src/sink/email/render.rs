//! The mail for a batch of events: a subject from the severity and summary,
//! a body with a readable rendering of each event followed by its JSON.

use std::{fmt::Write as _, net::SocketAddr};

use crate::{clock::format_epoch_ns, event::Event};

/// Introduces each event's JSON in the body, so a script can find it.
pub const JSON_MARKER: &str = "Event JSON:";

const SEPARATOR: &str = "\n----------------------------------------------------------------\n\n";

pub fn subject(batch: &[Event]) -> String {
    match batch {
        [event] => format!("[flowwatch] {} {}: {}", shout(event), event.kind, event.summary),
        [first, rest @ ..] => {
            let highest = batch.iter().map(|event| event.severity).max().unwrap_or(first.severity);
            format!(
                "[flowwatch] {} alerts, highest {}: {} (+{} more)",
                batch.len(),
                highest.as_str().to_ascii_uppercase(),
                first.summary,
                rest.len()
            )
        }
        [] => "[flowwatch] no alerts".to_owned(),
    }
}

pub fn body(batch: &[Event]) -> String {
    let sections: Vec<String> = batch.iter().map(section).collect();
    sections.join(SEPARATOR)
}

fn shout(event: &Event) -> String {
    event.severity.as_str().to_ascii_uppercase()
}

fn section(event: &Event) -> String {
    let mut text = format!(
        "{} {} (event {}, score {})\n{}\n\n",
        shout(event),
        event.kind,
        event.event_id,
        event.score,
        event.summary
    );
    let mut line = |label: &str, value: String| {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{label:<13}{value}");
    };
    if let Some(source) = endpoint(event.src_ip, event.src_port) {
        line("Source:", source);
    }
    if let Some(destination) = endpoint(event.dst_ip, event.dst_port) {
        line("Destination:", destination);
    }
    if let Some(proto) = event.proto {
        line("Protocol:", proto.to_string());
    }
    line("First seen:", format_epoch_ns(event.first_seen.epoch_ns()));
    line("Last seen:", format_epoch_ns(event.last_seen.epoch_ns()));
    line("Occurrences:", event.occurrences.to_string());
    if let Some(remote) = &event.remote {
        let parts: Vec<String> =
            [remote.country.clone(), remote.city.clone(), remote.asn.map(|asn| format!("AS{asn}")), remote.org.clone()]
                .into_iter()
                .flatten()
                .collect();
        if !parts.is_empty() {
            line("Remote:", parts.join(", "));
        }
    }
    line("Flows:", format!("{} listed of {}", event.flows.len(), event.flows_total));
    let json = serde_json::to_string_pretty(event).unwrap_or_else(|e| format!("(cannot encode the event: {e})"));
    text.push('\n');
    text.push_str(JSON_MARKER);
    text.push('\n');
    text.push_str(&json);
    text.push('\n');
    text
}

fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>) -> Option<String> {
    Some(match (ip?, port) {
        (ip, Some(port)) => SocketAddr::new(ip, port).to_string(),
        (ip, None) => ip.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::Severity,
        sink::test_support::{event, event_with},
    };

    #[test]
    fn a_single_event_reads_well_and_carries_its_json() -> Result<(), serde_json::Error> {
        let mut event = event(7);
        event.dst_port = Some(22);
        assert_eq!(
            subject(std::slice::from_ref(&event)),
            "[flowwatch] HIGH port_scan: port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 7)"
        );
        let expected = format!(
            "HIGH port_scan (event 7, score 0.875)\n\
             port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 7)\n\
             \n\
             Source:      192.0.2.7\n\
             Destination: 198.51.100.20:22\n\
             Protocol:    6\n\
             First seen:  2024-05-01T11:59:30.123456789Z\n\
             Last seen:   2024-05-01T12:00:00.123456789Z\n\
             Occurrences: 1\n\
             Remote:      GB, AS64496, Example \"Net\" \\ [lab]\n\
             Flows:       1 listed of 130\n\
             \n\
             Event JSON:\n{}\n",
            serde_json::to_string_pretty(&event)?
        );
        assert_eq!(body(std::slice::from_ref(&event)), expected);
        Ok(())
    }

    #[test]
    fn a_batch_names_its_size_and_highest_severity() {
        let batch = [event_with(1, Severity::Low), event_with(2, Severity::Medium), event_with(3, Severity::Low)];
        assert_eq!(
            subject(&batch),
            "[flowwatch] 3 alerts, highest MEDIUM: port scan from 192.0.2.7: 120 ports on 198.51.100.20 (event 1) (+2 more)"
        );
        let text = body(&batch);
        assert_eq!(text.matches(JSON_MARKER).count(), 3);
        assert_eq!(text.matches(SEPARATOR).count(), 2);
    }
}
