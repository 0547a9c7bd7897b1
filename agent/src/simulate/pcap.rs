//! Legacy pcap output (Ethernet, microsecond timestamps: the format every
//! tool reads, tcpreplay included), serialised with `pcap-parser`.

use std::io::{BufWriter, Write};

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec as _};

use super::{
    SimError,
    units::{MICROS, Nanos, SECS},
};

const SNAPLEN: u32 = 65_535;

pub struct PcapWriter<'w> {
    out: BufWriter<Box<dyn Write + 'w>>,
}

impl<'w> PcapWriter<'w> {
    pub fn new(out: impl Write + 'w) -> Result<Self, SimError> {
        let mut out = BufWriter::with_capacity(1 << 20, Box::new(out) as Box<dyn Write + 'w>);
        let header = PcapHeader { snaplen: SNAPLEN, network: Linktype::ETHERNET, ..PcapHeader::new() };
        out.write_all(&header.to_vec_raw().map_err(|e| SimError::PcapHeader(format!("{e:?}")))?)?;
        Ok(Self { out })
    }

    /// Starts a record of a `len`-byte frame stamped `time`; the frame's
    /// bytes go to the returned writer. Also returns the time as written
    /// (truncated to whole microseconds).
    pub fn record(&mut self, time: Nanos, len: usize) -> Result<(&mut impl Write, Nanos), SimError> {
        let len = len as u32;
        let block = LegacyPcapBlock {
            ts_sec: (time / SECS) as u32,
            ts_usec: ((time % SECS) / MICROS) as u32,
            caplen: len,
            origlen: len,
            // The record header alone: the frame builder writes the frame
            // behind it, so the frame is never copied into a buffer first.
            data: &[],
        };
        self.out.write_all(&block.to_vec_raw().map_err(|e| SimError::PcapHeader(format!("{e:?}")))?)?;
        Ok((&mut self.out, time - time % MICROS))
    }

    pub fn finish(mut self) -> Result<(), SimError> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
