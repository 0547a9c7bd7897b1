//! Link-layer types replay understands, and how each reaches the shared
//! parser: Ethernet directly, raw IP through `parse_ip`, and Linux cooked
//! captures (SLL, SLL2) as a virtual Ethernet frame so VLAN tags inside them
//! are handled by the same code as on the wire.

use agent_common::parse::{ETH_HEADER_LEN, PacketBytes, ParseError, ParsedPacket, parse_ethernet, parse_ip};

/// Named in the error for an unsupported link type.
pub const SUPPORTED_LINK_TYPES: &str =
    "1 (Ethernet), 113 (Linux cooked SLL), 276 (Linux cooked SLL2), 101/12/14 (raw IP), 228 (raw IPv4), 229 (raw IPv6)";

/// Link-layer header types (tcpdump.org/linktypes.html) replay can parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// `LINKTYPE_LINUX_SLL`: 16-byte header, protocol (an ethertype) at offset 14.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2`: 20-byte header, protocol at offset 0.
    LinuxSll2,
    /// The frame starts with an IPv4 or IPv6 header.
    RawIp,
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

impl LinkType {
    /// `None` for link types replay does not parse.
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Ethernet),
            113 => Some(Self::LinuxSll),
            276 => Some(Self::LinuxSll2),
            // 12 and 14 are DLT_RAW on BSDs/OpenBSD, written as-is by old tools.
            101 | 12 | 14 | 228 | 229 => Some(Self::RawIp),
            _ => None,
        }
    }

    /// The `LINKTYPE_*` code written for this link type (`-w`, `-f`). Every
    /// raw-IP variant becomes `LINKTYPE_RAW`, which holds IPv4 and IPv6.
    pub fn pcap_code(self) -> u32 {
        match self {
            Self::Ethernet => 1,
            Self::LinuxSll => 113,
            Self::LinuxSll2 => 276,
            Self::RawIp => 101,
        }
    }

    /// Parses one captured frame of this link type with the shared parser.
    pub fn parse(self, frame: &[u8]) -> Result<ParsedPacket, ParseError> {
        match self {
            Self::Ethernet => parse_ethernet(frame, None),
            Self::RawIp => parse_ip(frame),
            Self::LinuxSll => parse_ethernet(&CookedFrame::new(frame, 14, SLL_HEADER_LEN)?, None),
            Self::LinuxSll2 => parse_ethernet(&CookedFrame::new(frame, 0, SLL2_HEADER_LEN)?, None),
        }
    }
}

/// Name of a link type for messages (the common ones; others are "unknown").
pub fn link_type_name(code: u32) -> &'static str {
    match code {
        0 => "BSD loopback",
        1 => "Ethernet",
        6 => "IEEE 802.5 Token Ring",
        9 => "PPP",
        10 => "FDDI",
        12 | 14 | 101 => "raw IP",
        50 => "PPP in HDLC framing",
        104 => "Cisco HDLC",
        105 => "IEEE 802.11",
        108 => "OpenBSD loopback",
        113 => "Linux cooked SLL",
        119 => "Prism 802.11",
        127 => "IEEE 802.11 radiotap",
        147..=162 => "user-defined",
        187 => "Bluetooth HCI H4",
        189 | 220 => "Linux USB",
        192 => "PPI",
        195 | 215 | 230 => "IEEE 802.15.4",
        201 => "Bluetooth HCI H4 with direction",
        228 => "raw IPv4",
        229 => "raw IPv6",
        239 => "Linux NFLOG",
        249 => "USBPcap",
        252 => "Wireshark upper PDU",
        253 => "Linux netlink",
        276 => "Linux cooked SLL2",
        _ => "unknown",
    }
}

/// A Linux cooked frame presented as an Ethernet frame: bytes 12..14 are
/// the cooked header's protocol field and byte 14 onwards is the payload.
/// The MAC addresses (bytes 0..12) are never read by the parser; they load as zeros.
struct CookedFrame<'a> {
    ethertype: [u8; 2],
    payload: &'a [u8],
}

impl<'a> CookedFrame<'a> {
    fn new(frame: &'a [u8], protocol_at: usize, header_len: usize) -> Result<Self, ParseError> {
        let Some(ethertype) = frame.load::<2>(protocol_at) else {
            return Err(ParseError::Truncated);
        };
        let payload = frame.get(header_len..).ok_or(ParseError::Truncated)?;
        Ok(Self { ethertype, payload })
    }

    fn byte(&self, offset: usize) -> Option<u8> {
        match offset {
            0..12 => Some(0),
            12 | 13 => Some(self.ethertype[offset - 12]),
            _ => self.payload.get(offset - ETH_HEADER_LEN).copied(),
        }
    }
}

impl PacketBytes for CookedFrame<'_> {
    fn load<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        if offset >= ETH_HEADER_LEN {
            return self.payload.load::<N>(offset - ETH_HEADER_LEN);
        }
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = self.byte(offset.checked_add(i)?)?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_common::parse::{IPPROTO_UDP, ipv4_mapped};

    fn ipv4_udp() -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 8, 0, 0]);
        ip
    }

    fn check(parsed: Result<ParsedPacket, ParseError>) {
        let parsed = parsed.expect("parses");
        assert_eq!(parsed.src_addr, ipv4_mapped([10, 0, 0, 1]));
        assert_eq!((parsed.src_port, parsed.dst_port, parsed.protocol), (5000, 53, IPPROTO_UDP));
    }

    #[test]
    fn every_supported_link_type_reaches_the_parser() {
        check(LinkType::RawIp.parse(&ipv4_udp()));
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend(ipv4_udp());
        check(LinkType::Ethernet.parse(&eth));
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend(ipv4_udp());
        check(LinkType::LinuxSll.parse(&sll));
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend(ipv4_udp());
        check(LinkType::LinuxSll2.parse(&sll2));
    }

    #[test]
    fn vlan_tag_inside_a_cooked_frame_is_parsed() {
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x81, 0x00];
        sll.extend_from_slice(&[0x00, 0x07, 0x08, 0x00]);
        sll.extend(ipv4_udp());
        let parsed = LinkType::LinuxSll.parse(&sll).expect("parses");
        assert_eq!(parsed.vlan_id, 7);
        assert_eq!(parsed.dst_port, 53);
    }

    #[test]
    fn short_and_non_ip_cooked_frames_are_classified() {
        assert_eq!(LinkType::LinuxSll.parse(&[0; 10]), Err(ParseError::Truncated));
        assert_eq!(LinkType::LinuxSll2.parse(&[0x08, 0x00, 0, 0]), Err(ParseError::Truncated));
        let arp = [&[0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x06][..], &[0; 28]].concat();
        assert_eq!(LinkType::LinuxSll.parse(&arp), Err(ParseError::NonIp));
        let header_only = [0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        assert_eq!(LinkType::LinuxSll.parse(&header_only), Err(ParseError::Truncated));
    }

    #[test]
    fn codes_map_to_types_and_names() {
        assert_eq!(LinkType::from_code(228), Some(LinkType::RawIp));
        assert_eq!(LinkType::from_code(105), None);
        assert_eq!(link_type_name(105), "IEEE 802.11");
    }
}
