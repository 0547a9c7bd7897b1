//! DNS messages (via `simple-dns`) and the lookup exchange with a resolver.

use std::net::Ipv4Addr;

use rand::RngExt as _;
use simple_dns::{
    CLASS, Name, Packet, PacketFlag, Question, ResourceRecord, TYPE,
    rdata::{A, RData, TXT},
};

use crate::simulate::{
    SimError,
    datagram::{Datagrams, UdpPeer},
    output::Origin,
    rng::SimRng,
    tcp::Side,
    units::Nanos,
    world::Server,
};

pub const PORT: u16 = 53;

fn query(id: u16, name: &str, kind: TYPE) -> Result<Vec<u8>, SimError> {
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(Name::new(name)?, kind.into(), CLASS::IN.into(), false));
    Ok(packet.build_bytes_vec()?)
}

fn reply(id: u16, name: &str, kind: TYPE, answer: Option<RData<'_>>, ttl: u32) -> Result<Vec<u8>, SimError> {
    let mut packet = Packet::new_reply(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::RECURSION_AVAILABLE);
    let qname = Name::new(name)?;
    packet.questions.push(Question::new(qname.clone(), kind.into(), CLASS::IN.into(), false));
    if let Some(rdata) = answer {
        packet.answers.push(ResourceRecord::new(qname, CLASS::IN, ttl, rdata));
    }
    Ok(packet.build_bytes_vec_compressed()?)
}

/// An A query and its answer.
pub fn a_lookup(id: u16, name: &str, addr: Ipv4Addr, ttl: u32) -> Result<(Vec<u8>, Vec<u8>), SimError> {
    let answer = RData::A(A { address: addr.into() });
    Ok((query(id, name, TYPE::A)?, reply(id, name, TYPE::A, Some(answer), ttl)?))
}

/// A TXT query and an answer carrying `texts` (each at most 255 bytes).
pub fn txt_lookup(id: u16, name: &str, texts: &[String]) -> Result<(Vec<u8>, Vec<u8>), SimError> {
    let mut txt = TXT::new();
    for text in texts {
        txt.add_string(text)?;
    }
    Ok((query(id, name, TYPE::TXT)?, reply(id, name, TYPE::TXT, Some(RData::TXT(txt)), 0)?))
}

/// A lookup from `client` at `at`: the query, and the resolver's answer
/// `delay` after it reached the resolver.
pub fn exchange(
    client: UdpPeer,
    resolver: &Server,
    at: Nanos,
    delay: Nanos,
    (query, answer): (Vec<u8>, Vec<u8>),
    origin: Origin,
    rng: &mut SimRng,
) -> (Datagrams, Nanos) {
    let answered = at + resolver.rtt + delay;
    let server = UdpPeer { endpoint: resolver.endpoint, port: PORT };
    let datagrams =
        Datagrams::new(client, server, [(at, Side::Client, query), (answered, Side::Server, answer)], origin, rng);
    (datagrams, answered)
}

/// A random query id.
pub fn query_id(rng: &mut SimRng) -> u16 {
    rng.random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_messages_parse_back() -> Result<(), Box<dyn std::error::Error>> {
        let (query, answer) = a_lookup(0x1234, "www.example.com", Ipv4Addr::new(81, 2, 69, 142), 300)?;
        // Header 12 + name 17 + type/class 4.
        assert_eq!(query.len(), 33);
        let parsed = Packet::parse(&answer)?;
        assert_eq!(parsed.id(), 0x1234);
        let RData::A(a) = &parsed.answers[0].rdata else { panic!("not an A record") };
        assert_eq!(Ipv4Addr::from(a.address), Ipv4Addr::new(81, 2, 69, 142));
        let (_, txt_answer) = txt_lookup(7, "abc.t.example", &["x".repeat(200)])?;
        let parsed = Packet::parse(&txt_answer)?;
        assert!(matches!(&parsed.answers[0].rdata, RData::TXT(_)));
        Ok(())
    }
}
