//! Ethernet/IPv4/TCP/UDP frames with correct lengths and checksums, from
//! `etherparse`'s header types.

use std::{io::Write, net::Ipv4Addr};

use etherparse::{
    EtherType, Ethernet2Header, IpDscp, IpEcn, IpFragOffset, IpNumber, Ipv4Header, TcpHeader, TcpOptionElement,
    TransportHeader, UdpHeader,
};

use super::SimError;

/// One end of a conversation as the capture point sees it. Frames from the
/// outside carry the gateway's MAC and the TTL left after the hops so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    /// TTL of this side's packets at the capture point.
    pub ttl: u8,
}

/// TCP flag bits as on the wire.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Options of a SYN or SYN-ACK (the only segments that carry any here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: u16,
    pub window_scale: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFields {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// [`flags`] bits.
    pub flags: u8,
    pub window: u16,
    pub syn_options: Option<SynOptions>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpFields),
    Udp { src_port: u16, dst_port: u16 },
}

/// Everything but the payload of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub src: Endpoint,
    pub dst: Endpoint,
    /// IPv4 identification.
    pub ip_id: u16,
    pub transport: Transport,
}

/// A frame's headers as `etherparse` header values, ready to be written
/// in front of a payload; lengths and checksums are set as it is written.
/// (etherparse's `PacketBuilder` would do the same, but it moves a
/// several-kilobyte builder by value at every step, which costs more than
/// the rest of the simulation per packet.)
pub struct Frame {
    ethernet: Ethernet2Header,
    ip: Ipv4Header,
    transport: TransportHeader,
}

impl Frame {
    pub fn new(header: &FrameHeader) -> Result<Self, SimError> {
        let FrameHeader { src, dst, ip_id, transport } = *header;
        let (transport, protocol) = match transport {
            Transport::Tcp(tcp) => (TransportHeader::Tcp(tcp_header(&tcp)?), IpNumber::TCP),
            Transport::Udp { src_port, dst_port } => {
                (TransportHeader::Udp(UdpHeader::without_ipv4_checksum(src_port, dst_port, 0)?), IpNumber::UDP)
            }
        };
        let ip = Ipv4Header {
            dscp: IpDscp::ZERO,
            ecn: IpEcn::ZERO,
            total_len: 0, // set when written
            identification: ip_id,
            // Linux sets DF on TCP (path MTU discovery), not on DNS/NTP datagrams.
            dont_fragment: protocol == IpNumber::TCP,
            more_fragments: false,
            fragment_offset: IpFragOffset::ZERO,
            time_to_live: src.ttl,
            protocol,
            header_checksum: 0,
            source: src.ip.octets(),
            destination: dst.ip.octets(),
            options: Default::default(),
        };
        let ethernet = Ethernet2Header { source: src.mac, destination: dst.mac, ether_type: EtherType::IPV4 };
        Ok(Self { ethernet, ip, transport })
    }

    /// Frame length with a payload of `payload_len` bytes.
    pub fn len(&self, payload_len: usize) -> usize {
        Ethernet2Header::LEN + self.ip.header_len() + self.transport.header_len() + payload_len
    }

    /// Sets lengths and checksums for `payload` and writes the frame to `out`.
    pub fn write(mut self, out: &mut impl Write, payload: &[u8]) -> Result<(), SimError> {
        let transport_len = self.transport.header_len() + payload.len();
        self.ip.set_payload_len(transport_len)?;
        self.ip.header_checksum = self.ip.calc_header_checksum();
        if let TransportHeader::Udp(udp) = &mut self.transport {
            udp.length = transport_len as u16;
        }
        self.transport.update_checksum_ipv4(&self.ip, payload)?;
        out.write_all(&self.ethernet.to_bytes())?;
        out.write_all(&self.ip.to_bytes())?;
        match &self.transport {
            TransportHeader::Tcp(tcp) => out.write_all(&tcp.to_bytes())?,
            TransportHeader::Udp(udp) => out.write_all(&udp.to_bytes())?,
            // Only TCP and UDP frames are built.
            _ => {}
        }
        out.write_all(payload)?;
        Ok(())
    }
}

fn tcp_header(fields: &TcpFields) -> Result<TcpHeader, SimError> {
    let mut header = TcpHeader::new(fields.src_port, fields.dst_port, fields.seq, fields.window);
    header.fin = fields.flags & flags::FIN != 0;
    header.syn = fields.flags & flags::SYN != 0;
    header.rst = fields.flags & flags::RST != 0;
    header.psh = fields.flags & flags::PSH != 0;
    header.ack = fields.flags & flags::ACK != 0;
    if header.ack {
        header.acknowledgment_number = fields.ack;
    }
    if let Some(options) = fields.syn_options {
        // Linux's SYN options without timestamps, so segments carry a full MSS.
        header.set_options(&[
            TcpOptionElement::MaximumSegmentSize(options.mss),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(options.window_scale),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
        ])?;
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use etherparse::{SlicedPacket, TransportSlice};

    use super::*;

    const A: Endpoint = Endpoint { ip: Ipv4Addr::new(192, 168, 50, 10), mac: [2, 0, 0, 0, 0, 10], ttl: 64 };
    const B: Endpoint = Endpoint { ip: Ipv4Addr::new(81, 2, 69, 142), mac: [2, 0, 0, 0, 0, 1], ttl: 51 };

    fn build(header: &FrameHeader, payload: &[u8]) -> Result<Vec<u8>, SimError> {
        let frame = Frame::new(header)?;
        let len = frame.len(payload.len());
        let mut bytes = Vec::new();
        frame.write(&mut bytes, payload)?;
        assert_eq!(bytes.len(), len);
        Ok(bytes)
    }

    #[test]
    fn tcp_syn_carries_fields_options_and_valid_checksums() -> Result<(), Box<dyn std::error::Error>> {
        let tcp = TcpFields {
            src_port: 50_000,
            dst_port: 443,
            seq: 7,
            ack: 0,
            flags: flags::SYN,
            window: 64_240,
            syn_options: Some(SynOptions { mss: 1460, window_scale: 7 }),
        };
        let header = FrameHeader { src: A, dst: B, ip_id: 99, transport: Transport::Tcp(tcp) };
        let frame = build(&header, &[])?;
        // 14 Ethernet + 20 IPv4 + 20 TCP + 12 option bytes.
        assert_eq!(frame.len(), 66);
        let packet = SlicedPacket::from_ethernet(&frame)?;
        let Some(etherparse::NetSlice::Ipv4(ip)) = packet.net else { panic!("not IPv4") };
        let ip_header = ip.header().to_header();
        assert_eq!((ip_header.identification, ip_header.time_to_live, ip_header.dont_fragment), (99, 64, true));
        assert_eq!(ip_header.header_checksum, ip_header.calc_header_checksum());
        let Some(TransportSlice::Tcp(tcp_slice)) = packet.transport else { panic!("not TCP") };
        assert!(tcp_slice.syn() && !tcp_slice.ack());
        assert_eq!((tcp_slice.sequence_number(), tcp_slice.window_size()), (7, 64_240));
        let tcp_header = tcp_slice.to_header();
        assert_eq!(tcp_header.checksum, tcp_header.calc_checksum_ipv4(&ip_header, tcp_slice.payload())?);
        let options: Vec<_> = tcp_header.options_iterator().collect::<Result<_, _>>()?;
        assert_eq!(options[0], TcpOptionElement::MaximumSegmentSize(1460));
        Ok(())
    }

    #[test]
    fn udp_datagram_has_its_payload_and_checksum() -> Result<(), Box<dyn std::error::Error>> {
        let header =
            FrameHeader { src: A, dst: B, ip_id: 1, transport: Transport::Udp { src_port: 123, dst_port: 123 } };
        let frame = build(&header, &[0x23; 48])?;
        assert_eq!(frame.len(), 14 + 20 + 8 + 48);
        let packet = SlicedPacket::from_ethernet(&frame)?;
        let Some(etherparse::NetSlice::Ipv4(ip)) = packet.net else { panic!("not IPv4") };
        let Some(TransportSlice::Udp(udp)) = packet.transport else { panic!("not UDP") };
        let udp_header = udp.to_header();
        assert_eq!(udp.payload(), &[0x23; 48]);
        assert_eq!(udp_header.checksum, udp_header.calc_checksum_ipv4(&ip.header().to_header(), udp.payload())?);
        assert!(!ip.header().dont_fragment());
        Ok(())
    }
}
