//! Time domains. Kernel timestamps are `CLOCK_MONOTONIC` nanoseconds
//! (`bpf_ktime_get_ns`); replayed packets carry Unix-epoch nanoseconds.
//! The flow engine works in whichever the source uses and a [`Clock`]
//! turns those into wall-clock time only when records are written.

use std::fmt;

use nix::time::{ClockId, clock_gettime};
use serde::{Serialize, Serializer};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

const NANOS: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// A source's time domain: its clock, and how its timestamps become
/// Unix-epoch nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// The clock the source stamps with, read for "now" in its domain (so a
    /// step of the wall clock does not move a monotonic source's now).
    source: ClockId,
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
        Self { source: ClockId::CLOCK_MONOTONIC, offset_ns: real - mono }
    }

    /// For sources already stamped in Unix-epoch nanoseconds (captures).
    pub const fn epoch() -> Self {
        Self { source: ClockId::CLOCK_REALTIME, offset_ns: 0 }
    }

    /// Current time in the source's domain.
    pub fn now_source_ns(&self) -> u64 {
        read(self.source).max(0) as u64
    }

    pub fn to_epoch_ns(&self, source_ns: u64) -> i128 {
        source_ns as i128 + self.offset_ns
    }

    /// RFC 3339 with nanoseconds, UTC.
    pub fn format(&self, source_ns: u64) -> String {
        format_epoch_ns(self.to_epoch_ns(source_ns))
    }
}

/// RFC 3339 UTC with the nanoseconds `time` prints (trailing zeros dropped,
/// none for a whole second); `@<ns>ns` for instants outside years 0–9999.
pub fn format_epoch_ns(epoch_ns: i128) -> String {
    Rfc3339Formatter::default().format(epoch_ns).as_str().to_owned()
}

/// Formats timestamps without allocating, and computes the calendar date
/// only when the day changes: records of one poll are mostly from the same
/// day, and the date is the expensive part. Output is identical to `time`'s
/// `Rfc3339` (a test compares them).
#[derive(Clone, Debug, Default)]
pub struct Rfc3339Formatter {
    /// Day number since the epoch and its `YYYY-MM-DDT`.
    day: Option<(i64, [u8; DATE_LEN])>,
}

/// `YYYY-MM-DDT`.
const DATE_LEN: usize = 11;
/// Enough for `@-170141183460469231731687303715884105728ns` (the i128 fallback).
const TEXT_CAPACITY: usize = 48;

impl Rfc3339Formatter {
    pub fn format(&mut self, epoch_ns: i128) -> Rfc3339Text {
        let Some((second, nanos)) = split_second(epoch_ns) else {
            return Rfc3339Text::fallback(epoch_ns);
        };
        let day = second.div_euclid(SECONDS_PER_DAY);
        let date = match self.day {
            Some((cached, date)) if cached == day => date,
            _ => match date_prefix(day) {
                Some(date) => {
                    self.day = Some((day, date));
                    date
                }
                None => return Rfc3339Text::fallback(epoch_ns),
            },
        };
        let second_of_day = second.rem_euclid(SECONDS_PER_DAY) as u32;
        let mut text = Rfc3339Text::default();
        text.push(&date);
        text.push(&two_digits(second_of_day / 3600));
        text.push(b":");
        text.push(&two_digits(second_of_day / 60 % 60));
        text.push(b":");
        text.push(&two_digits(second_of_day % 60));
        if nanos != 0 {
            let (digits, len) = fraction_digits(nanos);
            text.push(b".");
            text.push(&digits[..len]);
        }
        text.push(b"Z");
        text
    }
}

/// Whole seconds (rounded down) and nanoseconds of an instant, in 64-bit
/// arithmetic for years 1677–2262 (128-bit division is a library call, and
/// every flow record formats two instants); `None` where the seconds do not
/// fit in an `i64`, far outside the years `time` formats.
fn split_second(epoch_ns: i128) -> Option<(i64, u32)> {
    const NANOS_64: i64 = NANOS as i64;
    match i64::try_from(epoch_ns) {
        Ok(ns) => Some((ns.div_euclid(NANOS_64), ns.rem_euclid(NANOS_64) as u32)),
        Err(_) => Some((i64::try_from(epoch_ns.div_euclid(NANOS)).ok()?, epoch_ns.rem_euclid(NANOS) as u32)),
    }
}

/// The nine digits of a nonzero fraction of a second and how many to print:
/// `time` drops trailing zeros.
fn fraction_digits(nanos: u32) -> ([u8; 9], usize) {
    let mut digits = [b'0'; 9];
    let mut rest = nanos;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let len = digits.iter().rposition(|d| *d != b'0').map_or(0, |last| last + 1);
    (digits, len)
}

fn two_digits(value: u32) -> [u8; 2] {
    [b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]
}

/// `YYYY-MM-DDT` of a day since the epoch, from `time` so the calendar
/// arithmetic is not ours; `None` outside the years `time` formats (0–9999).
fn date_prefix(day: i64) -> Option<[u8; DATE_LEN]> {
    let seconds = day.checked_mul(SECONDS_PER_DAY)?;
    let midnight = OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    // "YYYY-MM-DDT00:00:00Z"
    let mut full = [0u8; DATE_LEN + 9];
    let written = midnight.format_into(&mut &mut full[..], &Rfc3339).ok()?;
    (written == full.len()).then(|| {
        let mut date = [0u8; DATE_LEN];
        date.copy_from_slice(&full[..DATE_LEN]);
        date
    })
}

/// A formatted RFC 3339 timestamp on the stack; serializes as a JSON string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Text {
    bytes: [u8; TEXT_CAPACITY],
    len: u8,
}

impl Default for Rfc3339Text {
    fn default() -> Self {
        Self { bytes: [0; TEXT_CAPACITY], len: 0 }
    }
}

impl Rfc3339Text {
    fn push(&mut self, bytes: &[u8]) {
        let start = usize::from(self.len);
        // Callers push at most 31 bytes in all (date, time, fraction, `Z`).
        self.bytes[start..start + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
    }

    /// `@<ns>ns`, as before there was a fast path, for instants `time` cannot format.
    #[cold]
    fn fallback(epoch_ns: i128) -> Self {
        let mut text = Self::default();
        text.push(format!("@{epoch_ns}ns").as_bytes());
        text
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text without `as_str`'s UTF-8 check, for the record encoder.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for Rfc3339Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Rfc3339Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Rfc3339Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_clock_formats_rfc3339() {
        assert_eq!(Clock::epoch().format(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456789Z");
    }

    /// The reference: `time`'s own RFC 3339 formatting of the whole instant.
    fn time_crate(epoch_ns: i128) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(epoch_ns)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| format!("@{epoch_ns}ns"))
    }

    #[test]
    fn fast_formatter_prints_exactly_what_time_prints() {
        let mut formatter = Rfc3339Formatter::default();
        let mut instants = vec![
            0,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            1_700_000_000_000_000_000,
            1_700_000_000_100_000_000,
            1_700_000_000_120_000_000,
            1_700_000_000_000_000_001,
            // 2000-02-29T23:59:59.999999999Z, then the next day.
            951_868_799_999_999_999,
            951_868_800_000_000_000,
            // Year 9999's last nanosecond, then the first instant time cannot format.
            253_402_300_799_999_999_999,
            253_402_300_800_000_000_000,
            i128::from(u64::MAX),
            -62_167_219_200_000_000_000,
            -62_167_219_200_000_000_001,
            i128::MIN,
            i128::MAX,
        ];
        // A walk through 40 years in uneven steps, with the cache warm and cold.
        let mut t: i128 = 1_262_304_000_123_456_789;
        for step in 0..20_000i128 {
            instants.push(t);
            t += 63_119_993_000_000 + step * 7_777_777;
        }
        for &instant in &instants {
            assert_eq!(formatter.format(instant).as_str(), time_crate(instant), "epoch ns {instant}");
            assert_eq!(Rfc3339Formatter::default().format(instant).as_str(), time_crate(instant));
        }
        assert_eq!(format_epoch_ns(1_700_000_000_120_000_000), "2023-11-14T22:13:20.12Z");
    }

    #[test]
    fn formatted_text_serializes_as_a_json_string() -> Result<(), serde_json::Error> {
        let text = Rfc3339Formatter::default().format(1_700_000_000_000_000_000);
        assert_eq!(serde_json::to_string(&text)?, "\"2023-11-14T22:13:20Z\"");
        Ok(())
    }

    #[test]
    fn monotonic_clock_maps_now_to_wall_time() {
        let clock = Clock::monotonic();
        let mono_now = read(ClockId::CLOCK_MONOTONIC) as u64;
        let wall = read(ClockId::CLOCK_REALTIME);
        assert!((clock.to_epoch_ns(mono_now) - wall).abs() < 1_000_000_000);
    }

    /// "Now" of a monotonic source is its own clock's reading: a wall-clock
    /// step after start (modelled as an offset an hour off) moves where its
    /// timestamps land in wall time, not its now, which times out flows.
    #[test]
    fn a_monotonic_sources_now_ignores_wall_clock_steps() {
        let stepped = Clock { offset_ns: Clock::monotonic().offset_ns + 3_600 * 1_000_000_000, ..Clock::monotonic() };
        let now = i128::from(stepped.now_source_ns());
        assert!((now - read(ClockId::CLOCK_MONOTONIC)).abs() < 1_000_000_000, "{now}");
        let epoch_now = i128::from(Clock::epoch().now_source_ns());
        assert!((epoch_now - read(ClockId::CLOCK_REALTIME)).abs() < 1_000_000_000, "{epoch_now}");
    }
}
