//! Golden layout of the `-w` sample header the kernel writes before each
//! sampled frame (see `layout.rs` for why these numbers only change on purpose).

use core::mem::{align_of, offset_of, size_of};

use agent_common::sample::SampleHeader;

#[test]
fn sample_header_layout() {
    assert_eq!(size_of::<SampleHeader>(), 16);
    assert_eq!(SampleHeader::SIZE, 16);
    assert_eq!(align_of::<SampleHeader>(), 8);
    assert_eq!(offset_of!(SampleHeader, timestamp_ns), 0);
    assert_eq!(offset_of!(SampleHeader, frame_len), 8);
    assert_eq!(offset_of!(SampleHeader, cap_len), 12);
}

#[test]
fn decode_reads_native_order_fields_and_refuses_short_input() {
    let header = SampleHeader { timestamp_ns: 0x0102_0304_0506_0708, frame_len: 1514, cap_len: 96 };
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&header.timestamp_ns.to_ne_bytes());
    for field in [header.frame_len, header.cap_len] {
        bytes.extend_from_slice(&field.to_ne_bytes());
    }
    assert_eq!(SampleHeader::decode(&bytes), Some(header));
    assert_eq!(SampleHeader::decode(&bytes[..15]), None);
}
