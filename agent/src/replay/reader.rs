//! Streaming pcap and pcapng reading with `pcap-parser`: bounded memory
//! (one block in a growable buffer), per-interface link types and timestamp
//! resolutions, errors that name the input and the byte offset.

use std::{
    fs::File,
    io::{self, Cursor, Read},
    path::Path,
    sync::{Arc, Mutex, PoisonError},
};

use pcap_parser::{
    Block, InterfaceDescriptionBlock, LegacyPcapBlock, PcapBlockOwned, PcapError, PcapHeader, create_reader,
    traits::{PcapNGPacketBlock, PcapReaderIterator},
};

use super::{
    ReplayError,
    link::{LinkType, link_type_name},
};

/// One captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Length on the wire, also when the capture kept fewer bytes.
    pub orig_len: u32,
    /// The captured bytes (`len() <= orig_len` unless the file says otherwise).
    pub data: &'a [u8],
    pub link: LinkType,
    /// Interface number within the file: the pcapng interface id (counted
    /// across sections), 0 for pcap.
    pub interface: u32,
}

/// Initial read buffer; it grows for larger blocks up to [`MAX_BLOCK`].
const BUFFER: usize = 1 << 16;
/// Largest block accepted; anything claiming more is treated as corrupt.
const MAX_BLOCK: usize = 64 << 20;
/// Bytes read before deciding the format, so short reads from a pipe do not
/// make a valid header look truncated.
const PREFIX: usize = 4096;
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const NANOS: u64 = 1_000_000_000;

/// An interface as a pcapng IDB (or the pcap file header) describes it.
#[derive(Clone, Debug)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_s: i64,
    snaplen: u32,
}

impl Interface {
    fn link(&self, input: &str) -> Result<LinkType, ReplayError> {
        LinkType::from_code(self.link_type).ok_or_else(|| ReplayError::UnsupportedLinkType {
            input: input.to_owned(),
            link_type: self.link_type,
            name: link_type_name(self.link_type),
        })
    }

    fn timestamp_ns(&self, units: u64) -> u64 {
        let resolution = u128::from(self.resolution.max(1));
        let ns = i128::try_from(u128::from(units) * u128::from(NANOS) / resolution).unwrap_or(i128::MAX)
            + i128::from(self.offset_s) * i128::from(NANOS);
        ns.clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// Keeps the `io::Error` that pcap-parser reduces to `ReadError`, and
/// retries reads interrupted by a signal.
struct KeepError<R> {
    inner: R,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for KeepError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let copy = io::Error::new(err.kind(), err.to_string());
                    *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
                    return Err(copy);
                }
                ok => return ok,
            }
        }
    }
}

/// Reads packets from one pcap or pcapng input.
pub struct CaptureReader {
    input: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    read_error: Arc<Mutex<Option<io::Error>>>,
    /// Bytes of the block returned last, consumed on the next call.
    pending: usize,
    /// Interfaces of the current pcapng section (one for pcap).
    interfaces: Vec<Interface>,
    /// Interfaces in earlier pcapng sections.
    section_base: u32,
    seen_section: bool,
    /// For pcapng simple packet blocks, which carry no timestamp.
    last_timestamp_ns: u64,
    /// Interfaces described since the caller last asked, with their names.
    new_interfaces: Vec<(u32, String)>,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader").field("input", &self.input).finish_non_exhaustive()
    }
}

impl CaptureReader {
    /// Opens a file, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, ReplayError> {
        if path.as_os_str() == "-" {
            return Self::new("stdin".to_owned(), io::stdin());
        }
        let input = path.display().to_string();
        let file = File::open(path).map_err(|source| ReplayError::Open { input: input.clone(), source })?;
        Self::new(input, file)
    }

    /// Reads from any byte stream; `input` names it in errors.
    pub fn new<R: Read + Send + 'static>(input: String, inner: R) -> Result<Self, ReplayError> {
        let error = Arc::new(Mutex::new(None));
        let mut inner = KeepError { inner, error: Arc::clone(&error) };
        let mut prefix = Vec::with_capacity(PREFIX);
        while prefix.len() < PREFIX {
            let mut chunk = [0u8; 512];
            match inner.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => prefix.extend_from_slice(&chunk[..n]),
                Err(source) => {
                    let source = error.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or(source);
                    return Err(ReplayError::Read { input, offset: prefix.len() as u64, source });
                }
            }
        }
        if prefix.is_empty() {
            return Err(ReplayError::Empty { input });
        }
        let is_pcapng = prefix.starts_with(&PCAPNG_MAGIC);
        let stream = Cursor::new(prefix.clone()).chain(inner);
        let reader = match create_reader(BUFFER.max(PREFIX), stream) {
            Ok(reader) => reader,
            Err(PcapError::HeaderNotRecognized) if !is_pcapng => return Err(ReplayError::NotACapture { input }),
            Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
                let what = if is_pcapng { "section header block" } else { "file header" };
                return Err(ReplayError::Truncated { input, offset: 0, what });
            }
            Err(err) => {
                let detail = if is_pcapng && prefix.len() < 28 {
                    return Err(ReplayError::Truncated { input, offset: 0, what: "section header block" });
                } else if is_pcapng {
                    "invalid pcapng section header block".to_owned()
                } else {
                    describe(&err)
                };
                return Err(ReplayError::Corrupt { input, offset: 0, detail });
            }
        };
        Ok(Self {
            input,
            reader,
            read_error: error,
            pending: 0,
            interfaces: Vec::new(),
            section_base: 0,
            seen_section: false,
            last_timestamp_ns: 0,
            new_interfaces: Vec::new(),
        })
    }

    /// The input's name as used in messages.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Byte offset of the next block.
    pub fn offset(&self) -> u64 {
        (self.reader.consumed() + self.pending) as u64
    }

    /// Interfaces seen since the last call: (interface number, name).
    pub fn take_new_interfaces(&mut self) -> Vec<(u32, String)> {
        std::mem::take(&mut self.new_interfaces)
    }

    /// The next packet, `None` at the end of the input.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, ReplayError> {
        loop {
            self.reader.consume(std::mem::take(&mut self.pending));
            let offset = self.reader.consumed() as u64;
            let size = match self.reader.next() {
                Ok((size, block)) => size,
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    self.refill(offset)?;
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    let capacity = self.reader.data().len().max(BUFFER).saturating_mul(2);
                    if capacity > MAX_BLOCK || !self.reader.grow(capacity) {
                        return Err(self.corrupt(offset, format!("block larger than {} MiB", MAX_BLOCK >> 20)));
                    }
                    self.refill(offset)?;
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    let what = if self.seen_section { "pcapng block" } else { "packet record" };
                    return Err(ReplayError::Truncated { input: self.input.clone(), offset, what });
                }
                Err(PcapError::ReadError) => return Err(self.read_failed(offset)),
                Err(err) => {
                    let detail = describe(&err);
                    return Err(self.corrupt(offset, detail));
                }
            };
            self.pending = size;
            // Re-borrow the block: the match above ended the first borrow so
            // `self` could be used for errors.
            let Ok((_, block)) = self.reader.next() else {
                return Err(self.corrupt(offset, "block could not be re-read".to_owned()));
            };
            match block {
                PcapBlockOwned::LegacyHeader(header) => {
                    let interface = legacy_interface(&header);
                    self.interfaces = vec![interface];
                    self.new_interfaces.push((0, self.input.clone()));
                }
                PcapBlockOwned::Legacy(record) => {
                    let interface = &self.interfaces[0];
                    let timestamp_ns = legacy_timestamp_ns(&record, interface.resolution);
                    let link = interface.link(&self.input)?;
                    return Ok(Some(Packet {
                        timestamp_ns,
                        orig_len: record.origlen,
                        data: record.data,
                        link,
                        interface: 0,
                    }));
                }
                PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                    self.section_base += self.interfaces.len() as u32;
                    self.interfaces.clear();
                    self.seen_section = true;
                }
                PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                    let number = self.section_base + self.interfaces.len() as u32;
                    let interface = ng_interface(&idb).ok_or_else(|| ReplayError::BadTimestampResolution {
                        input: self.input.clone(),
                        offset,
                        interface: number,
                        tsresol: idb.if_tsresol,
                    })?;
                    let name = match idb.if_name() {
                        Some(Ok(name)) if !name.is_empty() => name.to_owned(),
                        _ => format!("{}#{number}", self.input),
                    };
                    self.interfaces.push(interface);
                    self.new_interfaces.push((number, name));
                }
                PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                    let Some(interface) = self.interfaces.get(epb.if_id as usize) else {
                        return Err(self.unknown_interface(offset, epb.if_id));
                    };
                    let link = interface.link(&self.input)?;
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let timestamp_ns = interface.timestamp_ns(units);
                    self.last_timestamp_ns = timestamp_ns;
                    return Ok(Some(Packet {
                        timestamp_ns,
                        orig_len: epb.origlen,
                        data: epb.packet_data(),
                        link,
                        interface: self.section_base + epb.if_id,
                    }));
                }
                PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                    // Always interface 0; no timestamp, so it inherits the last one.
                    let Some(interface) = self.interfaces.first() else {
                        return Err(self.unknown_interface(offset, 0));
                    };
                    let link = interface.link(&self.input)?;
                    let mut data = spb.packet_data();
                    if interface.snaplen > 0 && data.len() > interface.snaplen as usize {
                        data = &data[..interface.snaplen as usize];
                    }
                    return Ok(Some(Packet {
                        timestamp_ns: self.last_timestamp_ns,
                        orig_len: spb.origlen,
                        data,
                        link,
                        interface: self.section_base,
                    }));
                }
                PcapBlockOwned::NG(_) => {}
            }
        }
    }

    fn refill(&mut self, offset: u64) -> Result<(), ReplayError> {
        self.reader.refill().map_err(|_| self.read_failed(offset))
    }

    fn read_failed(&self, offset: u64) -> ReplayError {
        let source = self
            .read_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| io::Error::other("read failed"));
        ReplayError::Read { input: self.input.clone(), offset, source }
    }

    fn corrupt(&self, offset: u64, detail: String) -> ReplayError {
        ReplayError::Corrupt { input: self.input.clone(), offset, detail }
    }

    fn unknown_interface(&self, offset: u64, interface: u32) -> ReplayError {
        if !self.seen_section {
            return ReplayError::NoSection { input: self.input.clone(), offset };
        }
        ReplayError::UnknownInterface {
            input: self.input.clone(),
            offset,
            interface,
            described: self.interfaces.len(),
        }
    }
}

fn legacy_interface(header: &PcapHeader) -> Interface {
    Interface {
        // The upper bits carry FCS information (LT_FCS_LENGTH), not the type.
        link_type: (header.network.0 as u32) & 0xffff,
        resolution: if header.is_nanosecond_precision() { NANOS } else { 1_000_000 },
        offset_s: 0,
        snaplen: header.snaplen,
    }
}

fn legacy_timestamp_ns(record: &LegacyPcapBlock<'_>, resolution: u64) -> u64 {
    let fraction_ns = u64::from(record.ts_usec) * (NANOS / resolution);
    u64::from(record.ts_sec) * NANOS + fraction_ns
}

/// `None` when `if_tsresol` is out of range.
fn ng_interface(idb: &InterfaceDescriptionBlock<'_>) -> Option<Interface> {
    Some(Interface {
        link_type: u32::from(idb.linktype.0 as u16),
        resolution: idb.ts_resolution().filter(|r| *r > 0)?,
        offset_s: idb.if_tsoffset,
        snaplen: idb.snaplen,
    })
}

fn describe(err: &PcapError<&[u8]>) -> String {
    match err {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid block ({})", kind.description())
        }
        other => format!("{other}"),
    }
}
