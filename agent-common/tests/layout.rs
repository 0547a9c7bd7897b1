//! Golden layout of every struct that crosses the kernel/userspace boundary.
//!
//! The kernel programs (agent-ebpf) write these structs into BPF maps and the
//! userspace agent reads them back as raw bytes, so both sides must agree on
//! every size, alignment and offset. A failure here means the layout changed:
//! that change must land in the kernel object and in userspace at the same
//! time (they are built from this crate together), and the numbers below are
//! then updated on purpose, never to make a test pass. Also keep the structs
//! free of implicit padding — use explicit `_pad` fields — so no
//! uninitialised bytes reach a map key and the hash of a key is stable.

use core::mem::{align_of, offset_of, size_of};

use agent_common::counters::{HOOK_COUNT, Hook, HookCounters};
use agent_common::flow::{
    DIRECTION_EGRESS, DIRECTION_INGRESS, FlowKey, FlowStats, PKT_FIRST_FRAGMENT, PKT_FRAGMENT, PKT_GSO, PKT_IP_OPTIONS,
    PKT_QINQ,
};
use agent_common::names;
use agent_common::sample::SampleHeader;

/// Size of a field's type, without needing a value of the struct.
fn field_size<S, F>(_: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

#[test]
fn flow_key_layout() {
    assert_eq!(size_of::<FlowKey>(), 48);
    assert_eq!(align_of::<FlowKey>(), 4);
    assert_eq!(offset_of!(FlowKey, src_addr), 0);
    assert_eq!(offset_of!(FlowKey, dst_addr), 16);
    assert_eq!(offset_of!(FlowKey, src_port), 32);
    assert_eq!(offset_of!(FlowKey, dst_port), 34);
    assert_eq!(offset_of!(FlowKey, ifindex), 36);
    assert_eq!(offset_of!(FlowKey, vlan_id), 40);
    assert_eq!(offset_of!(FlowKey, inner_vlan_id), 42);
    assert_eq!(offset_of!(FlowKey, protocol), 44);
    assert_eq!(offset_of!(FlowKey, direction), 45);
    assert_eq!(offset_of!(FlowKey, generation), 46);
    assert_eq!(offset_of!(FlowKey, _pad), 47);
}

#[test]
fn flow_key_has_no_implicit_padding() {
    let fields = [
        field_size(|k: &FlowKey| &k.src_addr),
        field_size(|k: &FlowKey| &k.dst_addr),
        field_size(|k: &FlowKey| &k.src_port),
        field_size(|k: &FlowKey| &k.dst_port),
        field_size(|k: &FlowKey| &k.ifindex),
        field_size(|k: &FlowKey| &k.vlan_id),
        field_size(|k: &FlowKey| &k.inner_vlan_id),
        field_size(|k: &FlowKey| &k.protocol),
        field_size(|k: &FlowKey| &k.direction),
        field_size(|k: &FlowKey| &k.generation),
        field_size(|k: &FlowKey| &k._pad),
    ];
    assert_eq!(fields, [16, 16, 2, 2, 4, 2, 2, 1, 1, 1, 1]);
    assert_eq!(fields.iter().sum::<usize>(), size_of::<FlowKey>());
}

#[test]
fn flow_stats_layout() {
    assert_eq!(size_of::<FlowStats>(), 104);
    assert_eq!(align_of::<FlowStats>(), 8);
    assert_eq!(offset_of!(FlowStats, packets), 0);
    assert_eq!(offset_of!(FlowStats, bytes), 8);
    assert_eq!(offset_of!(FlowStats, first_seen_ns), 16);
    assert_eq!(offset_of!(FlowStats, last_seen_ns), 24);
    assert_eq!(offset_of!(FlowStats, len_sum_sq), 32);
    assert_eq!(offset_of!(FlowStats, iat_min_ns), 40);
    assert_eq!(offset_of!(FlowStats, iat_max_ns), 48);
    assert_eq!(offset_of!(FlowStats, iat_sum_ns), 56);
    assert_eq!(offset_of!(FlowStats, iat_sum_sq_us), 64);
    assert_eq!(offset_of!(FlowStats, len_min), 72);
    assert_eq!(offset_of!(FlowStats, len_max), 76);
    assert_eq!(offset_of!(FlowStats, syn_count), 80);
    assert_eq!(offset_of!(FlowStats, fin_count), 84);
    assert_eq!(offset_of!(FlowStats, rst_count), 88);
    assert_eq!(offset_of!(FlowStats, iat_count), 92);
    assert_eq!(offset_of!(FlowStats, tcp_flags), 96);
    assert_eq!(offset_of!(FlowStats, pkt_flags), 97);
    assert_eq!(offset_of!(FlowStats, _pad), 98);
}

#[test]
fn flow_stats_has_no_implicit_padding() {
    let fields = [
        field_size(|s: &FlowStats| &s.packets),
        field_size(|s: &FlowStats| &s.bytes),
        field_size(|s: &FlowStats| &s.first_seen_ns),
        field_size(|s: &FlowStats| &s.last_seen_ns),
        field_size(|s: &FlowStats| &s.len_sum_sq),
        field_size(|s: &FlowStats| &s.iat_min_ns),
        field_size(|s: &FlowStats| &s.iat_max_ns),
        field_size(|s: &FlowStats| &s.iat_sum_ns),
        field_size(|s: &FlowStats| &s.iat_sum_sq_us),
        field_size(|s: &FlowStats| &s.len_min),
        field_size(|s: &FlowStats| &s.len_max),
        field_size(|s: &FlowStats| &s.syn_count),
        field_size(|s: &FlowStats| &s.fin_count),
        field_size(|s: &FlowStats| &s.rst_count),
        field_size(|s: &FlowStats| &s.iat_count),
        field_size(|s: &FlowStats| &s.tcp_flags),
        field_size(|s: &FlowStats| &s.pkt_flags),
        field_size(|s: &FlowStats| &s._pad),
    ];
    assert_eq!(fields, [8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4, 1, 1, 6]);
    assert_eq!(fields.iter().sum::<usize>(), size_of::<FlowStats>());
}

#[test]
fn hook_counters_layout() {
    assert_eq!(size_of::<HookCounters>(), 80);
    assert_eq!(align_of::<HookCounters>(), 8);
    assert_eq!(offset_of!(HookCounters, packets), 0);
    assert_eq!(offset_of!(HookCounters, bytes), 8);
    assert_eq!(offset_of!(HookCounters, non_ip), 16);
    assert_eq!(offset_of!(HookCounters, malformed_truncated), 24);
    assert_eq!(offset_of!(HookCounters, malformed_header), 32);
    assert_eq!(offset_of!(HookCounters, malformed_too_deep), 40);
    assert_eq!(offset_of!(HookCounters, map_update_failed), 48);
    assert_eq!(offset_of!(HookCounters, flows_inserted), 56);
    assert_eq!(offset_of!(HookCounters, fragments), 64);
    assert_eq!(offset_of!(HookCounters, frozen_writes), 72);
}

#[test]
fn hook_counters_has_no_implicit_padding() {
    let fields = [
        field_size(|c: &HookCounters| &c.packets),
        field_size(|c: &HookCounters| &c.bytes),
        field_size(|c: &HookCounters| &c.non_ip),
        field_size(|c: &HookCounters| &c.malformed_truncated),
        field_size(|c: &HookCounters| &c.malformed_header),
        field_size(|c: &HookCounters| &c.malformed_too_deep),
        field_size(|c: &HookCounters| &c.map_update_failed),
        field_size(|c: &HookCounters| &c.flows_inserted),
        field_size(|c: &HookCounters| &c.fragments),
        field_size(|c: &HookCounters| &c.frozen_writes),
    ];
    assert_eq!(fields, [8; 10]);
    assert_eq!(fields.iter().sum::<usize>(), size_of::<HookCounters>());
}

/// The raw bytes of a `FlowKey` as the kernel hashes them (both targets,
/// x86_64 and bpfel, are little-endian).
#[cfg(target_endian = "little")]
#[test]
fn flow_key_golden_bytes() {
    let key = FlowKey {
        src_addr: [0xa0; 16],
        dst_addr: [0xb0; 16],
        src_port: 0x1234,
        dst_port: 0x5678,
        ifindex: 0x0102_0304,
        vlan_id: 0x0abc,
        inner_vlan_id: 0x0def,
        protocol: 17,
        direction: DIRECTION_EGRESS,
        generation: 1,
        _pad: 0,
    };
    // SAFETY: FlowKey is repr(C) with integer fields and no implicit padding
    // (pinned above), so all 48 bytes are initialised.
    let bytes: &[u8] =
        unsafe { core::slice::from_raw_parts((&key as *const FlowKey).cast::<u8>(), size_of::<FlowKey>()) };
    let mut expected = Vec::new();
    expected.extend_from_slice(&[0xa0; 16]);
    expected.extend_from_slice(&[0xb0; 16]);
    expected.extend_from_slice(&[0x34, 0x12, 0x78, 0x56]);
    expected.extend_from_slice(&[0x04, 0x03, 0x02, 0x01]);
    expected.extend_from_slice(&[0xbc, 0x0a, 0xef, 0x0d]);
    expected.extend_from_slice(&[17, 1, 1, 0]);
    assert_eq!(bytes, &expected[..]);
}

/// The header the kernel writes before each `-w` sample in the perf buffer.
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
fn sample_header_decode_reads_native_order_fields_and_refuses_short_input() {
    let header = SampleHeader { timestamp_ns: 0x0102_0304_0506_0708, frame_len: 1514, cap_len: 96 };
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&header.timestamp_ns.to_ne_bytes());
    for field in [header.frame_len, header.cap_len] {
        bytes.extend_from_slice(&field.to_ne_bytes());
    }
    assert_eq!(SampleHeader::decode(&bytes), Some(header));
    assert_eq!(SampleHeader::decode(&bytes[..15]), None);
}

#[test]
fn boundary_constants() {
    // Values stored in maps or used as map indices by the kernel object.
    assert_eq!(DIRECTION_INGRESS, 0);
    assert_eq!(DIRECTION_EGRESS, 1);
    assert_eq!(Hook::Ingress.direction(), DIRECTION_INGRESS);
    assert_eq!(Hook::Egress.direction(), DIRECTION_EGRESS);
    assert_eq!(Hook::Ingress.index(), 0);
    assert_eq!(Hook::Egress.index(), 1);
    assert_eq!(HOOK_COUNT as usize, Hook::ALL.len());
    assert_eq!([PKT_FRAGMENT, PKT_FIRST_FRAGMENT, PKT_IP_OPTIONS, PKT_QINQ, PKT_GSO], [0x01, 0x02, 0x04, 0x08, 0x10]);
    // Names the loader looks up in the object.
    assert_eq!(names::FLOWS_MAP, "FLOWS");
    assert_eq!(names::COUNTERS_MAP, "COUNTERS");
    assert_eq!(names::INGRESS_PROGRAM, "flowwatch_ingress");
    assert_eq!(names::EGRESS_PROGRAM, "flowwatch_egress");
}
