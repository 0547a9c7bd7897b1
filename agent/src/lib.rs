//! The flowwatch userspace agent.
//!
//! Data flows `capture` (or another [`flow::FlowMapSource`]) → [`flow::FlowEngine`]
//! (deltas, bidirectional merge, timeouts) → records → [`sink`].

pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod duration;
pub mod event;
pub mod flow;
pub mod iface;
pub mod replay;
pub mod simulate;
pub mod sink;
