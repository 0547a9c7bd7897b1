//! Duration arguments: a bare number is seconds (the seed tools' `-t 30`),
//! anything else is humantime (`250ms`, `30s`, `5m`).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("invalid duration {input:?}: use seconds (\"2.5\") or a unit (\"250ms\", \"30s\", \"5m\")")]
pub struct DurationError {
    input: String,
}

/// Nanoseconds, saturating at `u64::MAX` (584 years) for absurd durations,
/// as every timestamp in the flow engine and detectors is a `u64` of ns.
pub fn saturating_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = || DurationError { input: input.to_owned() };
    let trimmed = input.trim();
    if let Ok(seconds) = trimmed.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(err());
        }
        return Ok(Duration::from_secs_f64(seconds));
    }
    humantime::parse_duration(trimmed).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration("30").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5").ok(), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn units_are_accepted() {
        assert_eq!(parse_duration("250ms").ok(), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m").ok(), Some(Duration::from_secs(300)));
    }

    #[test]
    fn garbage_and_negative_are_rejected() {
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("NaN").is_err());
    }
}
