//! Simulated time: nanoseconds since the Unix epoch, as the replay reader
//! hands packets to the flow engine.

/// A point in simulated time or a span of it, in nanoseconds.
pub type Nanos = u64;

pub const MICROS: Nanos = 1_000;
pub const MILLIS: Nanos = 1_000_000;
pub const SECS: Nanos = 1_000_000_000;

/// Seconds (fractions allowed) as [`Nanos`]; negative and NaN become 0.
pub fn secs_f64(seconds: f64) -> Nanos {
    // `as` saturates: huge values become u64::MAX, NaN becomes 0.
    (seconds.max(0.0) * SECS as f64) as Nanos
}

/// Nanoseconds as the fractional seconds the labels file and
/// `models::Label::matches` use. Both sides convert with this same
/// expression, so a label boundary equals the flow time it was taken from.
pub fn to_secs_f64(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}
