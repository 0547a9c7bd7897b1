//! The `-w` file: created when the command starts (so a bad path fails
//! before anything runs), its pcap header written with the first packet's
//! link type.

use std::{fs::File, path::Path};

use super::{PcapFormat, PcapWriteError, PcapWriter, TimestampResolution, WriteStats};
use crate::replay::LinkType;

/// The largest snaplen tcpdump and libpcap accept for Ethernet (MAXIMUM_SNAPLEN).
pub const MAX_SNAPLEN: u32 = 262_144;

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot create the -w file {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("-w {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: PcapWriteError,
    },
    #[error(
        "-w {path}: a pcap file holds one link type, but the input switched from {first:?} to {now:?}; \
         replay captures of different link types separately"
    )]
    MixedLinkTypes { path: String, first: LinkType, now: LinkType },
    #[error("-w {path}: a packet came after the file was finished (a bug: please report it)")]
    Finished { path: String },
}

enum State {
    /// Created, nothing written yet.
    Empty(File),
    Writing {
        writer: PcapWriter<File>,
        link: LinkType,
    },
    Finished,
}

/// Packets to a pcap file with nanosecond timestamps.
pub struct PacketDump {
    state: State,
    snaplen: u32,
    stats: WriteStats,
}

impl std::fmt::Debug for PacketDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketDump").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl PacketDump {
    /// Creates (truncates) `path`; records keep at most `snaplen` bytes.
    pub fn create(path: &Path, snaplen: u32) -> Result<Self, DumpError> {
        let file =
            File::create(path).map_err(|source| DumpError::Create { path: path.display().to_string(), source })?;
        let stats = WriteStats { path: path.display().to_string(), ..WriteStats::default() };
        Ok(Self { state: State::Empty(file), snaplen, stats })
    }

    /// Appends one packet: `data` (cut to the snaplen) of an `orig_len`-byte packet.
    pub fn write(&mut self, link: LinkType, time_ns: u64, data: &[u8], orig_len: u32) -> Result<(), DumpError> {
        let writer = self.writer(link)?;
        let cut = writer.write_packet(time_ns, data, orig_len);
        let cut = cut.map_err(|source| DumpError::Write { path: self.stats.path.clone(), source })?;
        self.stats.packets += 1;
        self.stats.truncated += u64::from(cut);
        Ok(())
    }

    /// Writes buffered records out, so the file is readable while the agent runs.
    pub fn flush(&mut self) -> Result<(), DumpError> {
        if let State::Writing { writer, .. } = &mut self.state {
            writer.flush().map_err(|source| DumpError::Write { path: self.stats.path.clone(), source })?;
        }
        Ok(())
    }

    /// Flushes; a file that got no packet still gets its (Ethernet) header,
    /// so it is a valid, empty capture.
    pub fn finish(&mut self) -> Result<(), DumpError> {
        if matches!(self.state, State::Empty(_)) {
            self.writer(LinkType::Ethernet)?;
        }
        self.flush()?;
        self.state = State::Finished;
        Ok(())
    }

    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// The most bytes of a packet a record keeps.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    fn writer(&mut self, link: LinkType) -> Result<&mut PcapWriter<File>, DumpError> {
        let path = &self.stats.path;
        if matches!(self.state, State::Empty(_))
            && let State::Empty(file) = std::mem::replace(&mut self.state, State::Finished)
        {
            let format = PcapFormat {
                link_type: link.pcap_code(),
                snaplen: self.snaplen,
                resolution: TimestampResolution::Nano,
            };
            let writer =
                PcapWriter::new(file, format).map_err(|source| DumpError::Write { path: path.clone(), source })?;
            self.state = State::Writing { writer, link };
        }
        match &mut self.state {
            State::Writing { writer, link: first } if *first == link => Ok(writer),
            State::Writing { link: first, .. } => {
                Err(DumpError::MixedLinkTypes { path: path.clone(), first: *first, now: link })
            }
            State::Empty(_) | State::Finished => Err(DumpError::Finished { path: path.clone() }),
        }
    }
}
