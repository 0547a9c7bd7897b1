//! Port classes, as IANA divides the port space, and the service ports
//! common enough on real networks to be their own signal.

/// IANA's three ranges (RFC 6335 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortClass {
    /// 0–1023: system ports, bound by privileged servers.
    WellKnown,
    /// 1024–49151: user/registered ports (databases, proxies, RDP…).
    Registered,
    /// 49152–65535: dynamic ports, what clients bind.
    Ephemeral,
}

impl PortClass {
    pub const fn of(port: u16) -> Self {
        match port {
            0..=1023 => Self::WellKnown,
            1024..=49151 => Self::Registered,
            _ => Self::Ephemeral,
        }
    }
}

/// DNS, over UDP or TCP.
pub const DNS_PORT: u16 = 53;

/// HTTP without TLS: the standard port and the usual alternate.
pub const CLEARTEXT_HTTP_PORTS: [u16; 2] = [80, 8080];

/// Services that make up most benign traffic. Sorted (binary search).
pub const COMMON_SERVICE_PORTS: &[u16] = &[
    20, 21, 22, 23, 25, 53, 67, 68, 80, 110, 123, 137, 138, 139, 143, 161, 389, 443, 445, 465, 514, 587, 636, 853, 993,
    995, 1883, 3306, 3389, 5222, 5353, 5432, 8080, 8443, 8883,
];

pub fn is_common_service(port: u16) -> bool {
    COMMON_SERVICE_PORTS.binary_search(&port).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_boundaries_follow_rfc_6335() {
        assert_eq!(PortClass::of(0), PortClass::WellKnown);
        assert_eq!(PortClass::of(1023), PortClass::WellKnown);
        assert_eq!(PortClass::of(1024), PortClass::Registered);
        assert_eq!(PortClass::of(49151), PortClass::Registered);
        assert_eq!(PortClass::of(49152), PortClass::Ephemeral);
        assert_eq!(PortClass::of(65535), PortClass::Ephemeral);
    }

    #[test]
    fn common_services_are_sorted_and_found() {
        assert!(COMMON_SERVICE_PORTS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_common_service(443));
        assert!(is_common_service(53));
        assert!(!is_common_service(4444));
        assert!(!is_common_service(0));
    }
}
