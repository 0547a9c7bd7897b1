//! A protocol the host never used: an IRC session (TCP 6667) to an outside
//! server, as IRC-controlled bots keep one: registration, the server's
//! welcome and MOTD, a channel join, then PING/PONG keep-alives and the
//! occasional command in the channel, until the bot quits.

use std::net::Ipv4Addr;

use rand::RngExt as _;

use super::{Window, outside};
use crate::simulate::{
    activity::Activity,
    addresses::IRC_SERVER,
    conversation::{self, Script, Step},
    dist::exponential,
    output::Origin,
    payload::Message,
    population::Host,
    rng::SimRng,
    tcp::Side,
    units::{MILLIS, Nanos, SECS},
};

const PORT: u16 = 6667;
const SERVER: &str = "irc.chat.example";
const CHANNEL: &str = "#upd8";
const PING_EVERY: Nanos = 90 * SECS;
const COMMAND_GAP: Nanos = 25 * SECS;
const SESSION: Nanos = 120 * SECS;
const COMMANDS: [&str; 4] = ["!status", "!ver", "!get http://files.example.net/u.bin", "!sleep 300"];

enum Phase {
    Register,
    Welcome,
    Join,
    Joined,
    Idle,
    /// The bot answers the command just received.
    Answer,
    Pong,
    Goodbye,
    Close,
    Done,
}

struct IrcScript {
    nick: String,
    phase: Phase,
    /// Capture time the script has reached (think times since the start).
    clock: Nanos,
    next_ping: Nanos,
    next_command: Nanos,
    until: Nanos,
}

fn text(from: Side, think: Nanos, lines: String) -> Step {
    Step::Send { from, think, message: Message::bytes(lines.into_bytes()) }
}

impl IrcScript {
    fn welcome(&self) -> String {
        let nick = &self.nick;
        let mut lines = format!(
            ":{SERVER} 001 {nick} :Welcome to the IRC Network {nick}\r\n\
             :{SERVER} 002 {nick} :Your host is {SERVER}, running version UnrealIRCd-6.1.4\r\n\
             :{SERVER} 003 {nick} :This server was created Mon Jan 8 2024 at 12:00:00 UTC\r\n\
             :{SERVER} 004 {nick} {SERVER} UnrealIRCd-6.1.4 iowrsxzdHtIDZRqpWGTSB lvhopsmntikraqbeIzMQNRTOVKDdGLPZSCcf\r\n\
             :{SERVER} 005 {nick} AWAYLEN=307 CASEMAPPING=ascii CHANLIMIT=#:50 CHANMODES=beI,fkL,lH,cdimnprstzCDGKMNOPQRSTVZ :are supported by this server\r\n\
             :{SERVER} 375 {nick} :- {SERVER} Message of the Day -\r\n"
        );
        for line in 0..12 {
            lines.push_str(&format!(
                ":{SERVER} 372 {nick} :- {line:02} Be nice. No flooding. Bots must register with the network staff.\r\n"
            ));
        }
        lines.push_str(&format!(":{SERVER} 376 {nick} :End of /MOTD command.\r\n"));
        lines
    }
}

impl Script for IrcScript {
    fn next_step(&mut self, rng: &mut SimRng) -> Option<Step> {
        let nick = self.nick.clone();
        let (step, next) = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Register => {
                (text(Side::Client, MILLIS, format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n")), Phase::Welcome)
            }
            Phase::Welcome => (text(Side::Server, 5 * MILLIS, self.welcome()), Phase::Join),
            Phase::Join => (text(Side::Client, 300 * MILLIS, format!("JOIN {CHANNEL} k3y\r\n")), Phase::Joined),
            Phase::Joined => {
                let lines = format!(
                    ":{nick}!~{nick}@lan.example JOIN :{CHANNEL}\r\n:{SERVER} 332 {nick} {CHANNEL} :!sleep 600\r\n\
                     :{SERVER} 353 {nick} = {CHANNEL} :{nick} @op\r\n:{SERVER} 366 {nick} {CHANNEL} :End of /NAMES list.\r\n"
                );
                (text(Side::Server, 2 * MILLIS, lines), Phase::Idle)
            }
            Phase::Idle => {
                let next_event = self.next_ping.min(self.next_command);
                if next_event >= self.until {
                    (text(Side::Client, self.until.saturating_sub(self.clock), "QUIT :\r\n".into()), Phase::Goodbye)
                } else if self.next_ping <= self.next_command {
                    let think = self.next_ping.saturating_sub(self.clock);
                    self.next_ping += PING_EVERY;
                    (text(Side::Server, think, format!("PING :{SERVER}\r\n")), Phase::Pong)
                } else {
                    let think = self.next_command.saturating_sub(self.clock);
                    self.next_command += exponential(rng, COMMAND_GAP).max(SECS);
                    let command = COMMANDS[rng.random_range(0..COMMANDS.len())];
                    (
                        text(Side::Server, think, format!(":op!~op@c2.example PRIVMSG {CHANNEL} :{command}\r\n")),
                        Phase::Answer,
                    )
                }
            }
            Phase::Answer => {
                let reply = format!("PRIVMSG {CHANNEL} :ok {}\r\n", rng.random_range(1000..9999));
                (text(Side::Client, 150 * MILLIS, reply), Phase::Idle)
            }
            Phase::Pong => (text(Side::Client, MILLIS, format!("PONG :{SERVER}\r\n")), Phase::Idle),
            Phase::Goodbye => (
                text(Side::Server, MILLIS, format!("ERROR :Closing Link: {nick}[lan.example] (Quit: )\r\n")),
                Phase::Close,
            ),
            Phase::Close => (Step::Close { by: Side::Server, after: MILLIS }, Phase::Done),
            Phase::Done => return None,
        };
        if let Step::Send { think, .. } = &step {
            self.clock += think;
        }
        self.phase = next;
        Some(step)
    }
}

pub fn start(window: Window, host: &Host, origin: Origin, mut rng: SimRng) -> (Ipv4Addr, Box<dyn Activity>) {
    let server = outside::server(IRC_SERVER, 49, 18, 1_000_000);
    let client = outside::VictimPorts::new(*host, &mut rng).next_end();
    let start = window.start;
    let script = IrcScript {
        nick: format!("bot{}", rng.random_range(1000..9999)),
        phase: Phase::Register,
        clock: start,
        next_ping: start + PING_EVERY,
        next_command: start + exponential(&mut rng, COMMAND_GAP).max(SECS),
        until: start + SESSION.min(window.active()),
    };
    let activity =
        conversation::start(client, server.tcp_end(PORT), server.rate, Box::new(script), origin, start, &mut rng);
    (IRC_SERVER, activity)
}
