//! Single-SYN probes as scanners and floods send them, and the target's
//! answer: SYN-ACK from an open port (a scanner then resets, as nmap's SYN
//! scan does), RST-ACK from a closed one, or nothing from an absent host.

use rand::RngExt as _;

use crate::simulate::{
    SimError,
    activity::{Ctx, Plan},
    frame::{Endpoint, FrameHeader, SynOptions, TcpFields, Transport, flags},
    output::Origin,
    rng::SimRng,
    units::{MICROS, Nanos},
};

/// Time a stack takes to answer a SYN.
const REACTION: Nanos = 30 * MICROS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Open,
    Closed,
    Silent,
}

/// One end of a probe: where it is and how far from the capture point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeEnd {
    pub endpoint: Endpoint,
    pub port: u16,
    /// Round trip capture point → this end → capture point.
    pub rtt: Nanos,
}

/// A planned probe segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSegment {
    src: ProbeEnd,
    dst: ProbeEnd,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    ip_id: u16,
}

/// Plans a SYN from `prober` to `target` at `at` and the answer. With
/// `prober_resets`, the prober answers a SYN-ACK with RST (a spoofed
/// flood source does not exist and stays silent).
pub fn plan(
    plan: &mut Plan<ProbeSegment>,
    at: Nanos,
    prober: ProbeEnd,
    target: ProbeEnd,
    answer: Answer,
    prober_resets: bool,
    rng: &mut SimRng,
) {
    let isn: u32 = rng.random();
    let window = [1024, 2048, 3072, 4096][rng.random_range(0..4)];
    plan.push(
        at,
        ProbeSegment { src: prober, dst: target, seq: isn, ack: 0, flags: flags::SYN, window, ip_id: rng.random() },
    );
    let answered = at + target.rtt + REACTION;
    let reply = |flags, seq, window| ProbeSegment {
        src: target,
        dst: prober,
        seq,
        ack: isn.wrapping_add(1),
        flags,
        window,
        ip_id: 0,
    };
    match answer {
        Answer::Open => {
            plan.push(answered, reply(flags::SYN | flags::ACK, rng.random(), 64_240));
            if prober_resets {
                let reset = ProbeSegment {
                    src: prober,
                    dst: target,
                    seq: isn.wrapping_add(1),
                    ack: 0,
                    flags: flags::RST,
                    window: 0,
                    ip_id: rng.random(),
                };
                plan.push(answered + prober.rtt + REACTION, reset);
            }
        }
        Answer::Closed => plan.push(answered, reply(flags::RST | flags::ACK, 0, 0)),
        Answer::Silent => {}
    }
}

/// Writes a planned probe segment.
pub fn emit(segment: &ProbeSegment, time: Nanos, origin: Origin, ctx: &mut Ctx<'_, '_>) -> Result<(), SimError> {
    let is_syn = segment.flags & flags::SYN != 0;
    let header = FrameHeader {
        src: segment.src.endpoint,
        dst: segment.dst.endpoint,
        ip_id: segment.ip_id,
        transport: Transport::Tcp(TcpFields {
            src_port: segment.src.port,
            dst_port: segment.dst.port,
            seq: segment.seq,
            ack: segment.ack,
            flags: segment.flags,
            window: segment.window,
            syn_options: is_syn.then_some(SynOptions { mss: 1460, window_scale: 7 }),
        }),
    };
    ctx.out.emit(origin, time, &header, &[])
}
