//! TCP on the wire: handshake, data cut into MSS-sized segments sent one
//! congestion window per round trip (slow start from ten segments),
//! acknowledgements every second segment with a delayed ACK for a lone
//! last one, and FIN or RST teardown. Times are when the capture point sees
//! each segment: a side reacts to what the capture saw one round trip
//! (capture → that side → capture) later.

use rand::RngExt as _;

use super::{
    activity::Plan,
    frame::{Endpoint, FrameHeader, SynOptions, TcpFields, Transport, flags},
    rng::SimRng,
    units::{MICROS, MILLIS, Nanos, SECS},
};

/// Which end of a connection: the client opened it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One end's stack and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpEnd {
    pub endpoint: Endpoint,
    pub port: u16,
    /// Round trip capture point → this end → capture point.
    pub rtt: Nanos,
    /// MSS this end announces (what it can receive).
    pub mss: u16,
    /// Window field of its SYN and the scale it announces.
    pub window: u16,
    pub window_scale: u8,
}

/// A segment to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub from: Side,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// Byte range of the current message this segment carries.
    pub payload: Option<(u64, u16)>,
}

/// How the receiver acknowledges a message's last segment when it is left
/// over (an odd one out of the every-second-segment rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastAck {
    /// The delayed-ACK timer fires: nothing else to send soon.
    Delayed,
    /// At once: more data from the sender follows, and a second segment
    /// is acknowledged without delay.
    Immediate,
    /// Not on its own: the receiver's reply, FIN or RST comes before the
    /// timer and acknowledges it.
    Carried,
}

/// What one round of a transfer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// Message bytes sent so far, this round included.
    pub sent: u64,
    /// When the round's last data segment was seen.
    pub last_data: Nanos,
    /// When the sender's next round can start (its last ACK came back).
    pub next_round: Nanos,
}

/// Initial congestion window (RFC 6928) and the cap slow start grows to.
const INITIAL_WINDOW: u32 = 10;
const MAX_WINDOW: u32 = 512;
/// How long a receiver holds the ACK of a lone segment (Linux's minimum).
pub const DELAYED_ACK: Nanos = 40 * MILLIS;
/// Time an end takes to react to a segment (kernel and application).
const REACTION: Nanos = 30 * MICROS;
/// Ethernet + IPv4 + TCP headers of a data segment.
const HEADERS: u64 = 54;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpConnection {
    ends: [TcpEnd; 2],
    next_seq: [u32; 2],
    ip_id: [u16; 2],
    cwnd: [u32; 2],
    /// Bottleneck throughput, bytes per second.
    rate: u64,
}

impl TcpConnection {
    pub fn new(client: TcpEnd, server: TcpEnd, rate: u64, rng: &mut SimRng) -> Self {
        Self {
            ends: [client, server],
            next_seq: [rng.random(), rng.random()],
            ip_id: [rng.random(), rng.random()],
            cwnd: [INITIAL_WINDOW; 2],
            rate: rate.max(1),
        }
    }

    pub fn end(&self, side: Side) -> &TcpEnd {
        &self.ends[side.index()]
    }

    /// Segment payload size: the smaller of the two announced MSS.
    fn mss(&self) -> u64 {
        u64::from(self.ends[0].mss.min(self.ends[1].mss).max(1))
    }

    /// Time a segment of `payload` bytes occupies the bottleneck.
    fn spacing(&self, payload: u64) -> Nanos {
        ((payload + HEADERS) * SECS).div_ceil(self.rate)
    }

    /// Time at which `side` reacts to something the capture saw at `seen`.
    pub fn reaction(&self, side: Side, seen: Nanos) -> Nanos {
        seen + self.end(side).rtt + REACTION
    }

    fn control(&mut self, from: Side, flags: u8) -> Segment {
        let seq = self.next_seq[from.index()];
        let ack = self.next_seq[from.other().index()];
        if flags & (flags::SYN | flags::FIN) != 0 {
            // SYN and FIN each take one sequence number.
            self.next_seq[from.index()] = seq.wrapping_add(1);
        }
        Segment { from, flags, seq, ack, payload: None }
    }

    /// Plans the three-way handshake with the SYN at `at`; returns when the
    /// client's final ACK is seen (from then on it may send).
    pub fn open(&mut self, at: Nanos, plan: &mut Plan<Segment>) -> Nanos {
        let syn = self.control(Side::Client, flags::SYN);
        plan.push(at, syn);
        let syn_ack_at = self.reaction(Side::Server, at);
        let syn_ack = self.control(Side::Server, flags::SYN | flags::ACK);
        plan.push(syn_ack_at, syn_ack);
        let ack_at = self.reaction(Side::Client, syn_ack_at);
        let ack = self.control(Side::Client, flags::ACK);
        plan.push(ack_at, ack);
        ack_at
    }

    /// Plans one congestion window of a `len`-byte message from `from`,
    /// starting at byte `sent` with the first segment at `at`. The
    /// receiver acknowledges every second segment at once, and the
    /// message's last segment, when it is left over, as `last_ack` says.
    pub fn send_round(
        &mut self,
        from: Side,
        len: u64,
        sent: u64,
        at: Nanos,
        last_ack: LastAck,
        plan: &mut Plan<Segment>,
    ) -> Round {
        let to = from.other();
        let mss = self.mss();
        let count = u64::from(self.cwnd[from.index()]).min(len.saturating_sub(sent).div_ceil(mss));
        let (mut sent, mut time, mut last_data, mut last_ack_at) = (sent, at, at, at);
        for i in 0..count {
            let size = mss.min(len - sent);
            let last_of_message = sent + size == len;
            let mut segment = self.control(from, if last_of_message { flags::ACK | flags::PSH } else { flags::ACK });
            segment.payload = Some((sent, size as u16));
            self.next_seq[from.index()] = segment.seq.wrapping_add(size as u32);
            plan.push(time, segment);
            sent += size;
            last_data = time;
            let second = i % 2 == 1;
            let ack_delay = match (second, i + 1 == count, last_of_message, last_ack) {
                (true, ..) | (false, true, false, _) | (false, true, true, LastAck::Immediate) => Some(0),
                (false, true, true, LastAck::Delayed) => Some(DELAYED_ACK),
                _ => None,
            };
            if let Some(delay) = ack_delay {
                let ack_at = self.reaction(to, time) + delay;
                let ack = self.control(to, flags::ACK);
                plan.push(ack_at, ack);
                last_ack_at = last_ack_at.max(ack_at);
            }
            time += self.spacing(size);
        }
        let window = &mut self.cwnd[from.index()];
        *window = (*window * 2).min(MAX_WINDOW);
        Round { sent, last_data, next_round: self.reaction(from, last_ack_at) }
    }

    /// Plans an orderly close started by `by` at `at`: FIN, the peer's FIN
    /// (closing at once, as servers and browsers do), and the last ACK.
    pub fn close(&mut self, by: Side, at: Nanos, plan: &mut Plan<Segment>) {
        let fin = self.control(by, flags::FIN | flags::ACK);
        plan.push(at, fin);
        let peer_fin_at = self.reaction(by.other(), at);
        let peer_fin = self.control(by.other(), flags::FIN | flags::ACK);
        plan.push(peer_fin_at, peer_fin);
        let last_ack = self.control(by, flags::ACK);
        plan.push(self.reaction(by, peer_fin_at), last_ack);
    }

    /// Plans an abort: one RST from `by` at `at`.
    pub fn reset(&mut self, by: Side, at: Nanos, plan: &mut Plan<Segment>) {
        let rst = self.control(by, flags::RST | flags::ACK);
        plan.push(at, rst);
    }

    /// The frame header of `segment`.
    pub fn header(&mut self, segment: &Segment) -> FrameHeader {
        let from = self.ends[segment.from.index()];
        let to = self.ends[segment.from.other().index()];
        let id = &mut self.ip_id[segment.from.index()];
        *id = id.wrapping_add(1);
        let is_syn = segment.flags & flags::SYN != 0;
        FrameHeader {
            src: from.endpoint,
            dst: to.endpoint,
            ip_id: *id,
            transport: Transport::Tcp(TcpFields {
                src_port: from.port,
                dst_port: to.port,
                seq: segment.seq,
                ack: segment.ack,
                flags: segment.flags,
                // Scaled windows after the handshake: 64 KiB and more.
                window: if is_syn { from.window } else { 502 },
                syn_options: is_syn.then_some(SynOptions { mss: from.mss, window_scale: from.window_scale }),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::simulate::rng::{Stream, stream};

    fn end(last: u8, port: u16, rtt: Nanos) -> TcpEnd {
        TcpEnd {
            endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, last), mac: [2, 0, 0, 0, 0, last], ttl: 64 },
            port,
            rtt,
            mss: 1460,
            window: 64_240,
            window_scale: 7,
        }
    }

    fn connection() -> TcpConnection {
        let mut rng = stream(1, Stream::Population);
        // 1 ms to the client, 20 ms to the server, 10 MB/s.
        TcpConnection::new(end(1, 50_000, MILLIS), end(2, 443, 20 * MILLIS), 10_000_000, &mut rng)
    }

    fn drain(plan: &mut Plan<Segment>) -> Vec<(Nanos, Segment)> {
        std::iter::from_fn(|| plan.pop()).collect()
    }

    #[test]
    fn handshake_then_segments_respect_mss_and_sequence_numbers() {
        let mut conn = connection();
        let isn = conn.next_seq;
        let mut plan = Plan::default();
        let ready = conn.open(0, &mut plan);
        let handshake = drain(&mut plan);
        let flag_list: Vec<u8> = handshake.iter().map(|(_, s)| s.flags).collect();
        assert_eq!(flag_list, [flags::SYN, flags::SYN | flags::ACK, flags::ACK]);
        assert_eq!(handshake[1].0, 20 * MILLIS + REACTION);
        assert_eq!(ready, 20 * MILLIS + REACTION + MILLIS + REACTION);
        assert_eq!(handshake[1].1.ack, isn[0].wrapping_add(1));

        // 3,000 bytes from the server: 1460 + 1460 + 80.
        let round = conn.send_round(Side::Server, 3000, 0, ready, LastAck::Delayed, &mut plan);
        let segments = drain(&mut plan);
        let data: Vec<_> = segments.iter().filter(|(_, s)| s.from == Side::Server).collect();
        let sizes: Vec<u16> = data.iter().filter_map(|(_, s)| s.payload.map(|(_, len)| len)).collect();
        assert_eq!(sizes, [1460, 1460, 80]);
        assert_eq!(data[1].1.seq, data[0].1.seq.wrapping_add(1460));
        assert_eq!(data[2].1.flags, flags::ACK | flags::PSH);
        assert_eq!(round.sent, 3000);
        // ACK after the second segment at once, the lone third one delayed.
        let acks: Vec<_> = segments.iter().filter(|(_, s)| s.from == Side::Client).collect();
        assert_eq!(acks.len(), 2);
        assert_eq!(acks[0].1.ack, data[1].1.seq.wrapping_add(1460));
        assert_eq!(acks[1].1.ack, data[2].1.seq.wrapping_add(80));
        assert_eq!(acks[1].0, data[2].0 + MILLIS + REACTION + DELAYED_ACK);
    }

    #[test]
    fn slow_start_doubles_the_window_each_round() {
        let mut conn = connection();
        let mut plan = Plan::default();
        let mut at = conn.open(0, &mut plan);
        drain(&mut plan);
        let mut sent = 0;
        let mut per_round = Vec::new();
        while sent < 100_000 {
            let round = conn.send_round(Side::Client, 100_000, sent, at, LastAck::Delayed, &mut plan);
            per_round.push(drain(&mut plan).iter().filter(|(_, s)| s.payload.is_some()).count());
            assert!(round.next_round > round.last_data);
            (sent, at) = (round.sent, round.next_round);
        }
        // 69 segments: 10, 20, 39.
        assert_eq!(per_round, [10, 20, 39]);
    }

    #[test]
    fn fin_teardown_and_reset_use_the_current_sequence_numbers() {
        let mut conn = connection();
        let mut plan = Plan::default();
        let ready = conn.open(0, &mut plan);
        conn.send_round(Side::Client, 100, 0, ready, LastAck::Carried, &mut plan);
        let sent = drain(&mut plan);
        let client_next = sent[3].1.seq.wrapping_add(100);
        conn.close(Side::Client, ready + SECS, &mut plan);
        let close = drain(&mut plan);
        let flag_list: Vec<(Side, u8)> = close.iter().map(|(_, s)| (s.from, s.flags)).collect();
        assert_eq!(
            flag_list,
            [
                (Side::Client, flags::FIN | flags::ACK),
                (Side::Server, flags::FIN | flags::ACK),
                (Side::Client, flags::ACK)
            ]
        );
        assert_eq!(close[0].1.seq, client_next);
        assert_eq!(close[1].1.ack, client_next.wrapping_add(1));
        assert_eq!(close[2].1.ack, close[1].1.seq.wrapping_add(1));
        conn.reset(Side::Server, ready + 2 * SECS, &mut plan);
        let rst = drain(&mut plan);
        assert_eq!(rst[0].1.flags, flags::RST | flags::ACK);
    }
}
