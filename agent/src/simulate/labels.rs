//! Ground truth: one label per injection that wrote packets, spanning
//! exactly its first to its last packet as written to the pcap.

use std::net::IpAddr;

use models::{Label, Labels};

use super::{inject::Injection, output::Written, units::to_secs_f64};

pub fn build(injections: &[Injection], written: &[Written]) -> Labels {
    let labels = injections
        .iter()
        .zip(written)
        .filter_map(|(injection, written)| {
            let (first, last) = written.span?;
            Some(Label {
                kind: injection.kind.anomaly_kind(),
                attacker: injection.attacker.map(IpAddr::V4),
                victim: injection.victim.map(IpAddr::V4),
                start: Some(to_secs_f64(first)),
                end: Some(to_secs_f64(last)),
            })
        })
        .collect();
    Labels(labels)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use models::AnomalyKind;

    use super::*;
    use crate::simulate::{inject::InjectionKind, units::SECS};

    #[test]
    fn labels_span_written_packets_and_skip_silent_injections() {
        let injections = [
            Injection { kind: InjectionKind::SynFlood, attacker: None, victim: Some(Ipv4Addr::new(192, 168, 50, 4)) },
            Injection { kind: InjectionKind::PortScan, attacker: Some(Ipv4Addr::new(192, 168, 50, 200)), victim: None },
        ];
        let written = [Written { packets: 2, span: Some((10 * SECS, 12 * SECS + 500_000)) }, Written::default()];
        let labels = build(&injections, &written);
        assert_eq!(
            labels.0,
            [Label {
                kind: AnomalyKind::Flood,
                attacker: None,
                victim: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 50, 4))),
                start: Some(10.0),
                end: Some(12.0005),
            }]
        );
    }
}
