//! A UDP flood over many flows with trafgen (netsniff-ng), sent from one
//! namespace into a veth.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use integration_tests::{
    netns::NetNs,
    veth::{VethPair, mac_string},
};

#[derive(Clone, Copy, Debug, Default)]
pub struct FloodResult {
    pub sent: u64,
    pub elapsed: Duration,
}

/// Floods sent one after another: the packets and the time add up.
impl std::ops::AddAssign for FloodResult {
    fn add_assign(&mut self, other: Self) {
        self.sent += other.sent;
        self.elapsed += other.elapsed;
    }
}

impl FloodResult {
    pub fn pps(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `packets` UDP frames of 64 bytes from the `b` end of `pair` (in
/// `ns`) to the `a` end, cycling through `flows` source ports. trafgen
/// bypasses the qdisc layer, so only the `a` end's XDP program sees them.
pub fn flood(ns: &NetNs, pair: &VethPair, packets: u64, flows: u32) -> Result<FloodResult> {
    // trafgen takes `-n 0` for "until interrupted".
    if packets == 0 {
        bail!("a trafgen flood of 0 packets would never end");
    }
    let (dev, src_mac, dst_mac, src_ip, dst_ip) = (&pair.b_if, pair.b_mac, pair.a_mac, pair.b_v4, pair.a_v4);
    let last_port = 1024 + flows - 1;
    // 14 + 20 + 8 + 22 = 64-byte frames.
    let config = format!(
        "{{ eth(da={}, sa={}, type=0x0800), ipv4(sa={src_ip}, da={dst_ip}, ttl=64), \
         udp(sp=dinc(1024, {last_port}), dp=9), fill(0x41, 22) }}",
        mac_string(&dst_mac),
        mac_string(&src_mac)
    );
    let packets_arg = packets.to_string();
    let args = ["-o", dev.as_str(), "-n", packets_arg.as_str(), "--cpus", "1", "-C", "-Q", config.as_str()];
    let started = Instant::now();
    let output = ns.command("trafgen", args).output().context("running trafgen (install netsniff-ng)")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!("trafgen failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(FloodResult { sent: packets, elapsed })
}
