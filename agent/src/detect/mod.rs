//! Rule detectors: turn flow records (and model verdicts) into alert
//! [`Event`](crate::event::Event)s that name what happened, who did it and why.
//!
//! Every flow record goes through [`DetectionEngine::observe`], which derives
//! the facts all detectors share once ([`facts`]), hands the record to each
//! enabled detector, and passes what they find through [`suppress`] so the
//! same kind for the same entity is not re-alerted within a window, while
//! every repeat is still counted in an event's `occurrences`. Detectors that
//! gather an incident over a window (new services of a host, model outliers
//! of a source) or wait for later flows to rule a finding out (zone
//! transfers) hand their findings over in [`detector::RuleDetector::deferred`].
//!
//! | detector | entity | what it looks at |
//! |---|---|---|
//! | [`port_scan`] | source | Threshold Random Walk over first contacts; ICMP echo sweeps; crafted TCP flags |
//! | [`flood`] | destination, or source → service | distinct sources and unanswered flows, unsolicited SYN-ACKs, packet rate, connection rate |
//! | [`exfiltration`] | internal host → external host | bytes out over a window, against the baseline and bytes in |
//! | [`beaconing`] | source → destination:port | RITA-style regularity of connection intervals and sizes; sparse same-size check-ins |
//! | [`dns_tunnel`] | source → resolver | DNS query rate, mean query size, bytes out; zone transfers |
//! | [`rare_protocol`] | internal host | answered services not in the host's baseline, gathered per minute |
//! | [`geo`] | remote country or network | not in the baseline, or denied |
//! | [`ml_outlier`] | source, or the victim of unanswered outliers from several sources | the model's verdicts, gathered per minute |
//!
//! State is per source, destination or pair, kept in bounded LRU tables
//! ([`table`]) whose idle entries expire; every limit is in [`config`].
//! Times are the flows' own timestamps (capture time in replay), so replay
//! and live capture detect the same things.

pub mod baseline;
pub mod beaconing;
pub mod config;
mod detector;
pub mod dns_tunnel;
mod engine;
pub mod exfiltration;
mod facts;
mod finding;
pub mod flood;
mod gather;
pub mod geo;
pub mod ml_outlier;
mod networks;
pub mod port_scan;
pub mod rare_protocol;
mod stats;
pub mod suppress;
mod table;
mod window;

pub use baseline::{BaselineBuilder, BaselineError, TrafficBaseline};
pub use config::{ConfigError, DetectorsConfig};
pub use engine::{DetectionEngine, DetectorStats, EngineError};
pub use geo::{GeoLocation, GeoLookup, StaticGeo};
pub use ml_outlier::MlVerdict;
pub use networks::Networks;
