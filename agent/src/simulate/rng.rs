//! Seeded random streams. Every part of the simulation draws from its own
//! ChaCha stream derived from `--seed`, so adding an injection never shifts
//! the benign traffic: the same seed gives the same benign packets with or
//! without anomalies, which is what lets the tests prove that no benign flow
//! matches a label.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::InjectionKind;

/// The generator behind every random choice in the simulator.
pub type SimRng = ChaCha8Rng;

/// Who draws from a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Host profiles (activity, OS, services).
    Population,
    /// Bytes used as opaque (encrypted or compressed) payload.
    Filler,
    /// Where injections sit in the capture.
    Timeline,
    /// One benign host's sessions.
    Host(u16),
    /// One benign host's NTP client.
    Ntp(u16),
    Injection(InjectionKind),
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Self::Population => 1,
            Self::Filler => 2,
            Self::Timeline => 3,
            Self::Host(index) => 0x1_0000 + u64::from(index),
            Self::Ntp(index) => 0x2_0000 + u64::from(index),
            Self::Injection(kind) => 0x3_0000 + kind as u64,
        }
    }
}

/// The stream `stream` of run `seed`.
pub fn stream(seed: u64, stream: Stream) -> SimRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream.id());
    rng
}

/// A child generator for one conversation, drawn from its parent's stream.
pub fn child(parent: &mut SimRng) -> SimRng {
    ChaCha8Rng::from_rng(parent)
}

#[cfg(test)]
mod tests {
    use rand::Rng as _;

    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, s| stream(seed, s).next_u64();
        assert_eq!(draw(1, Stream::Host(3)), draw(1, Stream::Host(3)));
        assert_ne!(draw(1, Stream::Host(3)), draw(1, Stream::Host(4)));
        assert_ne!(draw(1, Stream::Host(3)), draw(2, Stream::Host(3)));
        assert_ne!(draw(1, Stream::Injection(InjectionKind::PortScan)), draw(1, Stream::Population));
    }
}
