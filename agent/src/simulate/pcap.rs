//! The simulator's capture: legacy pcap, Ethernet, microsecond timestamps
//! (the format every tool reads, tcpreplay included), through the agent's
//! one pcap serialiser ([`crate::dump::PcapWriter`]).

use std::io::Write;

use super::{SimError, units::Nanos};
use crate::{
    dump::{self, PcapFormat, PcapWriteError, TimestampResolution},
    replay::LinkType,
};

const SNAPLEN: u32 = 65_535;

pub struct PcapWriter<'w> {
    inner: dump::PcapWriter<Box<dyn Write + 'w>>,
}

fn sim_error(err: PcapWriteError) -> SimError {
    match err {
        PcapWriteError::Io(err) => SimError::Write(err),
        PcapWriteError::Header(detail) => SimError::PcapHeader(detail),
    }
}

impl<'w> PcapWriter<'w> {
    pub fn new(out: impl Write + 'w) -> Result<Self, SimError> {
        let format = PcapFormat {
            link_type: LinkType::Ethernet.pcap_code(),
            snaplen: SNAPLEN,
            resolution: TimestampResolution::Micro,
        };
        Ok(Self { inner: dump::PcapWriter::new(Box::new(out) as Box<dyn Write + 'w>, format).map_err(sim_error)? })
    }

    /// Starts a record of a `len`-byte frame stamped `time`; the frame's
    /// bytes go to the returned writer. Also returns the time as written
    /// (truncated to whole microseconds).
    pub fn record(&mut self, time: Nanos, len: usize) -> Result<(&mut impl Write, Nanos), SimError> {
        let len = len as u32;
        self.inner.record(time, len, len).map_err(sim_error)
    }

    pub fn finish(self) -> Result<(), SimError> {
        self.inner.finish().map_err(sim_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::units::SECS;

    #[test]
    fn header_and_record_bytes_are_legacy_pcap() -> Result<(), SimError> {
        let mut bytes = Vec::new();
        let mut writer = PcapWriter::new(&mut bytes)?;
        let (out, written) = writer.record(1_709_629_200 * SECS + 123_456_789, 3)?;
        out.write_all(&[0xaa; 3])?;
        writer.finish()?;
        assert_eq!(written, 1_709_629_200 * SECS + 123_456_000);
        let mut expected =
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        expected.extend_from_slice(&1_709_629_200u32.to_le_bytes());
        expected.extend_from_slice(&123_456u32.to_le_bytes());
        expected.extend_from_slice(&[3, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xaa, 0xaa]);
        assert_eq!(bytes, expected);
        Ok(())
    }
}
