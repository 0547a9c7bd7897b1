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
    traits::PcapReaderIterator,
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
    /// The input as given, for messages.
    input: String,
    /// Its file name, for interface names.
    short_name: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    read_error: Arc<Mutex<Option<io::Error>>>,
    /// Current size of the reader's buffer.
    capacity: usize,
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
        let prefix_len = prefix.len();
        let reader = match create_reader(BUFFER, Cursor::new(prefix).chain(inner)) {
            Ok(reader) => reader,
            Err(PcapError::HeaderNotRecognized) if !is_pcapng => return Err(ReplayError::NotACapture { input }),
            Err(PcapError::Incomplete(_) | PcapError::UnexpectedEof) => {
                let what = if is_pcapng { "section header block" } else { "file header" };
                return Err(ReplayError::Truncated { input, offset: 0, what });
            }
            // Smaller than the smallest section header block.
            Err(_) if is_pcapng && prefix_len < 28 => {
                return Err(ReplayError::Truncated { input, offset: 0, what: "section header block" });
            }
            Err(err) => {
                let what = if is_pcapng { "pcapng section header block" } else { "file header" };
                return Err(ReplayError::Corrupt { input, offset: 0, detail: describe(&err, what) });
            }
        };
        Ok(Self {
            short_name: Path::new(&input)
                .file_name()
                .map_or_else(|| input.clone(), |n| n.to_string_lossy().into_owned()),
            input,
            reader,
            read_error: error,
            capacity: BUFFER,
            pending: 0,
            interfaces: Vec::new(),
            section_base: 0,
            seen_section: false,
            last_timestamp_ns: 0,
            new_interfaces: Vec::new(),
        })
    }

    /// Interfaces seen since the last call: (interface number, name). The
    /// name is pcapng's `if_name`, else the file name (with `#number` for pcapng).
    pub fn take_new_interfaces(&mut self) -> Vec<(u32, String)> {
        std::mem::take(&mut self.new_interfaces)
    }

    /// Hands the next packet to `visit` and returns what it returned;
    /// `None` at the end of the input. (A visitor rather than a returned
    /// borrow: the packet lives in the reader's buffer.)
    pub fn next_packet<T>(&mut self, visit: impl FnOnce(&Packet<'_>) -> T) -> Result<Option<T>, ReplayError> {
        loop {
            self.reader.consume(std::mem::take(&mut self.pending));
            let offset = self.reader.consumed() as u64;
            let block = match self.reader.next() {
                Ok((size, block)) => {
                    self.pending = size;
                    block
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    let before = self.reader.data().len();
                    self.refill(offset)?;
                    if self.reader.data().len() == before && !self.reader.reader_exhausted() {
                        // The buffer is full and the block still incomplete.
                        self.grow(offset)?;
                    }
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    self.grow(offset)?;
                    continue;
                }
                Err(PcapError::UnexpectedEof) => {
                    let what = if self.seen_section { "pcapng block" } else { "packet record" };
                    return Err(ReplayError::Truncated { input: self.input.clone(), offset, what });
                }
                Err(PcapError::ReadError) => return Err(self.read_failed(offset)),
                Err(err) => {
                    let what = if self.seen_section { "pcapng block" } else { "packet record" };
                    let detail = describe(&err, what);
                    return Err(corrupt(&self.input, offset, detail));
                }
            };
            let input = self.input.as_str();
            let short_name = self.short_name.as_str();
            let packet = match block {
                PcapBlockOwned::LegacyHeader(header) => {
                    self.interfaces = vec![legacy_interface(&header)];
                    self.new_interfaces.push((0, short_name.to_owned()));
                    continue;
                }
                PcapBlockOwned::Legacy(record) => {
                    let Some(interface) = self.interfaces.first() else {
                        return Err(corrupt(input, offset, "packet record before the file header".to_owned()));
                    };
                    Packet {
                        timestamp_ns: legacy_timestamp_ns(&record, interface.resolution),
                        orig_len: record.origlen,
                        data: record.data,
                        link: interface.link(input)?,
                        interface: 0,
                    }
                }
                PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                    self.section_base += self.interfaces.len() as u32;
                    self.interfaces.clear();
                    self.seen_section = true;
                    continue;
                }
                PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                    let number = self.section_base + self.interfaces.len() as u32;
                    let interface = ng_interface(&idb).ok_or_else(|| ReplayError::BadTimestampResolution {
                        input: input.to_owned(),
                        offset,
                        interface: number,
                        tsresol: idb.if_tsresol,
                    })?;
                    let name = match idb.if_name() {
                        Some(Ok(name)) if !name.is_empty() => name.to_owned(),
                        _ => format!("{short_name}#{number}"),
                    };
                    self.interfaces.push(interface);
                    self.new_interfaces.push((number, name));
                    continue;
                }
                PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                    let Some(interface) = self.interfaces.get(epb.if_id as usize) else {
                        return Err(unknown_interface(input, offset, epb.if_id, &self.interfaces, self.seen_section));
                    };
                    let timestamp_ns = interface.timestamp_ns((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low));
                    self.last_timestamp_ns = timestamp_ns;
                    Packet {
                        timestamp_ns,
                        orig_len: epb.origlen,
                        // Without the padding to 32 bits.
                        data: prefix(epb.data, epb.caplen),
                        link: interface.link(input)?,
                        interface: self.section_base + epb.if_id,
                    }
                }
                PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                    // Always interface 0, and no timestamp: it inherits the last one.
                    let Some(interface) = self.interfaces.first() else {
                        return Err(unknown_interface(input, offset, 0, &self.interfaces, self.seen_section));
                    };
                    // Captured length: the original one, cut by the snaplen, without padding.
                    let caplen = if interface.snaplen > 0 { spb.origlen.min(interface.snaplen) } else { spb.origlen };
                    let data = prefix(spb.data, caplen);
                    Packet {
                        timestamp_ns: self.last_timestamp_ns,
                        orig_len: spb.origlen,
                        data,
                        link: interface.link(input)?,
                        interface: self.section_base,
                    }
                }
                PcapBlockOwned::NG(_) => continue,
            };
            return Ok(Some(visit(&packet)));
        }
    }

    /// Doubles the buffer for a block that does not fit, then reads more.
    fn grow(&mut self, offset: u64) -> Result<(), ReplayError> {
        let capacity = self.capacity.saturating_mul(2);
        if capacity > MAX_BLOCK || !self.reader.grow(capacity) {
            let detail = format!("a block larger than {} MiB", MAX_BLOCK >> 20);
            return Err(corrupt(&self.input, offset, detail));
        }
        self.capacity = capacity;
        self.refill(offset)
    }

    fn refill(&mut self, offset: u64) -> Result<(), ReplayError> {
        match self.reader.refill() {
            Ok(()) => Ok(()),
            Err(_) => Err(self.read_failed(offset)),
        }
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
}

fn corrupt(input: &str, offset: u64, detail: String) -> ReplayError {
    ReplayError::Corrupt { input: input.to_owned(), offset, detail }
}

fn unknown_interface(
    input: &str,
    offset: u64,
    interface: u32,
    described: &[Interface],
    seen_section: bool,
) -> ReplayError {
    if !seen_section {
        return ReplayError::NoSection { input: input.to_owned(), offset };
    }
    ReplayError::UnknownInterface { input: input.to_owned(), offset, interface, described: described.len() }
}

fn prefix(data: &[u8], len: u32) -> &[u8] {
    &data[..data.len().min(len as usize)]
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

/// `what` names the kind of block that failed to parse.
fn describe(err: &PcapError<&[u8]>, what: &str) -> String {
    match err {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed {what} (parser check: {})", kind.description())
        }
        other => format!("{other}"),
    }
}
