//! Which two directions belong to one conversation.

use agent_common::{
    flow::FlowKey,
    parse::{IPPROTO_ICMP, IPPROTO_ICMPV6},
};
use smallvec::SmallVec;

/// Direction-free identity of a conversation: the endpoints in canonical
/// order plus everything else that separates flows (interface, VLANs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationKey {
    low_addr: [u8; 16],
    low_port: u16,
    high_addr: [u8; 16],
    high_port: u16,
    protocol: u8,
    ifindex: u32,
    vlan_id: u16,
    inner_vlan_id: u16,
}

/// ICMP exchanges whose reply carries a different type than the request:
/// `(protocol, request type, reply type)`.
const ICMP_REQUEST_REPLY: [(u8, u16, u16); 5] = [
    (IPPROTO_ICMP, 8, 0),       // echo
    (IPPROTO_ICMP, 13, 14),     // timestamp
    (IPPROTO_ICMP, 15, 16),     // information
    (IPPROTO_ICMP, 17, 18),     // address mask
    (IPPROTO_ICMPV6, 128, 129), // echo
];

/// ICMP replies carry a different type than their requests; Zeek pairs them
/// into one connection by the request's type. Returns the request type.
pub fn icmp_request_type(protocol: u8, icmp_type: u16) -> u16 {
    ICMP_REQUEST_REPLY
        .iter()
        .find(|&&(p, _, reply)| p == protocol && reply == icmp_type)
        .map_or(icmp_type, |&(_, request, _)| request)
}

/// The reply type paired with a request type, if it has one.
fn icmp_reply_type(protocol: u8, request: u16) -> Option<u16> {
    ICMP_REQUEST_REPLY.iter().find(|&&(p, r, _)| p == protocol && r == request).map(|&(_, _, reply)| reply)
}

/// Every key of `key`'s conversation that has `key`'s direction and
/// generation fields: both directions of travel and, for ICMP, the
/// request's and the reply's type. A source whose keys all share those
/// fields (replay: ingress, generation 0) finds all of a conversation's
/// entries among these, without keeping a list per conversation.
pub fn conversation_keys(key: &FlowKey) -> SmallVec<[FlowKey; 4]> {
    let mut keys = SmallVec::new();
    if is_icmp(key.protocol) {
        let request = icmp_request_type(key.protocol, key.src_port);
        for icmp_type in std::iter::once(request).chain(icmp_reply_type(key.protocol, request)) {
            let typed = FlowKey { src_port: icmp_type, ..*key };
            keys.extend([typed, reversed(&typed)]);
        }
    } else {
        keys.extend([*key, reversed(key)]);
    }
    keys
}

/// `key` travelling the other way: addresses swapped, and ports swapped
/// unless ICMP (type and code describe the exchange, not an endpoint).
pub fn reversed(key: &FlowKey) -> FlowKey {
    let (src_port, dst_port) =
        if is_icmp(key.protocol) { (key.src_port, key.dst_port) } else { (key.dst_port, key.src_port) };
    FlowKey { src_addr: key.dst_addr, dst_addr: key.src_addr, src_port, dst_port, ..*key }
}

pub fn is_icmp(protocol: u8) -> bool {
    protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6
}

impl ConversationKey {
    pub fn of(key: &FlowKey) -> Self {
        let (src_port, dst_port, icmp) = if is_icmp(key.protocol) {
            // Type and code describe the exchange, not an endpoint.
            (icmp_request_type(key.protocol, key.src_port), key.dst_port, true)
        } else {
            (key.src_port, key.dst_port, false)
        };
        let src = (key.src_addr, if icmp { 0 } else { src_port });
        let dst = (key.dst_addr, if icmp { 0 } else { dst_port });
        let (low, high) = if src <= dst { (src, dst) } else { (dst, src) };
        let (low_port, high_port) = if icmp { (src_port, dst_port) } else { (low.1, high.1) };
        Self {
            low_addr: low.0,
            low_port,
            high_addr: high.0,
            high_port,
            protocol: key.protocol,
            ifindex: key.ifindex,
            vlan_id: key.vlan_id,
            inner_vlan_id: key.inner_vlan_id,
        }
    }
}

/// Whether `key` travels in the same direction as `originator`.
pub fn is_originator_direction(originator: &FlowKey, key: &FlowKey) -> bool {
    if is_icmp(key.protocol) {
        key.src_addr == originator.src_addr
    } else {
        key.src_addr == originator.src_addr && key.src_port == originator.src_port
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_common::parse::{IPPROTO_TCP, ipv4_mapped};
    use proptest::prelude::*;

    fn flow(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, protocol: u8) -> FlowKey {
        FlowKey {
            src_addr: ipv4_mapped(src),
            dst_addr: ipv4_mapped(dst),
            src_port: sport,
            dst_port: dport,
            protocol,
            ifindex: 3,
            ..FlowKey::default()
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let a = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 443, IPPROTO_TCP);
        let b = flow([10, 0, 0, 2], 443, [10, 0, 0, 1], 40000, IPPROTO_TCP);
        assert_eq!(ConversationKey::of(&a), ConversationKey::of(&b));
        assert!(is_originator_direction(&a, &a));
        assert!(!is_originator_direction(&a, &b));
    }

    #[test]
    fn different_ports_are_different_conversations() {
        let a = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 443, IPPROTO_TCP);
        let b = flow([10, 0, 0, 1], 40001, [10, 0, 0, 2], 443, IPPROTO_TCP);
        assert_ne!(ConversationKey::of(&a), ConversationKey::of(&b));
    }

    #[test]
    fn echo_reply_pairs_with_request() {
        let request = flow([10, 0, 0, 1], 8, [10, 0, 0, 2], 0, IPPROTO_ICMP);
        let reply = flow([10, 0, 0, 2], 0, [10, 0, 0, 1], 0, IPPROTO_ICMP);
        assert_eq!(ConversationKey::of(&request), ConversationKey::of(&reply));
        assert!(!is_originator_direction(&request, &reply));
        let unreachable = flow([10, 0, 0, 2], 3, [10, 0, 0, 1], 1, IPPROTO_ICMP);
        assert_ne!(ConversationKey::of(&request), ConversationKey::of(&unreachable));
    }

    /// Keys from small domains, so that conversations collide often.
    fn small_key() -> impl Strategy<Value = FlowKey> {
        let protocol = prop_oneof![Just(IPPROTO_ICMP), Just(IPPROTO_ICMPV6), Just(IPPROTO_TCP)];
        let port = prop_oneof![Just(0u16), Just(1), Just(3), Just(8), Just(13), Just(14), Just(128), Just(129)];
        (1u8..3, port.clone(), 1u8..3, port, protocol, 0u16..2).prop_map(|(src, sport, dst, dport, protocol, vlan)| {
            FlowKey { vlan_id: vlan, ..flow([10, 0, 0, src], sport, [10, 0, 0, dst], dport, protocol) }
        })
    }

    proptest! {
        /// `conversation_keys` lists exactly the keys of the conversation
        /// (with the same direction and generation fields).
        #[test]
        fn conversation_keys_are_all_of_the_conversation(a in small_key(), b in small_key()) {
            let keys = conversation_keys(&a);
            prop_assert!(keys.contains(&a));
            for key in &keys {
                prop_assert_eq!(ConversationKey::of(key), ConversationKey::of(&a));
            }
            if ConversationKey::of(&a) == ConversationKey::of(&b) {
                prop_assert!(keys.contains(&b), "{:?} missing from {:?}", b, keys);
            }
        }
    }

    #[test]
    fn same_key_on_other_vlan_is_separate() {
        let a = flow([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, IPPROTO_TCP);
        let b = FlowKey { vlan_id: 7, ..a };
        assert_ne!(ConversationKey::of(&a), ConversationKey::of(&b));
    }
}
