//! The LAN's benign hosts. Activity is heavy-tailed (Pareto): most hosts
//! start a session every minute or so, a few are busy all the time.

use rand::RngExt as _;

use super::{
    addresses::host_addr,
    dist::pareto,
    frame::Endpoint,
    rng::SimRng,
    tcp::TcpEnd,
    units::{MICROS, MILLIS, Nanos, SECS},
};

/// What a host's TCP/IP stack looks like on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
    Mac,
}

impl Os {
    pub fn ttl(self) -> u8 {
        match self {
            Self::Windows => 128,
            Self::Linux | Self::Mac => 64,
        }
    }

    /// Window field of the SYN and the window scale it announces.
    pub fn syn_window(self) -> (u16, u8) {
        match self {
            Self::Linux => (64_240, 7),
            Self::Windows => (64_240, 8),
            Self::Mac => (65_535, 6),
        }
    }

    /// The ephemeral port range connections are made from.
    pub fn ephemeral_ports(self) -> (u16, u16) {
        match self {
            Self::Linux => (32_768, 60_999),
            Self::Windows | Self::Mac => (49_152, 65_535),
        }
    }

    /// Windows hosts listen on SMB (445); a sweep gets a SYN-ACK from them.
    pub fn serves_smb(self) -> bool {
        self == Self::Windows
    }

    /// An OUI of a vendor that ships this OS.
    fn oui(self) -> [u8; 3] {
        match self {
            Self::Linux => [0x00, 0x1b, 0x21],
            Self::Windows => [0xf8, 0xbc, 0x12],
            Self::Mac => [0x3c, 0x22, 0xfb],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Host {
    pub index: u16,
    pub endpoint: Endpoint,
    pub os: Os,
    /// Mean time between this host's sessions.
    pub session_gap: Nanos,
    /// Opens SSH sessions (developers and admins).
    pub ssh_user: bool,
    /// Runs an NTP client.
    pub ntp: bool,
    /// Round trip between the capture point and the host: wired hosts
    /// answer in a fraction of a millisecond, Wi-Fi ones in a few.
    pub lan_rtt: Nanos,
}

impl Host {
    /// The host as the client end of a TCP connection from `port`.
    pub fn tcp_end(&self, port: u16) -> TcpEnd {
        let (window, window_scale) = self.os.syn_window();
        TcpEnd { endpoint: self.endpoint, port, rtt: self.lan_rtt, mss: 1460, window, window_scale }
    }
}

/// Ephemeral ports handed out in sequence from a random start, as Windows
/// and macOS do; distinct 5-tuples until the range wraps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EphemeralPorts {
    range: (u16, u16),
    next: u16,
}

impl EphemeralPorts {
    pub fn new(os: Os, rng: &mut SimRng) -> Self {
        let range = os.ephemeral_ports();
        Self { range, next: rng.random_range(range.0..=range.1) }
    }

    pub fn next_port(&mut self) -> u16 {
        let port = self.next;
        self.next = if port >= self.range.1 { self.range.0 } else { port + 1 };
        port
    }
}

/// Mean session gap of a host of weight 1; weights are Pareto(1.2) capped
/// at 30, so the busiest hosts start a session every two seconds.
const BASE_SESSION_GAP: Nanos = 60 * SECS;
const ACTIVITY_SHAPE: f64 = 1.2;
const ACTIVITY_CAP: f64 = 30.0;

pub fn generate(count: u16, rng: &mut SimRng) -> Vec<Host> {
    (0..count)
        .map(|index| {
            let os = match rng.random_range(0..10) {
                0..=5 => Os::Windows,
                6..=7 => Os::Mac,
                _ => Os::Linux,
            };
            let weight = pareto(rng, ACTIVITY_SHAPE, ACTIVITY_CAP);
            let [a, b, c] = os.oui();
            let mac = [a, b, c, rng.random(), rng.random(), index as u8];
            Host {
                index,
                endpoint: Endpoint { ip: host_addr(index), mac, ttl: os.ttl() },
                os,
                session_gap: (BASE_SESSION_GAP as f64 / weight) as Nanos,
                ssh_user: os != Os::Windows && rng.random_bool(0.5),
                ntp: rng.random_bool(0.9),
                lan_rtt: if rng.random_bool(0.7) { 150 * MICROS } else { rng.random_range(1..=6) * MILLIS },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    #[test]
    fn activity_is_heavy_tailed() {
        let hosts = generate(180, &mut stream(1, Stream::Population));
        let mut gaps: Vec<Nanos> = hosts.iter().map(|h| h.session_gap).collect();
        gaps.sort_unstable();
        // Pareto(1.2): the busiest tenth start sessions about 3.8x as often
        // as the median host (0.1^(-1/1.2) / 0.5^(-1/1.2)); ~2 % hit the cap.
        assert!(gaps[90] >= 3 * gaps[17], "median {} vs 10th percentile {}", gaps[90], gaps[17]);
        assert_eq!(gaps[0], BASE_SESSION_GAP / 30);
        assert!(gaps[179] <= BASE_SESSION_GAP);
        assert_eq!(hosts[3].endpoint.ip, std::net::Ipv4Addr::new(192, 168, 50, 13));
        assert!(hosts.iter().all(|h| h.endpoint.ttl == h.os.ttl()));
    }

    #[test]
    fn ephemeral_ports_run_in_sequence_and_wrap() {
        let mut ports = EphemeralPorts { range: (60_998, 60_999), next: 60_999 };
        assert_eq!([ports.next_port(), ports.next_port(), ports.next_port()], [60_999, 60_998, 60_999]);
        let mut rng = stream(1, Stream::Population);
        let mut windows = EphemeralPorts::new(Os::Windows, &mut rng);
        assert!(windows.next_port() >= 49_152);
    }
}
