//! Offline replay: pcap/pcapng packets go through the same parser
//! (`agent_common::parse`) and the same [`crate::flow::FlowEngine`] as live
//! capture, with the engine polled on capture time so idle and active
//! timeouts fire as they would have live.
//!
//! [`reader`] streams packets out of a file, [`link`] hands each link type
//! to the parser, [`map`] counts packets as the kernel does, and [`driver`]
//! schedules polls and writes records to a [`ReplaySink`].

mod driver;
mod error;
pub mod link;
mod map;
mod reader;

pub use driver::{ReplayConfig, ReplaySink, SinkFailure, StopReason, Summary, replay};
pub use error::ReplayError;
pub use link::LinkType;
pub use map::ReplayFlowMap;
pub use reader::{CaptureReader, Packet};
