// The roles of the captures in ../shared/data/pcaps and the simulator seeds,
// for `cargo xtask evaluate` and the models section of `cargo xtask bench`:
// both `include!` this file, so they train and test on the same data.

/// Seeds of the simulated captures: training, held-out benign, injections.
pub const SEED_TRAIN: u64 = 1;
pub const SEED_HELD_OUT: u64 = 2;
pub const SEED_INJECTED: u64 = 3;

/// Benign captures in `pcaps/`: training data, and the false-alarm check.
pub const BENIGN: [&str; 3] =
    ["kitsune/mirai2000.pcap", "chrissanders-packets/http_espn.pcapng", "chrissanders-packets/http_google.pcapng"];

/// One labelled attack capture and the event that proves it was detected:
/// an event of one of `kinds` naming one of `names` as source or destination.
pub struct Attack {
    pub capture: &'static str,
    pub kinds: &'static [&'static str],
    pub names: &'static [&'static str],
}

pub const fn attack(capture: &'static str, kinds: &'static [&'static str], names: &'static [&'static str]) -> Attack {
    Attack { capture, kinds, names }
}

/// The expected detections, one row per capture the labels file
/// (tests/data/shared-pcaps.labels.csv) names; addresses are the label's.
pub const ATTACKS: [Attack; 21] = [
    // SYN scan of ~1,000 ports of one host: Threshold Random Walk over unanswered first contacts.
    attack("chrissanders-packets/synscan.pcapng", &["port_scan"], &["172.16.0.8", "64.13.134.52"]),
    // nmap -O: too few first contacts for the random walk, but its NULL and FIN|PSH|URG probes are crafted.
    attack("chrissanders-packets/activeosfingerprinting.pcapng", &["port_scan"], &["172.16.16.128", "172.16.16.150"]),
    // Exploit served over ordinary HTTP, then a reverse shell from the victim to the attacker's TCP 4321:
    // the exploit flow looks like web browsing, but the shell is a service the victim never used
    // (rare_protocol against the trained baseline).
    attack(
        "chrissanders-packets/aurora.pcapng",
        &["ml_outlier", "rare_protocol"],
        &["192.168.100.202", "192.168.100.206"],
    ),
    // Ransomware check-ins to its C2 server: three same-size POSTs at irregular times (sparse check-ins).
    attack("chrissanders-packets/cryptowall4_c2.pcapng", &["beaconing"], &["184.170.149.44", "192.168.122.145"]),
    // Exploit-kit download and C2 of the infected host: only the model can.
    attack("chrissanders-packets/ek_to_cryptowall4.pcapng", &["ml_outlier"], &["192.168.122.145"]),
    // DVWA SQL injection: HTTP requests with odd payloads, a job for the model.
    attack("chrissanders-packets/http_dvwa_sqlinjection.pcapng", &["ml_outlier"], &["10.2.2.101", "10.2.2.104"]),
    // DVWA directory traversal: likewise.
    attack("chrissanders-packets/http_dvwa_directorytraversal.pcapng", &["ml_outlier"], &["10.2.2.101", "10.2.2.104"]),
    // One DNS zone transfer: a TCP answer larger than a datagram that no UDP query asked for.
    attack("chrissanders-packets/dns_axfr.pcapng", &["dns_tunnel"], &["172.16.16.164", "172.16.16.139"]),
    // A hijacked HTTP session: same addresses and ports as the victim's own, a job for the model.
    attack("chrissanders-packets/sessionhijacking.pcapng", &["ml_outlier"], &["172.16.16.154", "172.16.16.181"]),
    // RAT screen grabs every 10 s from 172.16.0.114 to 172.16.0.111:4433.
    attack("chrissanders-packets/ratinfected.pcapng", &["beaconing"], &["172.16.0.111", "172.16.0.114"]),
    // Hide'n'Seek bot scanning telnet/ssh on 290 hosts: a horizontal scan.
    attack("stratosphere/test7-malicious.pcap", &["port_scan"], &["192.168.2.16"]),
    // ICMP echo sweep of 18 hosts.
    attack("stratosphere/test12-icmp-portscan.pcap", &["port_scan"], &["192.168.1.109"]),
    // SSH brute force: every login is answered, so it is no scan; the flood detector's
    // connection-rate check reports it (the label says flood for that reason).
    attack("stratosphere/malicious-ssh-bruteforce.pcap", &["flood"], &["147.32.80.40", "147.32.80.37"]),
    // stopddos: one-way floods and amplification on one victim from spoofed sources.
    attack("stopddos/pkt.TCP.synflood.spoofed.pcap", &["flood"], &["10.10.10.10"]),
    attack("stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", &["flood"], &["10.10.10.10"]),
    attack("stopddos/amp.TCP.reflection.SYNACK.pcap", &["flood"], &["10.10.10.10"]),
    attack("stopddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng", &["flood"], &["10.10.10.10"]),
    // The upstream README says 10.10.10.10; in this capture the victim is 10.10.10.1.
    attack("stopddos/amp.UDP.bacnet.IOT.37810.pcapng", &["flood"], &["10.10.10.1"]),
    attack("stopddos/amp.UDP.isakmp.pcap", &["flood"], &["10.10.10.10"]),
    attack("stopddos/amp.UDP.snmp.src161.pcapng", &["flood"], &["10.10.10.10"]),
    // DNS amplification with fragmented RRSIG answers: fragments and answers on one victim.
    attack("stopddos/amp.dns.RRSIG.fragmented.pcap", &["flood"], &["10.10.10.10"]),
];
