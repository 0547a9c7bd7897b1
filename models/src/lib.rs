//! flowwatch's machine-learning side: what a flow looks like to a model
//! ([`observation`]), the anomaly kinds every part of flowwatch names
//! ([`kind`]), and ground-truth labels for evaluation ([`labels`]).
//!
//! This crate never touches the kernel or the eBPF toolchain; the agent
//! converts its flow records into [`FlowObservation`]s.

pub mod kind;
pub mod labels;
pub mod observation;

pub use kind::AnomalyKind;
pub use labels::{Label, LabelError, Labels};
pub use observation::{DirectionSummary, FlowObservation};
