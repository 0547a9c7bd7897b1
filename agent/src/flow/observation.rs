//! Flow records as the models and detectors see them ([`models::FlowObservation`]).

use agent_common::flow::FlowStats;
use models::{DirectionSummary, FlowObservation};

use super::{EmitReason, Expired, addr_to_ip};

fn stddev(sum: f64, sum_sq: f64, n: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    let mean = sum / n;
    (sum_sq / n - mean * mean).max(0.0).sqrt()
}

/// The derived per-direction statistics (means, deviations, milliseconds)
/// of one record's counters; the flow record's JSON uses the same numbers.
pub fn summarize(s: &FlowStats) -> DirectionSummary {
    let n = s.packets as f64;
    let iat_n = s.iat_count as f64;
    let has_iat = s.iat_count > 0;
    let ns_to_ms = |ns: u64| ns as f64 / 1e6;
    DirectionSummary {
        packets: s.packets,
        bytes: s.bytes,
        tcp_flags: s.tcp_flags,
        syn: s.syn_count,
        fin: s.fin_count,
        rst: s.rst_count,
        len_min: if s.packets > 0 { s.len_min } else { 0 },
        len_max: s.len_max,
        len_mean: if s.packets > 0 { s.bytes as f64 / n } else { 0.0 },
        len_stddev: stddev(s.bytes as f64, s.len_sum_sq as f64, n),
        iat_min_ms: if has_iat { ns_to_ms(s.iat_min_ns) } else { 0.0 },
        iat_max_ms: if has_iat { ns_to_ms(s.iat_max_ns) } else { 0.0 },
        iat_mean_ms: if has_iat { ns_to_ms(s.iat_sum_ns) / iat_n } else { 0.0 },
        // Squares are kept in µs²; the deviation is computed in µs.
        iat_stddev_ms: stddev(s.iat_sum_ns as f64 / 1e3, s.iat_sum_sq_us as f64, iat_n) / 1e3,
    }
}

impl From<&Expired> for FlowObservation {
    fn from(expired: &Expired) -> Self {
        let key = &expired.originator;
        Self {
            flow_id: expired.flow_id,
            start_ns: expired.start_ns,
            end_ns: expired.end_ns,
            proto: key.protocol,
            src_ip: addr_to_ip(key.src_addr),
            src_port: key.src_port,
            dst_ip: addr_to_ip(key.dst_addr),
            dst_port: key.dst_port,
            ended: expired.reason != EmitReason::Active,
            orig: summarize(&expired.orig),
            resp: summarize(&expired.resp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_of_constant_series_is_zero() {
        assert_eq!(stddev(300.0, 30000.0, 3.0), 0.0);
        assert!((stddev(3.0, 5.0, 2.0) - 0.5).abs() < 1e-9);
    }
}
