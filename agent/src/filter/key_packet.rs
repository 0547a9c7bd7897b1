//! An Ethernet frame rebuilt from a flow key, for libpcap to test: what the
//! key holds (VLAN tags, IP version, protocol, addresses, ports or ICMP
//! type/code) in the places libpcap's programs read it, and zeros elsewhere
//! (MACs, lengths beyond the headers, TCP flags). Checksums are not filled:
//! filter programs never check them.

use agent_common::{
    flow::FlowKey,
    parse::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP},
};

use crate::flow::reversed;

const IPV4_MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Which way the rebuilt packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Source = the key's source.
    Forward,
    /// Addresses and ports swapped (ICMP type/code kept: they are not a pair).
    Reverse,
}

/// Writes the frame for `key` travelling `direction` into `frame` (cleared first).
pub fn rebuild(key: &FlowKey, direction: Direction, frame: &mut Vec<u8>) {
    frame.clear();
    let key = match direction {
        Direction::Forward => *key,
        Direction::Reverse => reversed(key),
    };
    let (src, dst, src_port, dst_port) = (&key.src_addr, &key.dst_addr, key.src_port, key.dst_port);
    let transport_len = transport_len(key.protocol);
    let ipv4 = src.starts_with(&IPV4_MAPPED_PREFIX) && dst.starts_with(&IPV4_MAPPED_PREFIX);

    frame.extend_from_slice(&[0; 12]); // destination and source MAC
    for vlan in [key.vlan_id, key.inner_vlan_id].into_iter().filter(|id| *id != 0) {
        frame.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        frame.extend_from_slice(&vlan.to_be_bytes());
    }
    if ipv4 {
        frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let total_len = 20 + transport_len;
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&total_len.to_be_bytes());
        // Identification, flags and fragment offset 0 (a first fragment: ports are valid), TTL 64.
        frame.extend_from_slice(&[0, 0, 0, 0, 64, key.protocol, 0, 0]);
        frame.extend_from_slice(&src[12..]);
        frame.extend_from_slice(&dst[12..]);
    } else {
        frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&transport_len.to_be_bytes());
        frame.extend_from_slice(&[key.protocol, 64]);
        frame.extend_from_slice(src);
        frame.extend_from_slice(dst);
    }
    write_transport_header(key.protocol, src_port, dst_port, frame);
}

/// Length of the transport header [`write_transport_header`] writes.
fn transport_len(protocol: u8) -> u16 {
    match protocol {
        IPPROTO_ICMP | IPPROTO_ICMPV6 | IPPROTO_UDP => 8,
        IPPROTO_TCP => 20,
        // The parser takes ports from TCP and UDP only (SCTP flows have
        // none), so other protocols get no transport header: `port` never
        // matches them, as their keys cannot say.
        _ => 0,
    }
}

/// Appends the transport header with the key's ports (or ICMP type and
/// code) to `frame`, zeros elsewhere; written in place, as a live `-f`
/// rebuilds up to two frames per flow record.
fn write_transport_header(protocol: u8, src_port: u16, dst_port: u16, frame: &mut Vec<u8>) {
    let start = frame.len();
    match protocol {
        IPPROTO_ICMP | IPPROTO_ICMPV6 => frame.extend_from_slice(&[src_port as u8, dst_port as u8]),
        IPPROTO_TCP | IPPROTO_UDP => {
            frame.extend_from_slice(&src_port.to_be_bytes());
            frame.extend_from_slice(&dst_port.to_be_bytes());
            if protocol == IPPROTO_TCP {
                frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x50]); // data offset: 5 words
            }
        }
        _ => {}
    }
    frame.resize(start + usize::from(transport_len(protocol)), 0);
}

#[cfg(test)]
mod tests {
    use agent_common::parse::{ParsedPacket, ipv4_mapped, parse_ethernet};

    use super::*;

    fn key(src: [u8; 16], dst: [u8; 16], protocol: u8, ports: (u16, u16), vlans: (u16, u16)) -> FlowKey {
        FlowKey {
            src_addr: src,
            dst_addr: dst,
            src_port: ports.0,
            dst_port: ports.1,
            protocol,
            vlan_id: vlans.0,
            inner_vlan_id: vlans.1,
            ..FlowKey::default()
        }
    }

    fn parsed(frame: &[u8]) -> ParsedPacket {
        parse_ethernet(frame, None).unwrap_or_else(|err| panic!("rebuilt frame does not parse: {err:?}"))
    }

    /// The flowwatch parser reads the rebuilt frame back into the same key.
    #[test]
    fn rebuilt_frames_parse_back_to_their_key() {
        let v6a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let v6b = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let keys = [
            key(ipv4_mapped([10, 0, 0, 1]), ipv4_mapped([10, 0, 0, 2]), IPPROTO_TCP, (40000, 80), (0, 0)),
            key(ipv4_mapped([10, 0, 0, 1]), ipv4_mapped([8, 8, 8, 8]), IPPROTO_UDP, (5353, 53), (10, 0)),
            key(v6a, v6b, IPPROTO_ICMPV6, (128, 0), (100, 200)),
            key(v6a, v6b, 132, (0, 0), (0, 0)),
            key(ipv4_mapped([1, 2, 3, 4]), ipv4_mapped([5, 6, 7, 8]), 47, (0, 0), (0, 0)),
        ];
        let mut frame = Vec::new();
        for key in keys {
            rebuild(&key, Direction::Forward, &mut frame);
            let back = parsed(&frame);
            assert_eq!(back.flow_key(key.ifindex, key.direction), key);
            rebuild(&key, Direction::Reverse, &mut frame);
            let back = parsed(&frame);
            assert_eq!((back.src_addr, back.dst_addr, back.protocol), (key.dst_addr, key.src_addr, key.protocol));
        }
    }

    #[test]
    fn reverse_swaps_ports_but_not_icmp_type_and_code() {
        let mut frame = Vec::new();
        let tcp = key(ipv4_mapped([10, 0, 0, 1]), ipv4_mapped([10, 0, 0, 2]), IPPROTO_TCP, (40000, 80), (0, 0));
        rebuild(&tcp, Direction::Reverse, &mut frame);
        assert_eq!((parsed(&frame).src_port, parsed(&frame).dst_port), (80, 40000));
        let icmp = key(ipv4_mapped([10, 0, 0, 1]), ipv4_mapped([10, 0, 0, 2]), IPPROTO_ICMP, (8, 0), (0, 0));
        rebuild(&icmp, Direction::Reverse, &mut frame);
        assert_eq!((parsed(&frame).src_port, parsed(&frame).dst_port), (8, 0));
    }
}
