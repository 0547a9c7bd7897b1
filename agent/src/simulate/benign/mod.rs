//! Benign traffic: every host starts sessions (web browsing with DNS
//! lookups first, intranet use, SSH) as a Poisson process at its own rate,
//! and most hosts keep their clock in sync with NTP.

mod browsing;
mod host;
mod ntp;

use super::{
    activity::Activity,
    population::Host,
    rng::{Stream, stream},
    units::Nanos,
    world::World,
};

/// The activities of the benign hosts from capture time `start`.
pub fn activities(seed: u64, hosts: &[Host], world: &World, start: Nanos) -> Vec<Box<dyn Activity>> {
    let mut activities: Vec<Box<dyn Activity>> = Vec::new();
    for host in hosts {
        activities.push(Box::new(host::HostSessions::new(*host, stream(seed, Stream::Host(host.index)), start)));
        if host.ntp {
            let rng = stream(seed, Stream::Ntp(host.index));
            activities.push(Box::new(ntp::NtpClient::new(*host, world, start, rng)));
        }
    }
    activities
}
