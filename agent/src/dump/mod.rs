//! `-w FILE`: the packets flowwatch saw (after `-f`), written as a pcap file
//! that tcpdump, tshark and tcpreplay read. [`PcapWriter`] is the one pcap
//! serialiser of the agent; the simulator writes through it too.

mod file;
mod pcap;

pub use file::{DumpError, MAX_SNAPLEN, PacketDump};
pub use pcap::{PcapFormat, PcapWriteError, PcapWriter, TimestampResolution};

use serde::{Deserialize, Serialize};

/// What `-w` wrote, for the `write` object of the stats line. `Deserialize`
/// is for readers of that line (the integration tests).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteStats {
    pub path: String,
    /// Packet records written.
    pub packets: u64,
    /// Records shorter than their packet: cut by `--snaplen`, or already by the
    /// input capture's snaplen (the original length is kept either way).
    pub truncated: u64,
    /// Live only: packets the kernel could not hand over because the sample
    /// ring was full (they were counted in the flows, but are not in the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_drops: Option<u64>,
}
