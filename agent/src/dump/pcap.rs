//! Legacy pcap output: the format every tool reads (tcpreplay included), in
//! microsecond or nanosecond resolution, little-endian. `pcap-parser`
//! serialises the file header (once); the per-packet record headers are
//! written directly, without its allocation per record.

use std::io::{self, BufWriter, Write};

use pcap_parser::{Linktype, PcapHeader, ToVec as _};

const NANOS: u64 = 1_000_000_000;
/// Magic of nanosecond-resolution pcap files (`PcapHeader::new` writes the microsecond one).
const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;
/// A legacy record header: four `u32` fields.
const RECORD_HEADER_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PcapWriteError {
    #[error("writing the pcap failed: {0} (check the path and free disk space)")]
    Io(#[from] io::Error),
    #[error("serialising a pcap header failed: {0}")]
    Header(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampResolution {
    Micro,
    Nano,
}

impl TimestampResolution {
    fn units_per_second(self) -> u64 {
        match self {
            Self::Micro => 1_000_000,
            Self::Nano => NANOS,
        }
    }
}

/// The file header's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapFormat {
    /// `LINKTYPE_*` code of every record.
    pub link_type: u32,
    /// Records keep at most this many bytes of each packet.
    pub snaplen: u32,
    pub resolution: TimestampResolution,
}

pub struct PcapWriter<W: Write> {
    out: BufWriter<W>,
    format: PcapFormat,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(out: W, format: PcapFormat) -> Result<Self, PcapWriteError> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let mut header =
            PcapHeader { snaplen: format.snaplen, network: Linktype(format.link_type as i32), ..PcapHeader::new() };
        if format.resolution == TimestampResolution::Nano {
            header.magic_number = NANOSECOND_MAGIC;
        }
        out.write_all(&header.to_vec_raw().map_err(|e| PcapWriteError::Header(format!("{e:?}")))?)?;
        Ok(Self { out, format })
    }

    /// Starts a record of `caplen` captured bytes of an `orig_len`-byte packet
    /// stamped `time_ns` (since the Unix epoch); the caller writes exactly
    /// `caplen` bytes to the returned writer. Also returns the time as
    /// written (cut to the file's resolution).
    pub fn record(
        &mut self,
        time_ns: u64,
        caplen: u32,
        orig_len: u32,
    ) -> Result<(&mut impl Write, u64), PcapWriteError> {
        let unit_ns = NANOS / self.format.resolution.units_per_second();
        // The record header alone, built on the stack (this runs per packet):
        // ts_sec, ts_usec (or ts_nsec), caplen, origlen, in the file header's
        // byte order, little-endian. The caller writes the bytes behind it, so
        // a frame being built is never copied into a buffer first.
        let fields = [(time_ns / NANOS) as u32, ((time_ns % NANOS) / unit_ns) as u32, caplen, orig_len];
        let mut header = [0; RECORD_HEADER_LEN];
        for (bytes, field) in header.chunks_exact_mut(4).zip(fields) {
            bytes.copy_from_slice(&field.to_le_bytes());
        }
        self.out.write_all(&header)?;
        Ok((&mut self.out, time_ns - time_ns % unit_ns))
    }

    /// One whole record: `data` cut to the snaplen, `orig_len` as given.
    /// Returns whether the record is shorter than the packet (cut here, or
    /// already before, by the kernel's or the input capture's snaplen).
    pub fn write_packet(&mut self, time_ns: u64, data: &[u8], orig_len: u32) -> Result<bool, PcapWriteError> {
        let kept = &data[..data.len().min(self.format.snaplen as usize)];
        let orig_len = orig_len.max(kept.len() as u32);
        let (out, _) = self.record(time_ns, kept.len() as u32, orig_len)?;
        out.write_all(kept)?;
        Ok((kept.len() as u32) < orig_len)
    }

    pub fn flush(&mut self) -> Result<(), PcapWriteError> {
        Ok(self.out.flush()?)
    }

    pub fn finish(mut self) -> Result<(), PcapWriteError> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_records_keep_caplen_and_orig_len() -> Result<(), PcapWriteError> {
        let mut bytes = Vec::new();
        let format = PcapFormat { link_type: 113, snaplen: 4, resolution: TimestampResolution::Nano };
        let mut writer = PcapWriter::new(&mut bytes, format)?;
        assert!(writer.write_packet(1_709_629_200 * NANOS + 123_456_789, &[1, 2, 3], 60)?);
        assert!(!writer.write_packet(8, &[1, 2], 2)?);
        assert!(writer.write_packet(7, &[1, 2, 3, 4, 5, 6], 6)?);
        writer.finish()?;
        let mut expected = vec![0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 113, 0, 0, 0];
        expected.extend_from_slice(&1_709_629_200u32.to_le_bytes());
        expected.extend_from_slice(&123_456_789u32.to_le_bytes());
        expected.extend_from_slice(&[3, 0, 0, 0, 60, 0, 0, 0, 1, 2, 3]);
        expected.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 2]);
        expected.extend_from_slice(&[0, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(bytes, expected);
        Ok(())
    }
}
