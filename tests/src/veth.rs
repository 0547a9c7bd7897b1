//! A veth pair joining two test namespaces, addressed and quiet.
//!
//! "Quiet" matters because the tests assert exact packet counts:
//! - static, permanent neighbour entries (IPv4 and IPv6) mean no ARP
//!   request/reply and no Neighbour Solicitation/Advertisement is ever sent;
//!   without them the first datagrams of a burst would wait in (or overflow)
//!   the unresolved-neighbour queue and extra non-IP/ICMPv6 frames would
//!   cross the link;
//! - `addrgenmode none` gives the interfaces no link-local address, so there
//!   is no duplicate-address detection and no router solicitation; the ULA
//!   addresses are added with `nodad` for the same reason.
//!
//! What remains are MLDv2 reports for the solicited-node groups (ICMPv6
//! type 143 from :: to ff02::16, behind a hop-by-hop header): one when a
//! link comes up and a retransmission at a random moment within the
//! unsolicited-report interval, after the link watcher marks the link
//! operational (up to a second after `link set up`). They cannot be
//! switched off per namespace (`net.ipv6.mld_qrv` exists only in the root
//! namespace), so the interval is cut to 1 ms and [`VethPair::new`] waits
//! until both ends are operational and the reports are through. Were one
//! late, it would still be a flow of its own, never mixed into the flows a
//! test checks.

use crate::frames::Mac;
use crate::netns::NetNs;
use crate::{cmd, names};
use anyhow::{Result, ensure};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Time for the MLD reports sent when a link becomes operational (a report
/// and its retransmission a jiffy or few later) to cross the link.
const MLD_SETTLE: Duration = Duration::from_millis(50);

/// A veth pair: end `a` in one namespace, end `b` in the other.
/// Addresses: 10.213.S.1/24 and fd00:213:S::1/64 on `a`, `.2`/`::2` on `b`.
#[derive(Debug)]
pub struct VethPair {
    pub a_if: String,
    pub b_if: String,
    pub a_mac: Mac,
    pub b_mac: Mac,
    pub a_v4: Ipv4Addr,
    pub b_v4: Ipv4Addr,
    pub a_v6: Ipv6Addr,
    pub b_v6: Ipv6Addr,
    a_ns: String,
    b_ns: String,
}

impl VethPair {
    pub fn new(a: &NetNs, b: &NetNs) -> Result<Self> {
        let id = names::next_id();
        let (a_if, b_if) = names::veth_names(id);
        let subnet = (id % 250 + 1) as u8;
        let [hi, lo] = ((id % 65_536) as u16).to_be_bytes();
        let pair = VethPair {
            a_if,
            b_if,
            a_mac: [0x02, 0x66, 0x77, hi, lo, 0x0a],
            b_mac: [0x02, 0x66, 0x77, hi, lo, 0x0b],
            a_v4: Ipv4Addr::new(10, 213, subnet, 1),
            b_v4: Ipv4Addr::new(10, 213, subnet, 2),
            a_v6: Ipv6Addr::new(0xfd00, 0x213, u16::from(subnet), 0, 0, 0, 0, 1),
            b_v6: Ipv6Addr::new(0xfd00, 0x213, u16::from(subnet), 0, 0, 0, 0, 2),
            a_ns: a.name().to_owned(),
            b_ns: b.name().to_owned(),
        };
        // Created inside namespace a with its peer placed straight into b:
        // neither end ever exists in the root namespace.
        cmd::ip(&[
            "-n",
            &pair.a_ns,
            "link",
            "add",
            &pair.a_if,
            "address",
            &mac_string(&pair.a_mac),
            "type",
            "veth",
            "peer",
            "name",
            &pair.b_if,
            "address",
            &mac_string(&pair.b_mac),
            "netns",
            &pair.b_ns,
        ])?;
        // From here on `pair` is a guard: an error below deletes the link.
        pair.configure_end(a, &pair.a_if, pair.a_v4, pair.a_v6)?;
        pair.configure_end(b, &pair.b_if, pair.b_v4, pair.b_v6)?;
        pair.add_neighbours(&pair.a_ns, &pair.a_if, pair.b_v4, pair.b_v6, &pair.b_mac)?;
        pair.add_neighbours(&pair.b_ns, &pair.b_if, pair.a_v4, pair.a_v6, &pair.a_mac)?;
        pair.wait_operational(Duration::from_secs(5))?;
        Ok(pair)
    }

    fn configure_end(&self, ns: &NetNs, ifname: &str, v4: Ipv4Addr, v6: Ipv6Addr) -> Result<()> {
        let n = ns.name();
        cmd::ip(&["-n", n, "link", "set", ifname, "addrgenmode", "none"])?;
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.accept_dad"), "0")?;
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.router_solicitations"), "0")?;
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.mldv2_unsolicited_report_interval"), "1")?;
        cmd::ip(&["-n", n, "addr", "add", &format!("{v4}/24"), "dev", ifname])?;
        cmd::ip(&["-n", n, "-6", "addr", "add", &format!("{v6}/64"), "dev", ifname, "nodad"])?;
        cmd::ip(&["-n", n, "link", "set", ifname, "up"])?;
        Ok(())
    }

    /// Waits until both ends report operstate UP. The kernel's link watcher
    /// turns carrier into operstate up to a second after `link set up`, and
    /// only then does IPv6 send its MLD reports; waiting here (plus a few
    /// jiffies for the 1 ms-interval retransmission) keeps them out of the test.
    fn wait_operational(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        for (ns, ifname) in [(&self.a_ns, &self.a_if), (&self.b_ns, &self.b_if)] {
            loop {
                let out = cmd::ip(&["-n", ns, "-o", "link", "show", "dev", ifname])?;
                if String::from_utf8_lossy(&out.stdout).contains("state UP") {
                    break;
                }
                ensure!(Instant::now() < deadline, "{ifname} in {ns} not operationally up after {timeout:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        std::thread::sleep(MLD_SETTLE);
        Ok(())
    }

    fn add_neighbours(&self, ns: &str, ifname: &str, v4: Ipv4Addr, v6: Ipv6Addr, mac: &Mac) -> Result<()> {
        let mac = mac_string(mac);
        for addr in [v4.to_string(), v6.to_string()] {
            cmd::ip(&["-n", ns, "neigh", "replace", &addr, "lladdr", &mac, "dev", ifname, "nud", "permanent"])?;
        }
        Ok(())
    }

    /// Sets the MTU of both ends, e.g. to carry captured frames larger than
    /// 1500 bytes (GSO-sized segments, jumbo frames). Driver-mode XDP on veth
    /// only takes MTUs up to about a page, so the agent then attaches in SKB mode.
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        let mtu = mtu.to_string();
        for (ns, ifname) in [(&self.a_ns, &self.a_if), (&self.b_ns, &self.b_if)] {
            cmd::ip(&["-n", ns, "link", "set", "dev", ifname, "mtu", &mtu])?;
        }
        Ok(())
    }

    /// Turns segmentation, receive aggregation and checksum offloads off on
    /// both ends, so every buffer a hook sees is one wire packet, as
    /// tcpdump sees it.
    pub fn disable_offloads(&self) -> Result<()> {
        for (ns, ifname) in [(&self.a_ns, &self.a_if), (&self.b_ns, &self.b_if)] {
            cmd::run(std::process::Command::new("ip").args([
                "netns", "exec", ns, "ethtool", "-K", ifname, "tso", "off", "gso", "off", "gro", "off", "tx", "off",
                "rx", "off",
            ]))?;
        }
        Ok(())
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting one end removes both. Failure is expected when the
        // namespace is already gone (the veth went with it).
        let _ = cmd::ip(&["-n", &self.a_ns, "link", "del", &self.a_if]);
    }
}

/// `02:66:77:00:01:0a` form.
pub fn mac_string(mac: &Mac) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
