//! `flowwatch simulate`: a seeded, reproducible pcap of a LAN's traffic,
//! optionally with labelled anomalies, for replay, training and evaluation.
//!
//! A population of hosts (`population`) browses the web (a DNS lookup
//! first, then HTTP or HTTPS), uses an intranet server, opens SSH sessions
//! and keeps its clock with NTP (`benign`, `services`); sizes are
//! lognormal, session arrivals a Poisson process per host with
//! Pareto-distributed rates (`dist`). TCP is modelled segment by segment
//! (`tcp`). Injections (`inject`) add scans, a flood, exfiltration,
//! beaconing, DNS tunnelling, a rare country and a rare protocol, and the
//! ground truth comes back as [`models::Labels`].
//!
//! Packets stream to the file in capture-time order through a priority
//! queue of activities (`scheduler`, `activity`); memory holds only
//! the conversations in progress, never the capture. The same
//! [`SimConfig`] gives a byte-identical pcap and labels; benign traffic
//! does not depend on the injections chosen (every part draws from its own
//! seeded stream, see `rng`).
//!
//! Address plan:
//!
//! ```text
#![doc = include_str!("address_plan.txt")]
//! ```

mod activity;
pub mod addresses;
mod benign;
mod conversation;
mod datagram;
mod dist;
mod error;
mod frame;
mod inject;
mod labels;
mod output;
mod payload;
mod pcap;
mod population;
mod rng;
mod scheduler;
mod services;
mod tcp;
mod units;
mod world;

use std::{io::Write, time::Duration};

pub use error::SimError;
pub use inject::{InjectionKind, UnknownInjection};
use models::Labels;
use rand::seq::SliceRandom as _;

use self::{
    inject::plan_windows,
    output::Output,
    payload::Filler,
    rng::{Stream, stream},
    scheduler::Scheduler,
    units::{Nanos, SECS},
    world::World,
};

use crate::duration::saturating_ns;

/// The address plan, for `--help`.
pub const ADDRESS_PLAN: &str = include_str!("address_plan.txt");

pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_HOSTS: u16 = 50;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(600);
/// 2024-03-05T09:00:00Z, a Tuesday morning.
pub const DEFAULT_START_SECS: u64 = 1_709_629_200;
/// Injections need room for their windows.
pub const MIN_DURATION_WITH_INJECTIONS: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub seed: u64,
    /// Capture start, nanoseconds since the Unix epoch.
    pub start_ns: Nanos,
    pub duration: Duration,
    /// Benign hosts on the LAN.
    pub hosts: u16,
    /// Duplicates are ignored; the order does not matter.
    pub injections: Vec<InjectionKind>,
    /// Stop after this many packets.
    pub max_packets: Option<u64>,
}

impl SimConfig {
    /// The defaults of `flowwatch simulate` with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            start_ns: DEFAULT_START_SECS * SECS,
            duration: DEFAULT_DURATION,
            hosts: DEFAULT_HOSTS,
            injections: Vec::new(),
            max_packets: None,
        }
    }

    /// Injections in canonical order, without duplicates.
    fn kinds(&self) -> Vec<InjectionKind> {
        InjectionKind::ALL.into_iter().filter(|kind| self.injections.contains(kind)).collect()
    }

    fn validate(&self, kinds: &[InjectionKind]) -> Result<(), SimError> {
        if self.hosts == 0 || self.hosts > addresses::MAX_HOSTS {
            return Err(SimError::Hosts(self.hosts));
        }
        let needed = kinds.iter().filter(|kind| kind.needs_benign_host()).count() as u16;
        if self.hosts < needed {
            return Err(SimError::TooFewHostsForInjections { hosts: self.hosts, needed });
        }
        if self.duration < Duration::from_secs(1) {
            return Err(SimError::Duration { min_secs: 1, reason: "" });
        }
        if !kinds.is_empty() && self.duration < MIN_DURATION_WITH_INJECTIONS {
            return Err(SimError::Duration {
                min_secs: MIN_DURATION_WITH_INJECTIONS.as_secs(),
                reason: " with --inject (each injection needs a window of its own)",
            });
        }
        Ok(())
    }
}

/// What an injection wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectionSummary {
    pub kind: InjectionKind,
    pub packets: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    pub packets: u64,
    /// Frame bytes written (without pcap headers).
    pub bytes: u64,
    pub injections: Vec<InjectionSummary>,
    /// One label per injection that wrote packets.
    pub labels: Labels,
}

/// Writes the capture `config` describes to `pcap`.
pub fn simulate(config: &SimConfig, pcap: impl Write) -> Result<SimReport, SimError> {
    let kinds = config.kinds();
    config.validate(&kinds)?;
    let duration = saturating_ns(config.duration);
    let start = config.start_ns;
    let end = start.saturating_add(duration);

    let mut population_rng = stream(config.seed, Stream::Population);
    let hosts = population::generate(config.hosts, &mut population_rng);
    let filler = Filler::new(&mut stream(config.seed, Stream::Filler));
    let world = World::generate(hosts, filler, &mut population_rng);

    let mut scheduler = Scheduler::default();
    for activity in benign::activities(config.seed, &world.hosts, &world, start) {
        scheduler.add(activity);
    }

    let mut timeline_rng = stream(config.seed, Stream::Timeline);
    let windows = plan_windows(&kinds, start, duration, &mut timeline_rng);
    // Distinct benign hosts as the victims of outside attackers.
    let mut victims: Vec<usize> = (0..world.hosts.len()).collect();
    victims.shuffle(&mut timeline_rng);
    let mut victims = victims.into_iter();
    let mut injections = Vec::with_capacity(kinds.len());
    for (index, (&kind, window)) in kinds.iter().zip(windows).enumerate() {
        let victim = if kind.needs_benign_host() { victims.next().and_then(|i| world.hosts.get(i)) } else { None };
        let (injection, activity) = inject::start(kind, index, window, victim, &world, config.seed, end)?;
        injections.push(injection);
        scheduler.add(activity);
    }

    let mut output = Output::new(pcap, injections.len(), config.max_packets)?;
    scheduler.run(end, &mut output, &world)?;
    let (packets, bytes) = (output.packets(), output.bytes());
    let written = output.finish()?;
    Ok(SimReport {
        packets,
        bytes,
        injections: kinds
            .iter()
            .zip(&written)
            .map(|(&kind, w)| InjectionSummary { kind, packets: w.packets })
            .collect(),
        labels: labels::build(&injections, &written),
    })
}
