//! Capture files built byte by byte for the replay tests (pcap-parser only
//! reads): frames, legacy pcap and pcapng writers.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

pub const BASE_S: u64 = 1_700_000_000;
pub const NS: u64 = 1_000_000_000;

// ---------------------------------------------------------------- frames

pub fn ipv4_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: usize) -> Vec<u8> {
    let total = 28 + payload;
    let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.resize(total, 0xab);
    ip
}

pub fn ipv6_udp(src_last: u8, sport: u16, dst_last: u8, dport: u16, payload: usize) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    ip.extend_from_slice(&[17, 64]);
    let addr = |last: u8| {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        a[15] = last;
        a
    };
    ip.extend_from_slice(&addr(src_last));
    ip.extend_from_slice(&addr(dst_last));
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.resize(48 + payload, 0xcd);
    ip
}

pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

pub fn sll(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    // packet type, ARPHRD_ETHER, address length, address (8), protocol
    let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

pub fn sll2(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    // protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address (8)
    let mut frame = ethertype.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

pub const A: [u8; 4] = [10, 0, 0, 1];
pub const B: [u8; 4] = [10, 0, 0, 2];

// ---------------------------------------------------------------- files

#[derive(Clone, Debug)]
pub struct Packet {
    pub ts_ns: u64,
    pub interface: u32,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

pub fn packet(ts_ns: u64, data: Vec<u8>) -> Packet {
    Packet { ts_ns, interface: 0, orig_len: data.len() as u32, data }
}

/// Legacy pcap, little-endian; `nanos` picks the nanosecond magic. Frames
/// longer than `snaplen` are cut, keeping their original length.
pub fn pcap(link_type: u32, nanos: bool, snaplen: u32, packets: &[Packet]) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&link_type.to_le_bytes());
    for p in packets {
        let caplen = p.data.len().min(snaplen as usize);
        let fraction = if nanos { p.ts_ns % NS } else { p.ts_ns % NS / 1_000 };
        out.extend_from_slice(&((p.ts_ns / NS) as u32).to_le_bytes());
        out.extend_from_slice(&(fraction as u32).to_le_bytes());
        out.extend_from_slice(&(caplen as u32).to_le_bytes());
        out.extend_from_slice(&p.orig_len.to_le_bytes());
        out.extend_from_slice(&p.data[..caplen]);
    }
    out
}

pub fn pcapng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    padded.resize(body.len().div_ceil(4) * 4, 0);
    let len = (padded.len() + 12) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&padded);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

pub fn pcapng_option(code: u16, value: &[u8]) -> Vec<u8> {
    let mut out = code.to_le_bytes().to_vec();
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(4 + value.len().div_ceil(4) * 4, 0);
    out
}

pub struct Interface {
    pub link_type: u16,
    /// `if_tsresol`; `None` leaves the default (microseconds).
    pub tsresol: Option<u8>,
    pub name: &'static str,
}

pub fn pcapng(interfaces: &[Interface], packets: &[Packet]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut out = pcapng_block(0x0a0d_0d0a, &shb);
    for interface in interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&interface.link_type.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        idb.extend(pcapng_option(2, interface.name.as_bytes()));
        if let Some(tsresol) = interface.tsresol {
            idb.extend(pcapng_option(9, &[tsresol]));
        }
        idb.extend(pcapng_option(0, &[]));
        out.extend(pcapng_block(1, &idb));
    }
    for p in packets {
        let tsresol = interfaces[p.interface as usize].tsresol.unwrap_or(6);
        let units = p.ts_ns / 10u64.pow(9 - u32::from(tsresol));
        let mut epb = Vec::new();
        epb.extend_from_slice(&p.interface.to_le_bytes());
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(units as u32).to_le_bytes());
        epb.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&p.orig_len.to_le_bytes());
        epb.extend_from_slice(&p.data);
        out.extend(pcapng_block(6, &epb));
    }
    out
}
