//! Where packets go: frame building, the pcap file, and a tally of what
//! each injection wrote, from which the labels are made.

use std::io::Write;

use super::{
    SimError,
    frame::{Frame, FrameHeader},
    pcap::PcapWriter,
    units::Nanos,
};

/// Who produced a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Benign,
    /// Index into the run's injection list.
    Injection(usize),
}

/// Packets and capture-time span one injection actually wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub packets: u64,
    /// First and last packet time as written to the pcap.
    pub span: Option<(Nanos, Nanos)>,
}

pub struct Output<'w> {
    pcap: PcapWriter<'w>,
    injections: Vec<Written>,
    packets: u64,
    bytes: u64,
    limit: Option<u64>,
}

impl<'w> Output<'w> {
    pub fn new(out: impl Write + 'w, injections: usize, limit: Option<u64>) -> Result<Self, SimError> {
        Ok(Self {
            pcap: PcapWriter::new(out)?,
            injections: vec![Written::default(); injections],
            packets: 0,
            bytes: 0,
            limit,
        })
    }

    /// Writes one frame at `time`.
    pub fn emit(&mut self, origin: Origin, time: Nanos, header: &FrameHeader, payload: &[u8]) -> Result<(), SimError> {
        let frame = Frame::new(header)?;
        let len = frame.len(payload.len());
        let (out, written) = self.pcap.record(time, len)?;
        frame.write(out, payload)?;
        self.packets += 1;
        self.bytes += len as u64;
        if let Origin::Injection(index) = origin
            && let Some(tally) = self.injections.get_mut(index)
        {
            tally.packets += 1;
            tally.span = Some(tally.span.map_or((written, written), |(first, _)| (first, written)));
        }
        Ok(())
    }

    /// True once the packet limit (`--packets`) is reached.
    pub fn is_full(&self) -> bool {
        self.limit.is_some_and(|limit| self.packets >= limit)
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes the pcap; returns what each injection wrote.
    pub fn finish(self) -> Result<Vec<Written>, SimError> {
        self.pcap.finish()?;
        Ok(self.injections)
    }
}
