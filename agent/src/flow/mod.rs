//! The flow engine: turns cumulative per-direction counters from any
//! [`FlowMapSource`] into bidirectional flow records with idle and active
//! timeouts. Live capture and replay both feed it, so what is tested
//! offline is what runs live.

mod accounting;
mod conversation;
mod deadline;
mod delta;
mod engine;
mod observation;
mod record;
mod record_json;
mod source;
mod table;

pub use accounting::Accounting;
pub use conversation::{ConversationKey, conversation_keys, icmp_request_type, reversed};
pub use delta::{DeltaTracker, Drained, delta_since};
pub use engine::{EngineConfig, FlowEngine, PollOutput};
pub use observation::summarize;
pub use record::{
    DirectionStats, EmitReason, FlowRecord, PacketFlagNames, RecordContext, StatsRecord, TcpFlagLetters, addr_to_ip,
};
pub use source::{FlowMapSource, SnapshotScope, SourceError};
pub use table::{BiflowTable, Expired};
