//! Property tests of the capture reader and the link-type front of the
//! parser: arbitrary bytes, and valid pcap/pcapng files with bit flips,
//! truncations and absurd length fields, never panic; every packet read is
//! counted exactly once; every error names the input.

use std::io::Cursor;

use agent::{
    flow::FlowMapSource,
    replay::{CaptureReader, ReplayError, ReplayFlowMap},
};
use proptest::prelude::*;

mod common;

use common::*;

const INPUT: &str = "fuzz-input.cap";

/// What reading a whole input gave.
struct Outcome {
    packets: u64,
    error: Option<ReplayError>,
}

/// Reads every packet of `bytes` into a replay flow map (so the link-type
/// wrappers and the shared parser see every frame) and checks that the map
/// counted each exactly once.
fn read_all(bytes: Vec<u8>) -> Result<Outcome, TestCaseError> {
    let mut map = ReplayFlowMap::default();
    let mut reader = match CaptureReader::new(INPUT.to_owned(), Cursor::new(bytes)) {
        Ok(reader) => reader,
        Err(error) => return Ok(Outcome { packets: 0, error: Some(error) }),
    };
    let mut packets = 0;
    let error = loop {
        match reader.next_packet(|packet| map.record(packet)) {
            Ok(Some(())) => packets += 1,
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    let hooks = map.hook_counters().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(hooks[0].packets + hooks[1].packets, packets, "every packet read is counted once");
    if let Some(error) = &error {
        prop_assert!(error.to_string().contains(INPUT), "the error names the input: {}", error);
    }
    Ok(Outcome { packets, error })
}

/// A frame of the given link type: a plausible IPv4/UDP packet or noise.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>(), 0usize..200)
            .prop_map(|(src, port, len)| { ethernet(0x0800, &ipv4_udp(src, port, [10, 0, 0, 2], 53, len)) }),
        (any::<u8>(), any::<u16>(), 0usize..200)
            .prop_map(|(last, port, len)| sll(0x86dd, &ipv6_udp(last, port, 1, 53, len))),
        proptest::collection::vec(any::<u8>(), 0..120),
    ]
}

fn packets() -> impl Strategy<Value = Vec<Packet>> {
    proptest::collection::vec((0u64..1_000_000_000, frame(), 0u32..64), 1..12).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(n, (offset_ns, data, extra))| Packet {
                ts_ns: BASE_S * NS + n as u64 * NS + offset_ns,
                interface: 0,
                orig_len: data.len() as u32 + extra,
                data,
            })
            .collect()
    })
}

/// How a valid file is damaged.
#[derive(Clone, Debug)]
enum Damage {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
    /// A 32-bit field (length, caplen, interface id, …) set to a huge value.
    HugeField {
        at: usize,
        value: u32,
    },
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Damage::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Damage::Truncate { at }),
        (any::<usize>(), prop_oneof![Just(u32::MAX), Just(0x8000_0000u32), Just(0x0400_0001u32), any::<u32>()])
            .prop_map(|(at, value)| Damage::HugeField { at, value }),
    ];
    proptest::collection::vec(one, 1..4)
}

fn apply(mut bytes: Vec<u8>, damage: &[Damage]) -> Vec<u8> {
    for d in damage {
        if bytes.is_empty() {
            break;
        }
        match *d {
            Damage::FlipBit { at, bit } => {
                let at = at % bytes.len();
                bytes[at] ^= 1 << bit;
            }
            Damage::Truncate { at } => bytes.truncate(at % bytes.len()),
            Damage::HugeField { at, value } => {
                // Fields sit on 4-byte boundaries in both formats.
                let at = (at % bytes.len()) & !3;
                let end = (at + 4).min(bytes.len());
                bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            }
        }
    }
    bytes
}

fn legacy_pcap(packets: &[Packet], nanos: bool) -> Vec<u8> {
    pcap(1, nanos, 65_535, packets)
}

fn two_interface_pcapng(packets: &[Packet]) -> Vec<u8> {
    let interfaces = [
        Interface { link_type: 1, tsresol: None, name: "eth0" },
        Interface { link_type: 113, tsresol: Some(9), name: "any" },
    ];
    // Frames alternate between the interfaces; a cooked interface gets an SLL frame.
    let packets: Vec<Packet> = packets
        .iter()
        .enumerate()
        .map(|(n, p)| Packet { ts_ns: p.ts_ns, interface: (n % 2) as u32, orig_len: p.orig_len, data: p.data.clone() })
        .collect();
    pcapng(&interfaces, &packets)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_all(bytes)?;
    }

    /// Noise after a valid magic number reaches past the format check.
    #[test]
    fn noise_after_a_valid_header_never_panics(
        pcapng_magic in any::<bool>(),
        noise in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = if pcapng_magic { pcapng(&[], &[]) } else { pcap(1, false, 65_535, &[]) };
        bytes.extend(noise);
        read_all(bytes)?;
    }

    #[test]
    fn valid_pcap_reads_every_packet_and_damaged_pcap_never_panics(
        packets in packets(),
        nanos in any::<bool>(),
        damage in damage(),
    ) {
        let valid = legacy_pcap(&packets, nanos);
        let outcome = read_all(valid.clone())?;
        prop_assert!(outcome.error.is_none(), "valid file failed: {:?}", outcome.error);
        prop_assert_eq!(outcome.packets, packets.len() as u64);
        read_all(apply(valid, &damage))?;
    }

    #[test]
    fn valid_pcapng_reads_every_packet_and_damaged_pcapng_never_panics(
        packets in packets(),
        damage in damage(),
    ) {
        let valid = two_interface_pcapng(&packets);
        let outcome = read_all(valid.clone())?;
        prop_assert!(outcome.error.is_none(), "valid file failed: {:?}", outcome.error);
        prop_assert_eq!(outcome.packets, packets.len() as u64);
        read_all(apply(valid, &damage))?;
    }
}
