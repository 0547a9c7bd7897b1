//! Time domains. Kernel timestamps are `CLOCK_MONOTONIC` nanoseconds
//! (`bpf_ktime_get_ns`); replayed packets carry Unix-epoch nanoseconds.
//! The flow engine works in whichever the source uses and a [`Clock`]
//! turns those into wall-clock time only when records are written.

use nix::time::{ClockId, clock_gettime};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Converts source timestamps to Unix-epoch nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Added to a source timestamp to get Unix-epoch nanoseconds.
    offset_ns: i128,
}

fn read(clock: ClockId) -> i128 {
    // clock_gettime cannot fail for these clock ids on Linux.
    clock_gettime(clock).map(|ts| ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128).unwrap_or(0)
}

impl Clock {
    /// For sources stamped with `CLOCK_MONOTONIC` (the kernel programs).
    pub fn monotonic() -> Self {
        let mono = read(ClockId::CLOCK_MONOTONIC);
        let real = read(ClockId::CLOCK_REALTIME);
        Self { offset_ns: real - mono }
    }

    /// For sources already stamped in Unix-epoch nanoseconds (captures).
    pub const fn epoch() -> Self {
        Self { offset_ns: 0 }
    }

    /// Current time in the source's domain.
    pub fn now_source_ns(&self) -> u64 {
        (read(ClockId::CLOCK_REALTIME) - self.offset_ns).max(0) as u64
    }

    pub fn to_epoch_ns(&self, source_ns: u64) -> i128 {
        source_ns as i128 + self.offset_ns
    }

    /// RFC 3339 with nanoseconds, UTC.
    pub fn format(&self, source_ns: u64) -> String {
        format_epoch_ns(self.to_epoch_ns(source_ns))
    }
}

pub fn format_epoch_ns(epoch_ns: i128) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(epoch_ns)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{epoch_ns}ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_clock_formats_rfc3339() {
        assert_eq!(Clock::epoch().format(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456789Z");
    }

    #[test]
    fn monotonic_clock_maps_now_to_wall_time() {
        let clock = Clock::monotonic();
        let mono_now = read(ClockId::CLOCK_MONOTONIC) as u64;
        let wall = read(ClockId::CLOCK_REALTIME);
        assert!((clock.to_epoch_ns(mono_now) - wall).abs() < 1_000_000_000);
    }
}
