//! Floods: volumetric and distributed attacks on one destination
//! ([`victim`]), and one source opening connections to one service at a
//! rate no client needs ([`connections`]; brute force, connection exhaustion).
//!
//! Flows reach the detector when they end, so a flood is reported about an
//! idle timeout after its packets; windows run on the flows' own times, so
//! the counts are those of the attack, not of the reporting.

mod connections;
mod victim;

use std::{collections::BTreeMap, net::IpAddr, time::Duration};

use serde::{Deserialize, Serialize};

use super::{baseline::Quantiles, config::LimitsConfig, facts::FlowFacts, finding::Finding};
use crate::detect::detector::RuleDetector;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodConfig {
    pub enabled: bool,
    /// Window for the distributed and volumetric tests. 10 s: a flood of a
    /// few hundred packets per second fills it with thousands of flows,
    /// while short bursts are not averaged away over minutes.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Distinct sources needed for a distributed flood. 20: a handful of
    /// clients retrying a dead service is not a flood; spoofed floods bring
    /// thousands of sources.
    pub min_sources: u64,
    /// Unanswered flows (half-open or refused TCP, silent UDP/ICMP) needed
    /// in the window. 50: five per second on one destination, beyond what
    /// failing clients produce.
    pub min_unanswered_flows: u64,
    /// Share of the destination's flows that must be unanswered. 0.8: a
    /// busy server answers nearly everything; a flooded one cannot.
    pub min_unanswered_ratio: f64,
    /// Window for unsolicited SYN-ACKs and resets (reflection, backscatter).
    /// 60 s: a reflector retransmits its SYN-ACKs for about a minute.
    #[serde(with = "humantime_serde")]
    pub reflection_window: Duration,
    /// Unsolicited TCP packets and distinct reflectors needed in that window.
    /// 20 packets from 2 sources: a host that never sent a SYN gets a stray
    /// SYN-ACK only after a restart mid-handshake, from one peer, retransmitted
    /// at most 5 times; more means someone spoofs its address.
    pub reflection_min_packets: u64,
    pub reflection_min_sources: u64,
    /// Packet rate to one destination that is a flood when the baseline
    /// does not know the destination. 20,000/s: a quarter of a saturated
    /// 1 Gb/s link of full-size frames; only a trained baseline can flag less.
    pub max_packets_per_sec: f64,
    /// With a baseline: a flood is this many times the destination's usual
    /// (99th percentile) rate… 10: an order of magnitude above normal.
    pub baseline_factor: f64,
    /// …and at least this rate, so a destination that usually idles is not
    /// a flood at a few packets per second. 1,000/s.
    pub min_packets_per_sec: f64,
    /// Window and limit of new TCP connections from one source to one
    /// service. 60 s and 30: a browser keeps at most 6 connections per host
    /// and reuses them; Hydra's default 16 tasks open hundreds a minute.
    #[serde(with = "humantime_serde")]
    pub connection_window: Duration,
    pub max_connections: u64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(10),
            min_sources: 20,
            min_unanswered_flows: 50,
            min_unanswered_ratio: 0.8,
            reflection_window: Duration::from_secs(60),
            reflection_min_packets: 20,
            reflection_min_sources: 2,
            max_packets_per_sec: 20_000.0,
            baseline_factor: 10.0,
            min_packets_per_sec: 1_000.0,
            connection_window: Duration::from_secs(60),
            max_connections: 30,
        }
    }
}

pub struct FloodDetector {
    victims: victim::VictimTracker,
    connections: connections::ConnectionRate,
}

impl FloodDetector {
    /// `baseline`: each destination's packets per second over `window` (from training).
    pub fn new(config: FloodConfig, limits: &LimitsConfig, baseline: BTreeMap<IpAddr, Quantiles>) -> Self {
        Self {
            connections: connections::ConnectionRate::new(&config, limits),
            victims: victim::VictimTracker::new(config, limits, baseline),
        }
    }
}

impl RuleDetector for FloodDetector {
    fn name(&self) -> &'static str {
        "flood"
    }

    fn observe(&mut self, facts: &FlowFacts<'_>, out: &mut Vec<Finding>) {
        if facts.dst_is_group {
            return;
        }
        self.victims.observe(facts, out);
        self.connections.observe(facts, out);
    }

    fn expire(&mut self, now_ns: u64) {
        self.victims.expire(now_ns);
        self.connections.expire(now_ns);
    }

    fn tracked(&self) -> usize {
        self.victims.tracked() + self.connections.tracked()
    }

    fn evicted(&self) -> u64 {
        self.victims.evicted() + self.connections.evicted()
    }
}
