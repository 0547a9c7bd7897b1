use std::time::Duration;

use super::*;
use crate::test_flows::{dns, ip, syn_probe, tcp};

fn value(row: &FeatureRow, feature: Feature) -> f64 {
    row[feature.index()]
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

#[test]
fn every_column_is_written() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    for flow in [tcp(ip(1), ip(2), 443, 10.0), syn_probe(ip(1), ip(3), 22, 11.0)] {
        let mut row = [f64::NAN; Feature::COUNT];
        extractor.extract_into(&flow, &mut row);
        let unwritten: Vec<_> = Feature::ALL.iter().filter(|f| value(&row, **f).is_nan()).map(|f| f.name()).collect();
        assert!(unwritten.is_empty(), "never written: {unwritten:?}");
    }
}

#[test]
fn flow_features_of_a_https_connection() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    let row = extractor.extract(&tcp(ip(1), ip(2), 443, 10.0));
    assert_close(value(&row, Feature::DurationS), 2f64.ln_1p());
    assert_close(value(&row, Feature::OrigBytes), 1_200f64.ln_1p());
    assert_close(value(&row, Feature::RespPackets), 8f64.ln_1p());
    assert_close(value(&row, Feature::OrigByteShare), 1_200.0 / 7_200.0);
    assert_close(value(&row, Feature::BytesPerS), 3_600f64.ln_1p());
    assert_close(value(&row, Feature::PacketsPerS), 9f64.ln_1p());
    assert_close(value(&row, Feature::OrigLenMean), 120.0);
    assert_close(value(&row, Feature::OrigIatCv), 1.25);
    assert_close(value(&row, Feature::OrigSyn), 1f64.ln_1p());
    assert_close(value(&row, Feature::RespRst), 0.0);
    assert_eq!(value(&row, Feature::OrigFlagAck), 1.0);
    assert_eq!(value(&row, Feature::OrigFlagPsh), 1.0);
    assert_eq!(value(&row, Feature::OrigFlagUrg), 0.0);
    assert_eq!(value(&row, Feature::ProtoTcp), 1.0);
    assert_eq!(value(&row, Feature::ProtoUdp), 0.0);
    assert_eq!(value(&row, Feature::DstPortWellKnown), 1.0);
    assert_eq!(value(&row, Feature::DstPortEphemeral), 0.0);
    assert_eq!(value(&row, Feature::DstPortCommonService), 1.0);
    assert_eq!(value(&row, Feature::DstPortCleartextHttp), 0.0);
    assert_eq!(value(&row, Feature::SrcPortWellKnown), 0.0);
}

#[test]
fn cleartext_http_is_tcp_to_80_or_8080() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    for (port, expected) in [(80, 1.0), (8080, 1.0), (443, 0.0), (8443, 0.0)] {
        let row = extractor.extract(&tcp(ip(1), ip(2), port, 10.0));
        assert_eq!(value(&row, Feature::DstPortCleartextHttp), expected, "port {port}");
    }
    let mut udp = tcp(ip(1), ip(2), 80, 11.0);
    udp.proto = 17;
    assert_eq!(value(&extractor.extract(&udp), Feature::DstPortCleartextHttp), 0.0);
}

#[test]
fn lookups_before_connections_show_in_the_host_window() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    // A client that looks each server up first: 2 lookups of 4 flows, 3 peers.
    extractor.extract(&dns(ip(1), ip(53), 10.0));
    extractor.extract(&tcp(ip(1), ip(2), 443, 11.0));
    extractor.extract(&dns(ip(1), ip(53), 12.0));
    let row = extractor.extract(&tcp(ip(1), ip(3), 443, 13.0));
    assert_eq!(value(&row, Feature::HostDnsShare), 0.5);
    assert_close(value(&row, Feature::HostPeersPerLookup), (3.0f64 / 3.0).ln_1p());

    // A host reaching three servers it never looked up.
    for (last, at) in [(4, 20.0), (5, 21.0), (6, 22.0)] {
        extractor.extract(&tcp(ip(9), ip(last), 80, at));
    }
    let row = extractor.extract(&tcp(ip(9), ip(7), 80, 23.0));
    assert_eq!(value(&row, Feature::HostDnsShare), 0.0);
    assert_close(value(&row, Feature::HostPeersPerLookup), 4f64.ln_1p());

    // Lookups leave the window with their events.
    let row = extractor.extract(&tcp(ip(1), ip(2), 443, 80.0));
    assert_eq!(value(&row, Feature::HostDnsShare), 0.0);
    assert_close(value(&row, Feature::HostPeersPerLookup), 1f64.ln_1p());
}

#[test]
fn icmp_has_no_port_classes() {
    let mut flow = tcp(ip(1), ip(2), 0, 10.0);
    flow.proto = 1;
    flow.src_port = 8; // echo request type
    let row = FeatureExtractor::new(HostWindowConfig::default()).extract(&flow);
    assert_eq!(value(&row, Feature::ProtoIcmp), 1.0);
    for feature in [
        Feature::DstPortWellKnown,
        Feature::DstPortRegistered,
        Feature::DstPortEphemeral,
        Feature::DstPortCommonService,
        Feature::SrcPortWellKnown,
    ] {
        assert_eq!(value(&row, feature), 0.0, "{}", feature.name());
    }
}

#[test]
fn a_port_scan_shows_in_the_host_window() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    let mut row = [0.0; Feature::COUNT];
    for port in 1..=10u16 {
        row = extractor.extract(&syn_probe(ip(9), ip(2), port, 100.0 + f64::from(port)));
    }
    assert_close(value(&row, Feature::HostDistinctPorts), 10f64.ln_1p());
    assert_close(value(&row, Feature::HostDistinctPeers), 1f64.ln_1p());
    assert_close(value(&row, Feature::HostFlowRate), (10.0f64 / 60.0).ln_1p());
    assert_eq!(value(&row, Feature::HostFailedShare), 1.0);
    assert_close(value(&row, Feature::HostBytesOut), 600f64.ln_1p());
    assert_eq!(value(&row, Feature::HostOutByteShare), 1.0);

    // Another host is unaffected.
    let other = extractor.extract(&tcp(ip(1), ip(2), 443, 111.0));
    assert_close(value(&other, Feature::HostDistinctPorts), 1f64.ln_1p());
    assert_eq!(value(&other, Feature::HostFailedShare), 0.0);
    assert_close(value(&other, Feature::HostOutByteShare), 1_200.0 / 7_200.0);
}

#[test]
fn events_leave_the_window_and_idle_hosts_are_dropped() {
    let config = HostWindowConfig { window: Duration::from_secs(60), ..HostWindowConfig::default() };
    let mut extractor = FeatureExtractor::new(config);
    extractor.extract(&syn_probe(ip(9), ip(2), 1, 100.0));
    extractor.extract(&syn_probe(ip(9), ip(3), 2, 130.0));
    extractor.extract(&tcp(ip(1), ip(2), 443, 150.0));
    assert_eq!(extractor.window_stats(), WindowStats { hosts: 2, events: 3, early_evictions: 0 });

    // At 160 s the event of 100 s has left (window (100, 160]), the one of 130 s has not.
    let row = extractor.extract(&syn_probe(ip(9), ip(4), 3, 160.0));
    assert_close(value(&row, Feature::HostDistinctPeers), 2f64.ln_1p());

    // At 300 s everything older than 240 s is gone, and host 10.0.0.1 with it.
    extractor.extract(&syn_probe(ip(9), ip(4), 3, 300.0));
    assert_eq!(extractor.window_stats(), WindowStats { hosts: 1, events: 1, early_evictions: 0 });
}

#[test]
fn interim_records_count_one_connection_and_all_bytes() {
    let mut extractor = FeatureExtractor::new(HostWindowConfig::default());
    let mut first = tcp(ip(1), ip(2), 443, 10.0);
    first.ended = false;
    let mut last = tcp(ip(1), ip(2), 443, 20.0);
    last.flow_id = first.flow_id;
    last.orig.syn = 0; // the handshake was in the first record
    last.resp.syn = 0;
    extractor.extract(&first);
    let row = extractor.extract(&last);
    assert_close(value(&row, Feature::HostFlowRate), (1.0f64 / 60.0).ln_1p());
    assert_close(value(&row, Feature::HostBytesOut), 2_400f64.ln_1p());
    assert_eq!(value(&row, Feature::HostFailedShare), 0.0);

    // The same flow id from another capture (other 5-tuple) is a new flow.
    let mut elsewhere = tcp(ip(1), ip(5), 443, 21.0);
    elsewhere.flow_id = first.flow_id;
    let row = extractor.extract(&elsewhere);
    assert_close(value(&row, Feature::HostFlowRate), (2.0f64 / 60.0).ln_1p());
}

#[test]
fn a_flood_beyond_max_events_evicts_early_and_says_so() {
    let config = HostWindowConfig { max_events: 3, ..HostWindowConfig::default() };
    let mut extractor = FeatureExtractor::new(config);
    for i in 0..5u8 {
        extractor.extract(&syn_probe(ip(100 + i), ip(2), 80, 10.0 + f64::from(i)));
    }
    assert_eq!(extractor.window_stats(), WindowStats { hosts: 3, events: 3, early_evictions: 2 });
}

#[test]
fn matrix_has_one_row_per_flow() {
    let flows = [tcp(ip(1), ip(2), 443, 10.0), tcp(ip(1), ip(3), 80, 11.0)];
    let matrix = FeatureExtractor::new(HostWindowConfig::default()).extract_matrix(&flows);
    assert_eq!(matrix.dim(), (2, Feature::COUNT));
    assert_close(matrix[[1, Feature::HostDistinctPeers.index()]], 2f64.ln_1p());
}

/// `Feature::HOST_WINDOW` is exactly the columns a host's history changes:
/// the same flow after a history of lookups, connections and failed probes
/// differs from it seen alone in those columns and no other.
#[test]
fn host_window_features_are_the_history_dependent_columns() {
    let flow = tcp(ip(1), ip(2), 443, 30.0);
    let mut fresh = FeatureExtractor::new(HostWindowConfig::default());
    let alone = fresh.extract(&flow);
    let mut busy = FeatureExtractor::new(HostWindowConfig::default());
    let history = [
        dns(ip(1), ip(53), 20.0),
        dns(ip(1), ip(53), 21.0),
        tcp(ip(1), ip(3), 80, 22.0),
        syn_probe(ip(1), ip(4), 22, 23.0),
        syn_probe(ip(1), ip(5), 23, 24.0),
    ];
    for earlier in &history {
        busy.extract(earlier);
    }
    let after_history = busy.extract(&flow);
    let changed: Vec<Feature> =
        Feature::ALL.iter().copied().filter(|f| value(&alone, *f) != value(&after_history, *f)).collect();
    assert_eq!(changed, Feature::HOST_WINDOW);
}
