//! The flowwatch userspace agent.
//!
//! Data flows `capture` (or another [`flow::FlowMapSource`]) → [`flow::FlowEngine`]
//! (deltas, bidirectional merge, timeouts) → records → [`sink`].

pub mod analysis;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod detect;
pub mod dump;
pub mod duration;
pub mod enrich;
pub mod event;
pub mod filter;
pub mod flow;
pub mod iface;
pub mod replay;
pub mod simulate;
pub mod sink;
