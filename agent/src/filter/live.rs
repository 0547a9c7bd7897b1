//! Which pcap-filter primitives a flow key decides.
//!
//! A live flow record only knows its key: VLAN ids, IP version, protocol,
//! addresses and ports (ICMP type/code). libpcap evaluates the expression on
//! a packet rebuilt from that key, so any primitive that reads something else
//! (MAC addresses, lengths, TCP flags, arbitrary header bytes, the capture
//! direction) would silently test the rebuilt packet's filler bytes. Those
//! are refused up front instead. Non-IP protocols (`arp`, `stp`, …) need no
//! refusal: they never form flows, and the rebuilt IP packet never matches
//! them, which is the right answer.

/// Keywords that read something a flow key does not have.
const NOT_IN_FLOW_KEY: &[&str] = &[
    // Link-layer addresses and broadcast/multicast (MAC bits by default).
    "ether",
    "link",
    "fddi",
    "tr",
    "wlan",
    "broadcast",
    "multicast",
    "gateway",
    // Packet length.
    "len",
    "greater",
    "less",
    // Capture direction and interface metadata.
    "inbound",
    "outbound",
    "ifname",
    "on",
    // pflog and 802.11 fields.
    "rnr",
    "rulenum",
    "reason",
    "rset",
    "ruleset",
    "srnr",
    "srulenum",
    "subrule",
    "action",
    "type",
    "subtype",
    "dir",
    "addr1",
    "addr2",
    "addr3",
    "addr4",
    "ra",
    "ta",
    // Tunnels: these read the inner packet.
    "geneve",
    "vxlan",
    "llc",
];

/// The first primitive of `expression` a flow key cannot decide, if any:
/// a keyword from [`NOT_IN_FLOW_KEY`] or a `proto[offset]` byte access.
pub fn unsupported_live_primitive(expression: &str) -> Option<String> {
    if let Some(at) = expression.find('[') {
        let start = expression[..at].rfind(|c: char| !is_word_char(c)).map_or(0, |i| i + 1);
        return Some(format!("{}[…] (byte access)", &expression[start..at]));
    }
    let words: Vec<&str> = expression.split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()).collect();
    words.iter().enumerate().find_map(|(i, word)| {
        // `ether proto X` only tests the ethertype, which the rebuilt frame has right.
        let ethertype_only = matches!(*word, "ether" | "link") && words.get(i + 1) == Some(&"proto");
        (NOT_IN_FLOW_KEY.contains(word) && !ethertype_only).then(|| (*word).to_owned())
    })
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_primitives_are_accepted() {
        for expression in [
            "tcp port 80",
            "host 10.0.0.1 and not udp",
            "src net 192.168.0.0/16 or dst portrange 1000-2000",
            "vlan 10 and ip6 and proto 58",
            "ether proto 0x0800 && !(icmp or sctp)",
            "arp or tcp",
        ] {
            assert_eq!(unsupported_live_primitive(expression), None, "{expression}");
        }
    }

    #[test]
    fn other_primitives_are_named() {
        let cases = [
            ("ether host 00:11:22:33:44:55", "ether"),
            ("tcp and greater 100", "greater"),
            ("len > 60", "len"),
            ("ip broadcast", "broadcast"),
            ("tcp[tcpflags] & tcp-syn != 0", "tcp[…] (byte access)"),
            ("udp and ip[8] < 5", "ip[…] (byte access)"),
            ("inbound and port 53", "inbound"),
        ];
        for (expression, primitive) in cases {
            assert_eq!(unsupported_live_primitive(expression).as_deref(), Some(primitive), "{expression}");
        }
    }
}
