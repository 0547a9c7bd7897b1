use std::io;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--hosts {0} is out of range: use 1 to {max} (the LAN plan has room for {max} benign hosts)", max = super::addresses::MAX_HOSTS)]
    Hosts(u16),
    #[error(
        "--hosts {hosts} is too few for the requested injections: they need {needed} distinct benign hosts as victims"
    )]
    TooFewHostsForInjections { hosts: u16, needed: u16 },
    #[error("{0} needs a benign host as its victim and none was left; raise --hosts")]
    NoVictim(super::InjectionKind),
    #[error("--duration must be at least {min_secs} s{reason}")]
    Duration { min_secs: u64, reason: &'static str },
    #[error("writing the pcap failed: {0} (check the path and free disk space)")]
    Write(#[from] io::Error),
    #[error("writing a pcap header failed: {0}")]
    PcapHeader(String),
    #[error("a frame's payload is too large: {0}")]
    PayloadTooLarge(#[from] etherparse::err::ValueTooBigError<usize>),
    #[error("computing a checksum failed: {0}")]
    Checksum(#[from] etherparse::err::packet::TransportChecksumError),
    #[error("building TCP options failed: {0}")]
    TcpOptions(#[from] etherparse::TcpOptionWriteError),
    #[error("building a DNS message failed: {0}")]
    Dns(#[from] simple_dns::SimpleDnsError),
}
