//! `-f EXPR`: tcpdump/pcap-filter expressions, compiled and run by libpcap
//! itself so that users' tcpdump muscle memory means exactly what it means
//! in tcpdump.
//!
//! - Replay runs the compiled program on every packet ([`PacketFilter`]),
//!   as `tcpdump -r FILE -w - EXPR | flowwatch replay -` would.
//! - Live capture cannot run libpcap's classic BPF inside XDP/TC, and the
//!   kernel keeps counting every packet so its counters stay honest. Instead
//!   each flow record is tested ([`FlowFilter`]): libpcap runs the program on
//!   a packet rebuilt from the flow key (`key_packet`), one per direction.
//!   That is exact only for primitives the key decides, so live filters are
//!   restricted to them ([`FilterExpression::check_live`]).

mod expression;
mod flows;
mod key_packet;
mod live;
mod program;

pub use expression::{FilterError, FilterExpression};
pub use flows::{FilterStats, FlowFilter};
pub use program::PacketFilter;
