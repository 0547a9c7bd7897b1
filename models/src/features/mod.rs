//! Flows → fixed-length feature vectors.
//!
//! [`FeatureExtractor`] consumes [`FlowObservation`]s in flow-time order (by
//! `end_ns`) and writes one vector of [`Feature::COUNT`] values per flow:
//! per-flow features ([`flow`]) followed by the originator's sliding-window
//! features ([`host_window`]). Values are already log-scaled where the
//! schema says so ([`schema::Scale`]); standardization is the scaler's job.

pub mod flow;
pub mod host_window;
pub mod ports;
pub mod schema;

use ndarray::Array2;

pub use host_window::{HostWindowConfig, WindowStats};
pub use schema::{Feature, FeatureSchema, SCHEMA_VERSION, Scale};

use crate::FlowObservation;

/// One flow's feature values, in schema column order.
pub type FeatureRow = [f64; Feature::COUNT];

/// Writes raw values into a feature row, applying each feature's [`Scale`].
pub struct FeatureWriter<'a>(&'a mut FeatureRow);

impl FeatureWriter<'_> {
    pub fn set(&mut self, feature: Feature, raw: f64) {
        // Non-finite inputs (a corrupt record) would poison the scaler and
        // every tree they reach; 0 is "nothing measured".
        let raw = if raw.is_finite() { raw } else { 0.0 };
        self.0[feature.index()] = feature.scale().apply(raw);
    }
}

/// Stateful: host windows remember earlier flows, so one extractor per
/// stream of flows (training set, live scorer), fed in time order.
pub struct FeatureExtractor {
    windows: host_window::HostWindows,
}

impl FeatureExtractor {
    pub fn new(window: HostWindowConfig) -> Self {
        Self { windows: host_window::HostWindows::new(window) }
    }

    /// Writes `flow`'s features into `row`.
    pub fn extract_into(&mut self, flow: &FlowObservation, row: &mut FeatureRow) {
        let mut writer = FeatureWriter(row);
        flow::write(flow, &mut writer);
        self.windows.observe(flow, &mut writer);
    }

    pub fn extract(&mut self, flow: &FlowObservation) -> FeatureRow {
        let mut row = [0.0; Feature::COUNT];
        self.extract_into(flow, &mut row);
        row
    }

    /// One row per flow, in the order given (which should be `end_ns` order).
    pub fn extract_matrix<'a>(&mut self, flows: impl IntoIterator<Item = &'a FlowObservation>) -> Array2<f64> {
        let rows: Vec<FeatureRow> = flows.into_iter().map(|flow| self.extract(flow)).collect();
        Array2::from(rows)
    }

    pub fn window_stats(&self) -> WindowStats {
        self.windows.stats()
    }
}

#[cfg(test)]
mod tests;
