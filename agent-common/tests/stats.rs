//! `FlowStats::first`/`record`/`merge` and `PacketSample::wire_bytes`: the
//! per-packet update both the kernel and replay apply, checked field by field.

use agent_common::counters::HookCounters;
use agent_common::flow::{
    FlowStats, PKT_FIRST_FRAGMENT, PKT_FRAGMENT, PKT_GSO, PKT_IP_OPTIONS, PacketSample, micros_capped,
    tcp_flags::{ACK, FIN, PSH, RST, SYN},
};

fn sample(now_ns: u64, frame_len: u32, tcp_flags: u8) -> PacketSample {
    PacketSample { frame_len, segments: 1, header_len: 54, now_ns, tcp_flags, pkt_flags: 0 }
}

fn gso(now_ns: u64, frame_len: u32, segments: u32, header_len: u32) -> PacketSample {
    PacketSample { frame_len, segments, header_len, now_ns, tcp_flags: ACK, pkt_flags: 0 }
}

fn record_all(samples: &[PacketSample]) -> FlowStats {
    let (first, rest) = samples.split_first().expect("at least one sample");
    let mut stats = FlowStats::first(first);
    for s in rest {
        stats.record(s);
    }
    stats
}

#[test]
fn first_packet() {
    let s = PacketSample { pkt_flags: PKT_IP_OPTIONS, ..sample(1_000, 60, SYN) };
    assert_eq!(
        FlowStats::first(&s),
        FlowStats {
            packets: 1,
            bytes: 60,
            first_seen_ns: 1_000,
            last_seen_ns: 1_000,
            len_sum_sq: 3_600,
            iat_min_ns: u64::MAX,
            iat_max_ns: 0,
            iat_sum_ns: 0,
            iat_sum_sq_us: 0,
            len_min: 60,
            len_max: 60,
            syn_count: 1,
            fin_count: 0,
            rst_count: 0,
            iat_count: 0,
            tcp_flags: SYN,
            pkt_flags: PKT_IP_OPTIONS,
            _pad: [0; 6],
        }
    );
}

#[test]
fn record_into_empty_value_equals_first() {
    let s = PacketSample { pkt_flags: PKT_FRAGMENT, ..sample(77_000, 1514, 0) };
    let mut stats = FlowStats::default();
    stats.record(&s);
    assert_eq!(stats, FlowStats::first(&s));
}

#[test]
fn lengths_and_inter_arrival_times() {
    let stats = record_all(&[
        sample(1_000_000, 60, 0),
        sample(1_003_000, 1500, 0), // gap 3 µs
        sample(1_010_000, 100, 0),  // gap 7 µs
        sample(1_011_000, 40, 0),   // gap 1 µs
    ]);
    assert_eq!(
        stats,
        FlowStats {
            packets: 4,
            bytes: 60 + 1500 + 100 + 40,
            first_seen_ns: 1_000_000,
            last_seen_ns: 1_011_000,
            len_sum_sq: 3_600 + 2_250_000 + 10_000 + 1_600,
            iat_min_ns: 1_000,
            iat_max_ns: 7_000,
            iat_sum_ns: 11_000,
            iat_sum_sq_us: 9 + 49 + 1,
            len_min: 40,
            len_max: 1500,
            syn_count: 0,
            fin_count: 0,
            rst_count: 0,
            iat_count: 3,
            tcp_flags: 0,
            pkt_flags: 0,
            _pad: [0; 6],
        }
    );
}

#[test]
fn iat_squares_are_whole_microseconds() {
    // 999 ns rounds down to 0 µs, 1_500 ns to 1 µs, 2_999 ns to 2 µs.
    let stats = record_all(&[sample(0, 60, 0), sample(999, 60, 0), sample(2_499, 60, 0), sample(5_498, 60, 0)]);
    assert_eq!(stats.iat_sum_sq_us, 1 + 4);
    assert_eq!(stats.iat_sum_ns, 5_498);
    assert_eq!((stats.iat_min_ns, stats.iat_max_ns, stats.iat_count), (999, 2_999, 3));
}

#[test]
fn iat_square_is_capped_and_saturates() {
    // A 10^10 µs gap is capped at u32::MAX µs before squaring; the second one saturates.
    let gap = 10_000_000_000_000u64;
    let mut stats = record_all(&[sample(0, 60, 0), sample(gap, 60, 0)]);
    let capped = u64::from(u32::MAX) * u64::from(u32::MAX);
    assert_eq!(stats.iat_sum_sq_us, capped);
    stats.record(&sample(2 * gap, 60, 0));
    assert_eq!(stats.iat_sum_sq_us, u64::MAX);
    assert_eq!(stats.iat_sum_ns, 2 * gap);
    assert_eq!(stats.iat_max_ns, gap);
    assert_eq!(stats.iat_count, 2);
}

#[test]
fn tcp_flags_are_ored_and_counted() {
    let stats = record_all(&[
        sample(1, 74, SYN),
        sample(2, 74, SYN | ACK),
        sample(3, 66, ACK),
        sample(4, 200, PSH | ACK),
        sample(5, 66, FIN | ACK),
        sample(6, 66, FIN | ACK),
        sample(7, 54, RST | ACK),
    ]);
    assert_eq!(stats.tcp_flags, SYN | ACK | PSH | FIN | RST);
    assert_eq!((stats.syn_count, stats.fin_count, stats.rst_count), (2, 2, 1));
    assert_eq!(stats.packets, 7);
}

#[test]
fn pkt_flags_are_ored() {
    let stats = record_all(&[
        PacketSample { pkt_flags: PKT_FIRST_FRAGMENT, ..sample(1, 1514, 0) },
        PacketSample { pkt_flags: PKT_FRAGMENT, ..sample(2, 600, 0) },
        sample(3, 60, 0),
    ]);
    assert_eq!(stats.pkt_flags, PKT_FIRST_FRAGMENT | PKT_FRAGMENT);
}

#[test]
fn wire_bytes() {
    assert_eq!(sample(0, 1514, 0).wire_bytes(), 1514);
    // segments 0 is treated like 1.
    assert_eq!(gso(0, 1514, 0, 66).wire_bytes(), 1514);
    // Four 1000-byte wire packets with 66 bytes of headers, sent as one buffer.
    assert_eq!(gso(0, 66 + 4 * 934, 4, 66).wire_bytes(), 4_000);
    assert_eq!(gso(0, 66 + 2 * 1448, 2, 66).wire_bytes(), 2 * (66 + 1448));
    // Extremes do not overflow.
    let max = gso(0, u32::MAX, u32::MAX, u32::MAX);
    assert_eq!(max.wire_bytes(), u64::from(u32::MAX) * u64::from(u32::MAX));
}

#[test]
fn gso_sample_counts_each_segment() {
    let s = gso(1_000, 66 + 4 * 934, 4, 66);
    let stats = FlowStats::first(&s);
    assert_eq!(
        stats,
        FlowStats {
            packets: 4,
            bytes: 4_000,
            first_seen_ns: 1_000,
            last_seen_ns: 1_000,
            len_sum_sq: 4 * 1_000 * 1_000,
            iat_min_ns: u64::MAX,
            iat_max_ns: 0,
            iat_sum_ns: 0,
            iat_sum_sq_us: 0,
            len_min: 1_000,
            len_max: 1_000,
            syn_count: 0,
            fin_count: 0,
            rst_count: 0,
            iat_count: 0,
            tcp_flags: ACK,
            pkt_flags: PKT_GSO,
            _pad: [0; 6],
        }
    );

    // A plain packet afterwards.
    let mut stats = stats;
    stats.record(&sample(3_000, 60, ACK));
    assert_eq!((stats.packets, stats.bytes), (5, 4_060));
    assert_eq!((stats.len_min, stats.len_max), (60, 1_000));
    assert_eq!(stats.len_sum_sq, 4_000_000 + 3_600);
    assert_eq!((stats.iat_count, stats.iat_sum_ns), (1, 2_000));
    assert_eq!(stats.pkt_flags, PKT_GSO);
}

#[test]
fn gso_uneven_last_segment_uses_mean_length() {
    // Three full 934-byte payloads and a 500-byte one: 3566 wire bytes, 891 per packet (rounded down).
    let s = gso(0, 66 + 3 * 934 + 500, 4, 66);
    assert_eq!(s.wire_bytes(), 3_566);
    let stats = FlowStats::first(&s);
    assert_eq!((stats.packets, stats.bytes), (4, 3_566));
    assert_eq!((stats.len_min, stats.len_max), (891, 891));
    assert_eq!(stats.len_sum_sq, 4 * 891 * 891);
}

#[test]
fn segments_zero_counts_as_one_packet() {
    let s = gso(0, 1514, 0, 66);
    let stats = FlowStats::first(&s);
    assert_eq!((stats.packets, stats.bytes, stats.len_min, stats.len_max), (1, 1514, 1514, 1514));
    assert_eq!(stats.len_sum_sq, 1514 * 1514);
    assert_eq!(stats.pkt_flags, 0);
}

#[test]
fn extreme_sample_does_not_overflow() {
    // Debug builds panic on arithmetic overflow: this must not.
    let s = gso(0, u32::MAX, u32::MAX, u32::MAX);
    let mut stats = FlowStats::first(&s);
    stats.record(&s);
    assert_eq!(stats.packets, 2 * u64::from(u32::MAX));
    // Two near-u64::MAX byte counts: the counter wraps rather than panicking.
    assert_eq!(stats.bytes, s.wire_bytes().wrapping_add(s.wire_bytes()));
    assert_eq!((stats.len_min, stats.len_max), (u32::from(u16::MAX) * 2, u32::from(u16::MAX) * 2));
}

#[test]
fn out_of_order_timestamp_is_a_zero_gap() {
    let mut stats = record_all(&[sample(10_000, 60, 0), sample(20_000, 60, 0)]);
    stats.record(&sample(15_000, 60, 0));
    assert_eq!(stats.last_seen_ns, 20_000, "last_seen must not move backwards");
    assert_eq!(stats.first_seen_ns, 10_000);
    assert_eq!(stats.iat_min_ns, 0);
    assert_eq!(stats.iat_max_ns, 10_000);
    assert_eq!(stats.iat_sum_ns, 10_000);
    assert_eq!(stats.iat_sum_sq_us, 100);
    assert_eq!(stats.iat_count, 2);
    assert_eq!(stats.packets, 3);

    // Older than the first packet: first_seen stays the earliest timestamp seen.
    stats.record(&sample(5_000, 60, 0));
    assert_eq!((stats.first_seen_ns, stats.last_seen_ns), (5_000, 20_000));
    assert_eq!((stats.iat_count, stats.iat_sum_ns, stats.iat_min_ns), (3, 10_000, 0));
}

/// Two per-CPU values of one flow, checked in full so `merge` starts from known values.
fn per_cpu_pair() -> (FlowStats, FlowStats) {
    let a = record_all(&[sample(100_000, 60, SYN), sample(300_000, 1500, ACK), sample(500_000, 40, FIN | ACK)]);
    assert_eq!(
        a,
        FlowStats {
            packets: 3,
            bytes: 1_600,
            first_seen_ns: 100_000,
            last_seen_ns: 500_000,
            len_sum_sq: 3_600 + 2_250_000 + 1_600,
            iat_min_ns: 200_000,
            iat_max_ns: 200_000,
            iat_sum_ns: 400_000,
            iat_sum_sq_us: 2 * 200 * 200,
            len_min: 40,
            len_max: 1_500,
            syn_count: 1,
            fin_count: 1,
            rst_count: 0,
            iat_count: 2,
            tcp_flags: SYN | ACK | FIN,
            pkt_flags: 0,
            _pad: [0; 6],
        }
    );
    let b =
        record_all(&[PacketSample { pkt_flags: PKT_FRAGMENT, ..sample(50_000, 100, 0) }, sample(450_000, 2_000, RST)]);
    assert_eq!(
        b,
        FlowStats {
            packets: 2,
            bytes: 2_100,
            first_seen_ns: 50_000,
            last_seen_ns: 450_000,
            len_sum_sq: 10_000 + 4_000_000,
            iat_min_ns: 400_000,
            iat_max_ns: 400_000,
            iat_sum_ns: 400_000,
            iat_sum_sq_us: 400 * 400,
            len_min: 100,
            len_max: 2_000,
            syn_count: 0,
            fin_count: 0,
            rst_count: 1,
            iat_count: 1,
            tcp_flags: RST,
            pkt_flags: PKT_FRAGMENT,
            _pad: [0; 6],
        }
    );
    (a, b)
}

#[test]
fn merge_per_cpu_values() {
    let (a, b) = per_cpu_pair();
    let expected = FlowStats {
        packets: 5,
        bytes: 3_700,
        first_seen_ns: 50_000,
        last_seen_ns: 500_000,
        len_sum_sq: 2_255_200 + 4_010_000,
        iat_min_ns: 200_000,
        iat_max_ns: 400_000,
        iat_sum_ns: 800_000,
        iat_sum_sq_us: 80_000 + 160_000,
        len_min: 40,
        len_max: 2_000,
        syn_count: 1,
        fin_count: 1,
        rst_count: 1,
        iat_count: 3,
        tcp_flags: SYN | ACK | FIN | RST,
        pkt_flags: PKT_FRAGMENT,
        _pad: [0; 6],
    };
    let mut ab = a;
    ab.merge(&b);
    assert_eq!(ab, expected);
    let mut ba = b;
    ba.merge(&a);
    assert_eq!(ba, expected, "merge order must not matter");
}

#[test]
fn merge_single_packet_values_keeps_iat_from_the_other() {
    let (a, _) = per_cpu_pair();
    let single = FlowStats::first(&sample(1_000_000, 70, 0));
    let mut merged = single;
    merged.merge(&a);
    assert_eq!((merged.iat_min_ns, merged.iat_max_ns, merged.iat_count), (200_000, 200_000, 2));
    assert_eq!((merged.first_seen_ns, merged.last_seen_ns), (100_000, 1_000_000));
    assert_eq!((merged.packets, merged.len_min, merged.len_max), (4, 40, 1_500));

    // Two single packets: still no gap.
    let mut two = single;
    two.merge(&FlowStats::first(&sample(5, 80, 0)));
    assert_eq!((two.iat_min_ns, two.iat_max_ns, two.iat_sum_ns, two.iat_count), (u64::MAX, 0, 0, 0));
    assert_eq!((two.packets, two.bytes, two.first_seen_ns, two.last_seen_ns), (2, 150, 5, 1_000_000));
}

#[test]
fn merge_with_empty_is_identity() {
    let (a, _) = per_cpu_pair();
    let mut merged = a;
    merged.merge(&FlowStats::default());
    assert_eq!(merged, a);

    let mut from_empty = FlowStats::default();
    from_empty.merge(&a);
    assert_eq!(from_empty, a);

    // A CPU slot with packets == 0 is ignored whatever else it holds.
    let junk = FlowStats {
        packets: 0,
        bytes: 9,
        first_seen_ns: 1,
        last_seen_ns: u64::MAX,
        len_min: 1,
        ..FlowStats::default()
    };
    let mut merged = a;
    merged.merge(&junk);
    assert_eq!(merged, a);
    let mut from_junk = junk;
    from_junk.merge(&a);
    assert_eq!(from_junk, a);
}

#[test]
fn merge_saturates_squares() {
    let (mut a, b) = per_cpu_pair();
    a.len_sum_sq = u64::MAX - 1;
    a.iat_sum_sq_us = u64::MAX - 1;
    a.merge(&b);
    assert_eq!((a.len_sum_sq, a.iat_sum_sq_us), (u64::MAX, u64::MAX));
}

#[test]
fn hook_counters_accumulate() {
    let a = HookCounters {
        packets: 10,
        bytes: 1_000,
        non_ip: 1,
        malformed_truncated: 2,
        malformed_header: 3,
        malformed_too_deep: 4,
        map_update_failed: 5,
        flows_inserted: 6,
        fragments: 7,
        frozen_writes: 8,
    };
    let b = HookCounters {
        packets: 100,
        bytes: 10_000,
        non_ip: 10,
        malformed_truncated: 20,
        malformed_header: 30,
        malformed_too_deep: 40,
        map_update_failed: 50,
        flows_inserted: 60,
        fragments: 70,
        frozen_writes: 80,
    };
    let mut sum = a;
    sum.accumulate(&b);
    assert_eq!(
        sum,
        HookCounters {
            packets: 110,
            bytes: 11_000,
            non_ip: 11,
            malformed_truncated: 22,
            malformed_header: 33,
            malformed_too_deep: 44,
            map_update_failed: 55,
            flows_inserted: 66,
            fragments: 77,
            frozen_writes: 88,
        }
    );
    assert_eq!(a.malformed(), 9);
    assert_eq!(sum.malformed(), 99);
}

/// The per-frame counting the kernel hooks and replay share.
#[test]
fn hook_counters_count_refused_and_parsed_frames() {
    use agent_common::{flow::PKT_FRAGMENT, parse::ParseError};
    let mut counters = HookCounters::default();
    counters.count_refused(ParseError::NonIp, 1, 60);
    counters.count_refused(ParseError::Truncated, 1, 20);
    counters.count_refused(ParseError::BadHeader, 2, 100);
    counters.count_refused(ParseError::TooDeep, 1, 300);
    let sample = PacketSample { frame_len: 4000, segments: 3, header_len: 66, now_ns: 1, tcp_flags: 0, pkt_flags: 0 };
    counters.count_parsed(&sample);
    counters.count_parsed(&PacketSample { pkt_flags: PKT_FRAGMENT, segments: 1, frame_len: 90, ..sample });
    assert_eq!(
        counters,
        HookCounters {
            packets: 1 + 1 + 2 + 1 + 3 + 1,
            bytes: 60 + 20 + 100 + 300 + (4000 + 2 * 66) + 90,
            non_ip: 1,
            malformed_truncated: 1,
            malformed_header: 2,
            malformed_too_deep: 1,
            fragments: 1,
            ..HookCounters::default()
        }
    );
}

/// The multiply-and-shift path of `micros_capped` equals the division it
/// replaces: at the edges of every thousand, at the 2^32 switch-over, and on
/// a stride through all 32-bit values (the bound in its comment covers all
/// of them; an exhaustive run takes seconds in release, too long here).
#[test]
fn micros_capped_equals_division() {
    let reference = |ns: u64| (ns / 1_000).min(u32::MAX as u64);
    let edges = [0, 1, 999, 1_000, 1_001, 1_999, 2_000, 999_999, 1_000_000, u32::MAX as u64 - 1, u32::MAX as u64];
    for ns in edges.into_iter().chain((0..=u32::MAX as u64).step_by(9_973)) {
        assert_eq!(micros_capped(ns), reference(ns), "{ns} ns");
        let below = ns - ns % 1_000;
        assert_eq!(micros_capped(below.saturating_sub(1)), reference(below.saturating_sub(1)), "{below} - 1 ns");
    }
    let beyond = [u32::MAX as u64 + 1, 4_294_967_294_999, 4_294_967_296_000, u64::MAX];
    assert_eq!(beyond.map(micros_capped), [4_294_967, 4_294_967_294, u32::MAX as u64, u32::MAX as u64]);
}

/// Every 32-bit gap, the whole range the multiply-and-shift path takes (the
/// test above samples it). Ignored by default: 2^32 cases take a few seconds
/// in release and minutes in debug. Run it with
/// `cargo test --release -p agent-common --test stats -- --ignored`.
#[test]
#[ignore = "exhaustive over 2^32 gaps; run in release"]
fn micros_capped_equals_division_for_every_u32_gap() {
    for ns in 0..=u32::MAX as u64 {
        assert_eq!(micros_capped(ns), ns / 1_000, "{ns} ns");
    }
}
