//! The kernel's own per-namespace packet counters (`/proc/net/snmp` and
//! `/proc/net/netstat`, what `nstat` reads): an independent count of wire
//! packets where tcpdump cannot give one, e.g. a GSO buffer that crosses a
//! veth whole (tcpdump shows it as one frame).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use crate::netns::NetNs;

/// Counters by `Group.Name`, e.g. `Tcp.OutSegs`, `IpExt.InNoECTPkts`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snmp(BTreeMap<String, u64>);

impl Snmp {
    /// Reads the counters of namespace `ns`.
    pub fn read(ns: &NetNs) -> Result<Self> {
        let mut counters = BTreeMap::new();
        for file in ["/proc/net/snmp", "/proc/net/netstat"] {
            let output = ns.exec("cat", [file])?;
            parse_into(&String::from_utf8_lossy(&output.stdout), &mut counters)
                .with_context(|| format!("parsing {file} of {}", ns.name()))?;
        }
        Ok(Self(counters))
    }

    /// One counter; an error names the counters there are.
    pub fn get(&self, name: &str) -> Result<u64> {
        match self.0.get(name) {
            Some(value) => Ok(*value),
            None => bail!("no counter {name}; there are: {:?}", self.0.keys().collect::<Vec<_>>()),
        }
    }

    /// IPv4 packets received, counting each segment of a GSO/GRO buffer
    /// (`ip_rcv` adds `gso_segs` to these four ECN buckets; `Ip.InReceives`
    /// counts buffers).
    pub fn ipv4_wire_packets_in(&self) -> Result<u64> {
        ["IpExt.InNoECTPkts", "IpExt.InECT1Pkts", "IpExt.InECT0Pkts", "IpExt.InCEPkts"]
            .iter()
            .map(|name| self.get(name))
            .sum()
    }
}

/// `/proc/net/snmp` and `netstat` hold pairs of lines: `Group: names…`
/// then `Group: values…`.
fn parse_into(text: &str, counters: &mut BTreeMap<String, u64>) -> Result<()> {
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((group, names)), Some((value_group, values))) = (names.split_once(':'), values.split_once(':'))
        else {
            bail!("unexpected lines {names:?} / {values:?}");
        };
        if group != value_group {
            bail!("a {group} header followed by {value_group} values");
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            // Signed fields (Tcp.MaxConn is -1) are not packet counters.
            if let Ok(value) = value.parse::<u64>() {
                counters.insert(format!("{group}.{name}"), value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_of_lines_become_named_counters() -> Result<()> {
        let text = "Tcp: RtoAlgorithm MaxConn OutSegs\nTcp: 1 -1 845\n\
                    IpExt: InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts\nIpExt: 90 1 2 3\n";
        let mut counters = BTreeMap::new();
        parse_into(text, &mut counters)?;
        let snmp = Snmp(counters);
        assert_eq!(snmp.get("Tcp.OutSegs")?, 845);
        assert!(snmp.get("Tcp.MaxConn").is_err());
        assert_eq!(snmp.ipv4_wire_packets_in()?, 96);
        Ok(())
    }

    #[test]
    fn mismatched_groups_are_refused() {
        assert!(parse_into("Tcp: OutSegs\nUdp: 4\n", &mut BTreeMap::new()).is_err());
    }
}
