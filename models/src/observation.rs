//! A finished (or interim) bidirectional flow as the models and detectors
//! see it: plain numbers, no strings, no kernel types. The agent builds one
//! from each flow record; the simulator's and replay's flows arrive the same
//! way, so training and scoring see identical inputs.

use std::net::IpAddr;

/// One direction of a flow, over the record's interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DirectionSummary {
    pub packets: u64,
    /// Wire bytes (layer 2 frame length).
    pub bytes: u64,
    /// OR of the TCP flag bytes seen (FIN=0x01 … CWR=0x80); 0 for other protocols.
    pub tcp_flags: u8,
    pub syn: u32,
    pub fin: u32,
    pub rst: u32,
    pub len_min: u32,
    pub len_max: u32,
    pub len_mean: f64,
    pub len_stddev: f64,
    /// Inter-arrival times in milliseconds; 0 when fewer than two packets.
    pub iat_min_ms: f64,
    pub iat_max_ms: f64,
    pub iat_mean_ms: f64,
    pub iat_stddev_ms: f64,
}

/// A conversation; `src` is the originator (the side seen first).
#[derive(Clone, Debug, PartialEq)]
pub struct FlowObservation {
    /// Unique per run; interim records of one flow share it.
    pub flow_id: u64,
    /// Nanoseconds in the source's time base (Unix epoch for captures and
    /// the simulator, monotonic for live capture). Only differences and
    /// ordering are meaningful to models and detectors.
    pub start_ns: u64,
    pub end_ns: u64,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    pub proto: u8,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    /// False for an interim record of a flow that is still running.
    pub ended: bool,
    pub orig: DirectionSummary,
    pub resp: DirectionSummary,
}

impl FlowObservation {
    pub fn duration_secs(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e9
    }

    pub fn packets(&self) -> u64 {
        self.orig.packets + self.resp.packets
    }

    pub fn bytes(&self) -> u64 {
        self.orig.bytes + self.resp.bytes
    }

    pub fn involves(&self, addr: IpAddr) -> bool {
        self.src_ip == addr || self.dst_ip == addr
    }
}
