//! A TCP conversation driven by a [`Script`]: the script says who sends
//! what and after how long; [`TcpConnection`] turns that into segments.

use std::collections::VecDeque;

use super::{
    SimError,
    activity::{Activity, Ctx, Plan, Planned, Planner},
    output::Origin,
    payload::Message,
    rng::{SimRng, child},
    tcp::{DELAYED_ACK, LastAck, Segment, Side, TcpConnection, TcpEnd},
    units::Nanos,
};

/// One step of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `from` sends `message`, `think` after it received the other side's
    /// last data (or after its own, when it sends twice in a row).
    Send { from: Side, think: Nanos, message: Message },
    /// `by` closes with FIN, `after` its reaction time.
    Close { by: Side, after: Nanos },
    /// `by` aborts with RST.
    Reset { by: Side, after: Nanos },
}

impl Step {
    fn actor(&self) -> Side {
        match self {
            Self::Send { from, .. } => *from,
            Self::Close { by, .. } | Self::Reset { by, .. } => *by,
        }
    }

    fn delay(&self) -> Nanos {
        match self {
            Self::Send { think, .. } => *think,
            Self::Close { after, .. } | Self::Reset { after, .. } => *after,
        }
    }
}

/// What a conversation says, one step at a time (long sessions are not
/// generated up front).
pub trait Script {
    /// The next step; `None` after the last (a Close or Reset ends it anyway).
    fn next_step(&mut self, rng: &mut SimRng) -> Option<Step>;
}

/// A script that is a fixed list of steps.
impl Script for VecDeque<Step> {
    fn next_step(&mut self, _: &mut SimRng) -> Option<Step> {
        self.pop_front()
    }
}

enum Stage {
    Open,
    /// Sending the current message, `sent` bytes planned so far.
    Sending {
        from: Side,
        sent: u64,
        last_ack: LastAck,
    },
    /// Waiting to run the step at the front of `steps`.
    Next,
    Done,
}

pub struct Conversation {
    conn: TcpConnection,
    script: Box<dyn Script>,
    rng: SimRng,
    origin: Origin,
    stage: Stage,
    next_start: Option<Nanos>,
    /// The step to run next and the one after it (to know whether the
    /// receiver's reply will carry the ACK of a message's last segment).
    steps: VecDeque<Step>,
    message: Message,
    /// Who sent the latest data and when it was seen.
    last_data: (Side, Nanos),
}

/// A conversation between `client` and `server` whose SYN is seen at
/// `at`, as an activity.
pub fn start(
    client: TcpEnd,
    server: TcpEnd,
    rate: u64,
    script: Box<dyn Script>,
    origin: Origin,
    at: Nanos,
    rng: &mut SimRng,
) -> Box<dyn Activity> {
    let mut own_rng = child(rng);
    let conn = TcpConnection::new(client, server, rate, &mut own_rng);
    Box::new(Planned::new(Conversation::new(conn, script, own_rng, origin, at)))
}

impl Conversation {
    /// A conversation whose SYN is seen at `at`.
    pub fn new(conn: TcpConnection, script: Box<dyn Script>, rng: SimRng, origin: Origin, at: Nanos) -> Self {
        Self {
            conn,
            script,
            rng,
            origin,
            stage: Stage::Open,
            next_start: Some(at),
            steps: VecDeque::with_capacity(2),
            message: Message::bytes(Vec::new()),
            last_data: (Side::Client, at),
        }
    }

    /// Fetches steps until two are known (or the script ends).
    fn look_ahead(&mut self) {
        while self.steps.len() < 2 {
            match self.script.next_step(&mut self.rng) {
                Some(step) => self.steps.push_back(step),
                None => break,
            }
        }
    }

    /// Moves on to the next step and computes when it starts.
    fn advance(&mut self) {
        self.look_ahead();
        self.next_start = self.steps.front().map(|step| {
            let (last_side, last_seen) = self.last_data;
            if step.actor() == last_side {
                last_seen + step.delay()
            } else {
                self.conn.reaction(step.actor(), last_seen) + step.delay()
            }
        });
        self.stage = if self.next_start.is_some() { Stage::Next } else { Stage::Done };
    }

    /// How the receiver of a message from `from` acknowledges its last
    /// segment, given what the conversation does next.
    fn last_ack(&self, from: Side) -> LastAck {
        match self.steps.front() {
            Some(next) if next.delay() < DELAYED_ACK => match next {
                Step::Send { from: next_from, .. } if *next_from == from => LastAck::Immediate,
                // The reply, or the FIN/RST exchange, acknowledges it.
                _ => LastAck::Carried,
            },
            _ => LastAck::Delayed,
        }
    }

    fn send(&mut self, from: Side, sent: u64, last_ack: LastAck, at: Nanos, plan: &mut Plan<Segment>) {
        let round = self.conn.send_round(from, self.message.len(), sent, at, last_ack, plan);
        if round.sent >= self.message.len() {
            self.last_data = (from, round.last_data);
            self.advance();
        } else {
            self.stage = Stage::Sending { from, sent: round.sent, last_ack };
            self.next_start = Some(round.next_round);
        }
    }
}

impl Planner for Conversation {
    type Item = Segment;

    fn next_start(&self) -> Option<Nanos> {
        self.next_start
    }

    fn plan_next(&mut self, plan: &mut Plan<Segment>) {
        let Some(at) = self.next_start else { return };
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Open => {
                let ready = self.conn.open(at, plan);
                self.last_data = (Side::Client, ready);
                self.advance();
            }
            Stage::Sending { from, sent, last_ack } => self.send(from, sent, last_ack, at, plan),
            Stage::Next => match self.steps.pop_front() {
                Some(Step::Send { from, message, .. }) if !message.is_empty() => {
                    self.look_ahead();
                    let last_ack = self.last_ack(from);
                    self.message = message;
                    self.send(from, 0, last_ack, at, plan);
                }
                Some(Step::Send { .. }) => self.advance(),
                Some(Step::Close { by, .. }) => {
                    self.conn.close(by, at, plan);
                    self.next_start = None;
                }
                Some(Step::Reset { by, .. }) => {
                    self.conn.reset(by, at, plan);
                    self.next_start = None;
                }
                None => self.next_start = None,
            },
            Stage::Done => self.next_start = None,
        }
    }

    fn emit(&mut self, time: Nanos, segment: Segment, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
        let header = self.conn.header(&segment);
        let payload = match segment.payload {
            Some((offset, len)) => self.message.segment(offset, usize::from(len), &ctx.world.filler, ctx.scratch),
            None => &[],
        };
        ctx.out.emit(self.origin, time, &header, payload)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::simulate::{
        frame::{Endpoint, flags},
        payload::Body,
        rng::{Stream, stream},
        tcp::TcpEnd,
        units::{MICROS, MILLIS},
    };

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

    /// Every segment the conversation plans, in time order.
    fn segments(steps: Vec<Step>) -> Vec<(Nanos, Segment)> {
        let mut rng = stream(1, Stream::Population);
        let conn = TcpConnection::new(end(1, 40_000, 200 * MICROS), end(2, 80, 30 * MILLIS), 5_000_000, &mut rng);
        let script: VecDeque<Step> = steps.into();
        let mut conversation = Conversation::new(conn, Box::new(script), rng, Origin::Benign, 0);
        let mut plan = Plan::default();
        while conversation.next_start().is_some() {
            conversation.plan_next(&mut plan);
        }
        std::iter::from_fn(|| plan.pop()).collect()
    }

    fn send(from: Side, think: Nanos, len: u64) -> Step {
        let mut rng = stream(2, Stream::Population);
        Step::Send { from, think, message: Message::with_body(Vec::new(), Body::Opaque(len), &mut rng) }
    }

    #[test]
    fn request_response_and_close_keep_sequence_numbers_consistent() {
        let planned = segments(vec![
            send(Side::Client, MILLIS, 300),
            send(Side::Server, 5 * MILLIS, 3000),
            Step::Close { by: Side::Server, after: MILLIS },
        ]);
        let flags_of: Vec<(Side, u8)> = planned.iter().map(|(_, s)| (s.from, s.flags)).collect();
        use Side::{Client, Server};
        const A: u8 = flags::ACK;
        assert_eq!(
            flags_of,
            [
                (Client, flags::SYN),
                (Server, flags::SYN | A),
                (Client, A),
                (Client, A | flags::PSH), // request; the response carries its ACK
                (Server, A),
                (Server, A),
                (Client, A), // ACK of the first two response segments
                (Server, A | flags::PSH),
                // The server's FIN comes before the client's delayed ACK of the
                // third segment would, so the client's FIN carries that ACK.
                (Server, flags::FIN | A),
                (Client, flags::FIN | A),
                (Server, A),
            ]
        );
        // Each side's ACK numbers never go back, and acknowledge what the other sent.
        for side in [Client, Server] {
            let acks: Vec<u32> =
                planned.iter().filter(|(_, s)| s.from == side && s.flags & A != 0).map(|(_, s)| s.ack).collect();
            assert!(acks.windows(2).all(|w| w[1].wrapping_sub(w[0]) < 1 << 31), "{side:?}: {acks:?}");
        }
        let request = planned[3].1;
        assert_eq!(planned[4].1.ack, request.seq.wrapping_add(300));
        assert!(planned.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn a_lone_last_segment_gets_a_delayed_ack_when_nothing_follows_soon() {
        let planned =
            segments(vec![send(Side::Client, MILLIS, 100), Step::Close { by: Side::Client, after: 2_000 * MILLIS }]);
        let (data_at, data) = planned[3];
        let (ack_at, ack) = planned[4];
        assert_eq!((ack.from, ack.flags, ack.ack), (Side::Server, flags::ACK, data.seq.wrapping_add(100)));
        // Server round trip (30 ms) + reaction (30 µs) + delayed ACK (40 ms).
        assert_eq!(ack_at - data_at, 30 * MILLIS + 30 * MICROS + DELAYED_ACK);
        assert_eq!(planned[5].1.flags, flags::FIN | flags::ACK);
    }
}
