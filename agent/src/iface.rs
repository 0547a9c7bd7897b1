//! Interface names, indexes and the default-route interface.

use std::{collections::HashMap, ffi::CString, fs};

#[derive(Debug, thiserror::Error)]
pub enum InterfaceError {
    #[error("interface {0:?} does not exist (list interfaces with `ip link`)")]
    Unknown(String),
    #[error("no default route found in /proc/net/route or /proc/net/ipv6_route; name an interface with -i")]
    NoDefaultRoute,
}

pub fn index_of(name: &str) -> Result<u32, InterfaceError> {
    let c_name = CString::new(name).map_err(|_| InterfaceError::Unknown(name.to_owned()))?;
    // SAFETY: c_name is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 { Err(InterfaceError::Unknown(name.to_owned())) } else { Ok(index) }
}

pub fn name_of(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let ptr = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// The interface of the IPv4 default route, else of the IPv6 one.
pub fn default_route_interface() -> Result<String, InterfaceError> {
    if let Ok(table) = fs::read_to_string("/proc/net/route")
        && let Some(name) = default_from_ipv4_table(&table)
    {
        return Ok(name);
    }
    if let Ok(table) = fs::read_to_string("/proc/net/ipv6_route")
        && let Some(name) = default_from_ipv6_table(&table)
    {
        return Ok(name);
    }
    Err(InterfaceError::NoDefaultRoute)
}

fn default_from_ipv4_table(table: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Iface Destination Gateway Flags ... Mask: destination and mask 0.
        (cols.len() > 7 && cols[1] == "00000000" && cols[7] == "00000000").then(|| cols[0].to_owned())
    })
}

fn default_from_ipv6_table(table: &str) -> Option<String> {
    table.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let zero = "00000000000000000000000000000000";
        (cols.len() == 10 && cols[0] == zero && cols[1] == "00" && cols[9] != "lo").then(|| cols[9].to_owned())
    })
}

/// Caches ifindex → name for record output (names are looked up once).
#[derive(Debug, Default)]
pub struct InterfaceNames {
    names: HashMap<u32, String>,
}

impl InterfaceNames {
    pub fn name(&mut self, index: u32) -> &str {
        self.names.entry(index).or_insert_with(|| name_of(index).unwrap_or_else(|| format!("if{index}")))
    }

    /// Pre-seeds a name (replay sources name their interfaces themselves).
    pub fn insert(&mut self, index: u32, name: String) {
        self.names.insert(index, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ipv4_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth1\t0010A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                     eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_from_ipv4_table(table).as_deref(), Some("eth0"));
    }

    #[test]
    fn finds_ipv6_default_route() {
        let table = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n";
        assert_eq!(default_from_ipv6_table(table).as_deref(), Some("wlan0"));
    }

    #[test]
    fn loopback_exists_and_unknown_does_not() {
        assert!(index_of("lo").is_ok());
        assert!(matches!(index_of("nope-does-not-exist"), Err(InterfaceError::Unknown(_))));
    }
}
