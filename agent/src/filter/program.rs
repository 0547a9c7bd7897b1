//! One expression compiled by libpcap for each link type it meets.

use pcap::{BpfProgram, Capture, Linktype};

use super::{FilterError, FilterExpression};
use crate::replay::LinkType;

/// Compiles `expression` for `link` with an optimising `pcap_compile` on a
/// dead handle (no capture, no privileges).
pub(super) fn compile(expression: &str, link: LinkType) -> Result<BpfProgram, String> {
    let capture = Capture::dead(Linktype(link.pcap_code() as i32)).map_err(|err| err.to_string())?;
    capture.compile(expression, true).map_err(|err| match err {
        // The text libpcap wrote into its error buffer, as tcpdump prints it.
        pcap::Error::PcapError(message) => message,
        other => other.to_string(),
    })
}

/// [`compile`] for a filter in use: a failure names the expression and link type.
pub(super) fn compile_for(expression: &str, link: LinkType) -> Result<BpfProgram, FilterError> {
    compile(expression, link).map_err(|message| FilterError::LinkType {
        expression: expression.to_owned(),
        link,
        message,
    })
}

/// A filter expression and its compiled programs, one per link type seen
/// (compiled on first use: an expression may be valid for Ethernet but not
/// for raw IP, e.g. `ether host …`, and that only matters if such packets come).
pub struct PacketFilter {
    expression: String,
    programs: [Option<BpfProgram>; 4],
}

impl std::fmt::Debug for PacketFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketFilter").field("expression", &self.expression).finish_non_exhaustive()
    }
}

impl PacketFilter {
    /// Compiles for Ethernet right away (the expression was checked for it
    /// already; other link types compile when their first packet comes).
    pub fn new(expression: &FilterExpression) -> Result<Self, FilterError> {
        let mut filter = Self { expression: expression.as_str().to_owned(), programs: [None, None, None, None] };
        filter.program(LinkType::Ethernet)?;
        Ok(filter)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether libpcap's program accepts `frame` (the captured bytes). The
    /// program sees the captured length as the packet length too (the
    /// `pcap` crate's `BpfProgram::filter`), which only matters for
    /// `greater`/`less`/`len` on packets the capture's snaplen cut.
    pub fn matches(&mut self, link: LinkType, frame: &[u8]) -> Result<bool, FilterError> {
        Ok(self.program(link)?.filter(frame))
    }

    fn program(&mut self, link: LinkType) -> Result<&BpfProgram, FilterError> {
        let slot = &mut self.programs[link_slot(link)];
        match slot {
            Some(program) => Ok(program),
            None => Ok(slot.insert(compile_for(&self.expression, link)?)),
        }
    }
}

fn link_slot(link: LinkType) -> usize {
    match link {
        LinkType::Ethernet => 0,
        LinkType::LinuxSll => 1,
        LinkType::LinuxSll2 => 2,
        LinkType::RawIp => 3,
    }
}
