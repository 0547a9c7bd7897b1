//! Labelled anomalies. Each injection runs inside its own window of the
//! capture (beaconing spans all of it) and uses addresses that benign
//! traffic never uses on the labelled side (see the address plan), so a
//! label's matching rule — overlaps the time range and involves the
//! attacker, or the victim when no attacker is named — selects exactly the
//! injected flows. Where the attack comes from outside, the label names
//! the outside server as the attacker and the LAN host as the victim.
//!
//! Magnitudes at the default 10-minute capture: port_scan probes 1,000
//! ports; host_sweep 253 addresses on port 445; syn_flood sends 30,000
//! SYNs from random spoofed sources; exfiltration uploads 200 MB;
//! beaconing checks in every 60 s ± 10 % with 200–400-byte requests;
//! dns_tunnel sends 3,000 TXT queries of 100–250 bytes; rare_country makes
//! 4 HTTPS connections to Bhutan; rare_protocol keeps a 2-minute IRC
//! session. Full magnitudes need windows that captures of about 8 minutes
//! and longer give with every kind injected; in shorter ones scans and the
//! flood run faster, and the exfiltration volume, the tunnel query count
//! and the IRC session shrink in proportion to their windows.

mod beaconing;
mod dns_tunnel;
mod exfiltration;
mod flood;
mod irc;
mod kind;
mod outside;
mod probe;
mod rare_country;
mod scan;
mod spawner;
mod timeline;

use std::net::Ipv4Addr;

pub use kind::{InjectionKind, UnknownInjection};
pub use timeline::{Window, plan_windows};

use super::{
    SimError,
    activity::Activity,
    output::Origin,
    population::Host,
    rng::{Stream, stream},
    units::Nanos,
    world::World,
};

/// One injection as its label describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    pub kind: InjectionKind,
    pub attacker: Option<Ipv4Addr>,
    pub victim: Option<Ipv4Addr>,
}

/// The activity of injection `kind` in `window`. The kinds that involve a
/// benign host need `victim` (the configuration guarantees one each).
pub fn start(
    kind: InjectionKind,
    index: usize,
    window: Window,
    victim: Option<&Host>,
    world: &World,
    seed: u64,
    capture_end: Nanos,
) -> Result<(Injection, Box<dyn Activity>), SimError> {
    let rng = stream(seed, Stream::Injection(kind));
    let origin = Origin::Injection(index);
    let victim_host = || victim.ok_or(SimError::NoVictim(kind));
    let (attacker, victim, activity) = match kind {
        InjectionKind::PortScan => {
            let (attacker, victim, activity) = scan::port_scan(window, origin, rng);
            (Some(attacker), Some(victim), activity)
        }
        InjectionKind::HostSweep => {
            let (attacker, activity) = scan::host_sweep(window, world, origin, rng);
            (Some(attacker), None, activity)
        }
        InjectionKind::SynFlood => {
            let (victim, activity) = flood::syn_flood(window, origin, rng);
            (None, Some(victim), activity)
        }
        InjectionKind::DnsTunnel => {
            let (attacker, victim, activity) = dns_tunnel::start(window, world, origin, rng);
            (Some(attacker), Some(victim), activity)
        }
        InjectionKind::Exfiltration => {
            let host = victim_host()?;
            let (attacker, activity) = exfiltration::start(window, host, origin, rng);
            (Some(attacker), Some(host.endpoint.ip), activity)
        }
        InjectionKind::Beaconing => {
            let host = victim_host()?;
            let (attacker, activity) = beaconing::start(window.start, capture_end, host, origin, rng);
            (Some(attacker), Some(host.endpoint.ip), activity)
        }
        InjectionKind::RareCountry => {
            let host = victim_host()?;
            let (attacker, activity) = rare_country::start(window, host, origin, rng);
            (Some(attacker), Some(host.endpoint.ip), activity)
        }
        InjectionKind::RareProtocol => {
            let host = victim_host()?;
            let (attacker, activity) = irc::start(window, host, origin, rng);
            (Some(attacker), Some(host.endpoint.ip), activity)
        }
    };
    Ok((Injection { kind, attacker, victim }, activity))
}
