//! Features of one flow record on its own: volume each way, sizes, timing,
//! TCP flags, protocol and port classes.

use super::{
    FeatureWriter,
    ports::{CLEARTEXT_HTTP_PORTS, PortClass, is_common_service},
    schema::Feature,
};
use crate::FlowObservation;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_URG: u8 = 0x20;

/// Single-packet flows have a duration of 0; rates use at least this.
const MIN_RATE_DURATION_S: f64 = 1e-3;

/// True for protocols whose `src_port`/`dst_port` are real ports (for
/// ICMP they carry type and code).
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, IPPROTO_TCP | IPPROTO_UDP)
}

fn indicator(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

/// `part / whole`, or `empty` when there is no whole to share.
fn share(part: u64, whole: u64, empty: f64) -> f64 {
    if whole == 0 { empty } else { part as f64 / whole as f64 }
}

pub(super) fn write(flow: &FlowObservation, out: &mut FeatureWriter<'_>) {
    let (orig, resp) = (&flow.orig, &flow.resp);
    let duration = flow.duration_secs();
    let rate_duration = duration.max(MIN_RATE_DURATION_S);

    out.set(Feature::DurationS, duration);
    out.set(Feature::OrigPackets, orig.packets as f64);
    out.set(Feature::RespPackets, resp.packets as f64);
    out.set(Feature::OrigBytes, orig.bytes as f64);
    out.set(Feature::RespBytes, resp.bytes as f64);
    out.set(Feature::OrigByteShare, share(orig.bytes, flow.bytes(), 1.0));
    out.set(Feature::BytesPerS, flow.bytes() as f64 / rate_duration);
    out.set(Feature::PacketsPerS, flow.packets() as f64 / rate_duration);

    out.set(Feature::OrigLenMean, orig.len_mean);
    out.set(Feature::OrigLenStddev, orig.len_stddev);
    out.set(Feature::RespLenMean, resp.len_mean);
    out.set(Feature::RespLenStddev, resp.len_stddev);

    out.set(Feature::OrigIatMeanMs, orig.iat_mean_ms);
    out.set(Feature::OrigIatStddevMs, orig.iat_stddev_ms);
    out.set(Feature::OrigIatMaxMs, orig.iat_max_ms);
    let cv = if orig.iat_mean_ms > 0.0 { orig.iat_stddev_ms / orig.iat_mean_ms } else { 0.0 };
    out.set(Feature::OrigIatCv, cv);
    out.set(Feature::RespIatMeanMs, resp.iat_mean_ms);

    out.set(Feature::OrigSyn, f64::from(orig.syn));
    out.set(Feature::OrigFin, f64::from(orig.fin));
    out.set(Feature::OrigRst, f64::from(orig.rst));
    out.set(Feature::RespSyn, f64::from(resp.syn));
    out.set(Feature::RespFin, f64::from(resp.fin));
    out.set(Feature::RespRst, f64::from(resp.rst));
    out.set(Feature::OrigFlagAck, indicator(orig.tcp_flags & TCP_ACK != 0));
    out.set(Feature::OrigFlagPsh, indicator(orig.tcp_flags & TCP_PSH != 0));
    out.set(Feature::OrigFlagUrg, indicator(orig.tcp_flags & TCP_URG != 0));

    out.set(Feature::ProtoTcp, indicator(flow.proto == IPPROTO_TCP));
    out.set(Feature::ProtoUdp, indicator(flow.proto == IPPROTO_UDP));
    out.set(Feature::ProtoIcmp, indicator(matches!(flow.proto, IPPROTO_ICMP | IPPROTO_ICMPV6)));

    let ports = has_ports(flow.proto);
    let dst_class = PortClass::of(flow.dst_port);
    out.set(Feature::DstPortWellKnown, indicator(ports && dst_class == PortClass::WellKnown));
    out.set(Feature::DstPortRegistered, indicator(ports && dst_class == PortClass::Registered));
    out.set(Feature::DstPortEphemeral, indicator(ports && dst_class == PortClass::Ephemeral));
    out.set(Feature::DstPortCommonService, indicator(ports && is_common_service(flow.dst_port)));
    let cleartext_http = flow.proto == IPPROTO_TCP && CLEARTEXT_HTTP_PORTS.contains(&flow.dst_port);
    out.set(Feature::DstPortCleartextHttp, indicator(cleartext_http));
    out.set(Feature::SrcPortWellKnown, indicator(ports && PortClass::of(flow.src_port) == PortClass::WellKnown));
}
