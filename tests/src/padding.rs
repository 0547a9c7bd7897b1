//! A copy of a capture with every frame the snaplen cut padded back to its
//! wire length with zeros, so a sender (tcpreplay) puts on the wire the
//! lengths that `flowwatch replay` counts. Headers are untouched, so every
//! frame parses as before.

use std::{
    fs::File,
    io::{self, Read, Write},
    path::Path,
};

use agent::dump::{PcapFormat, PcapWriter, TimestampResolution};
use anyhow::{Context, Result, ensure};

/// Link type, snaplen and nanosecond flag kept; the snaplen is raised so
/// padded frames fit it.
const PADDED_SNAPLEN: u32 = 262_144;

/// Writes `input` (legacy pcap; convert pcapng with `editcap -F pcap` first)
/// to `output` with every record's captured length equal to its original
/// length, through the agent's own pcap writer.
pub fn pad_to_wire_length(input: &Path, output: &Path) -> Result<()> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let (rest, capture) =
        pcap_parser::parse_pcap(&bytes).map_err(|e| anyhow::anyhow!("parsing {}: {e:?}", input.display()))?;
    ensure!(rest.is_empty(), "{}: {} trailing bytes (truncated record)", input.display(), rest.len());
    let header = &capture.header;
    let (resolution, unit_ns) = if header.is_nanosecond_precision() {
        (TimestampResolution::Nano, 1)
    } else {
        (TimestampResolution::Micro, 1_000)
    };
    let format = PcapFormat {
        link_type: u32::try_from(header.network.0).context("negative link type")?,
        snaplen: PADDED_SNAPLEN.max(header.snaplen),
        resolution,
    };
    let file = File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut writer = PcapWriter::new(file, format)?;
    for record in &capture.blocks {
        let wire_len = record.origlen.max(record.caplen);
        let time_ns = u64::from(record.ts_sec) * 1_000_000_000 + u64::from(record.ts_usec) * unit_ns;
        let (out, _) = writer.record(time_ns, wire_len, record.origlen)?;
        out.write_all(record.data)?;
        // Zeros streamed from io::repeat: no buffer allocated per record.
        io::copy(&mut io::repeat(0).take(u64::from(wire_len - record.caplen)), out)?;
    }
    writer.finish().with_context(|| format!("writing {}", output.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-record pcap: one frame cut from 100 to 60 bytes, one whole.
    fn cut_capture() -> Vec<u8> {
        let mut file = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        file.extend_from_slice(&2u16.to_le_bytes());
        file.extend_from_slice(&4u16.to_le_bytes());
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&60u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        for (caplen, origlen, fill) in [(60u32, 100u32, 0xabu8), (42, 42, 0xcd)] {
            file.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
            file.extend_from_slice(&caplen.to_le_bytes());
            file.extend_from_slice(&origlen.to_le_bytes());
            file.extend(std::iter::repeat_n(fill, caplen as usize));
        }
        file
    }

    #[test]
    fn cut_frames_are_padded_with_zeros_to_their_wire_length() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (input, output) = (dir.path().join("cut.pcap"), dir.path().join("padded.pcap"));
        std::fs::write(&input, cut_capture())?;
        pad_to_wire_length(&input, &output)?;
        let bytes = std::fs::read(&output)?;
        let (_, padded) = pcap_parser::parse_pcap(&bytes).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let records: Vec<(u32, u32, Vec<u8>)> =
            padded.blocks.iter().map(|b| (b.caplen, b.origlen, b.data.to_vec())).collect();
        let mut first = vec![0xab; 60];
        first.resize(100, 0);
        assert_eq!(records, vec![(100, 100, first), (42, 42, vec![0xcd; 42])]);
        assert_eq!((padded.header.snaplen, padded.header.network.0), (PADDED_SNAPLEN, 1));
        assert_eq!((padded.blocks[0].ts_sec, padded.blocks[0].ts_usec), (1, 2));
        Ok(())
    }
}
