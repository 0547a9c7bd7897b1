//! SSH as a capture sees it: version banners, the cleartext key exchange
//! (KEXINIT, curve25519 ECDH, NEWKEYS) framed as RFC 4253 binary packets,
//! then ciphertext only: authentication, and either an interactive shell
//! (one small packet per keystroke, echoed, command output in bursts) or a
//! bulk transfer (git fetch).

use rand::Rng as _;

use crate::simulate::{
    conversation::{Script, Step},
    dist::LogNormal,
    payload::{Body, Message},
    rng::SimRng,
    tcp::Side,
    units::{MILLIS, Nanos, secs_f64},
};

pub const PORT: u16 = 22;
const CLIENT_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n";
const SERVER_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
const KEXINIT: u8 = 20;
const NEWKEYS: u8 = 21;
const KEX_ECDH_INIT: u8 = 30;
const KEX_ECDH_REPLY: u8 = 31;
/// One keystroke (or its echo) under chacha20-poly1305: 4-byte length,
/// padding length, the channel-data message, padding, 16-byte tag.
const KEYSTROKE: u64 = 36;

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn random_vec(rng: &mut SimRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// An unencrypted binary packet: length, padding length, payload, and
/// random padding (at least 4 bytes) to a multiple of 8.
fn packet(payload: &[u8], rng: &mut SimRng) -> Vec<u8> {
    let unpadded = 4 + 1 + payload.len();
    let padding = 4 + (8 - (unpadded + 4) % 8) % 8;
    let mut out = Vec::with_capacity(unpadded + padding);
    out.extend_from_slice(&((1 + payload.len() + padding) as u32).to_be_bytes());
    out.push(padding as u8);
    out.extend_from_slice(payload);
    out.extend_from_slice(&random_vec(rng, padding));
    out
}

/// Key exchange methods; both sides list curve25519 first, so that is what
/// they agree on (and what the ECDH messages below are shaped for).
const CLIENT_KEX: &[u8] = b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
const SERVER_KEX: &[u8] = b"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com";

fn kexinit(kex: &[u8], rng: &mut SimRng) -> Vec<u8> {
    let mut payload = vec![KEXINIT];
    payload.extend_from_slice(&random_vec(rng, 16));
    let lists: [&[u8]; 10] = [
        kex,
        b"ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
        b"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        b"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com",
        b"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com",
        b"none,zlib@openssh.com",
        b"none,zlib@openssh.com",
        b"",
        b"",
    ];
    for list in lists {
        put_string(&mut payload, list);
    }
    payload.push(0); // first_kex_packet_follows
    payload.extend_from_slice(&[0; 4]);
    packet(&payload, rng)
}

fn ecdh_init(rng: &mut SimRng) -> Vec<u8> {
    let mut payload = vec![KEX_ECDH_INIT];
    put_string(&mut payload, &random_vec(rng, 32));
    packet(&payload, rng)
}

/// The server's ECDH reply (ed25519 host key and signature) and NEWKEYS.
fn ecdh_reply_and_newkeys(rng: &mut SimRng) -> Vec<u8> {
    let mut host_key = Vec::new();
    put_string(&mut host_key, b"ssh-ed25519");
    put_string(&mut host_key, &random_vec(rng, 32));
    let mut signature = Vec::new();
    put_string(&mut signature, b"ssh-ed25519");
    put_string(&mut signature, &random_vec(rng, 64));
    let mut payload = vec![KEX_ECDH_REPLY];
    put_string(&mut payload, &host_key);
    put_string(&mut payload, &random_vec(rng, 32));
    put_string(&mut payload, &signature);
    let mut out = packet(&payload, rng);
    out.extend_from_slice(&packet(&[NEWKEYS], rng));
    out
}

/// What happens after authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// A shell used until this time, then `exit`.
    Interactive { until: Nanos },
    /// One command whose output is this many bytes (a git fetch).
    Transfer { bytes: u64 },
}

/// Cleartext handshake and encrypted authentication, as (sender, message).
fn opening(rng: &mut SimRng) -> Vec<(Side, Message)> {
    use Side::{Client, Server};
    let mut steps = vec![
        (Server, Message::bytes(SERVER_BANNER.to_vec())),
        (Client, Message::bytes(CLIENT_BANNER.to_vec())),
        (Client, Message::bytes(kexinit(CLIENT_KEX, rng))),
        (Server, Message::bytes(kexinit(SERVER_KEX, rng))),
        (Client, Message::bytes(ecdh_init(rng))),
        (Server, Message::bytes(ecdh_reply_and_newkeys(rng))),
    ];
    // NEWKEYS + service request, then user authentication with a key,
    // channel open and shell request: sizes as OpenSSH sends them.
    let mut client_newkeys = packet(&[NEWKEYS], rng);
    client_newkeys.extend_from_slice(&random_vec(rng, 60));
    steps.push((Client, Message::bytes(client_newkeys)));
    for (side, len) in
        [(Server, 60), (Client, 620), (Server, 380), (Client, 780), (Server, 44), (Client, 120), (Server, 60)]
    {
        steps.push((side, Message::with_body(Vec::new(), Body::Opaque(len), rng)));
    }
    steps
}

enum Phase {
    Opening(std::vec::IntoIter<(Side, Message)>),
    /// Typing a command: keystrokes left, whether the last one awaits its
    /// echo, and whether the first has been typed (it follows a pause).
    Typing {
        keys_left: u32,
        echo_due: bool,
        started: bool,
    },
    Output,
    Transfer {
        bytes: u64,
        requested: bool,
    },
    Close,
    Done,
}

/// Typing: keys per command and the gap between keys; output size; the
/// pause before the next command.
const COMMAND_KEYS: LogNormal = LogNormal::new(12.0, 0.6, 2.0, 80.0);
const KEY_GAP: LogNormal = LogNormal::new(0.16, 0.5, 0.04, 2.0);
const OUTPUT: LogNormal = LogNormal::new(600.0, 1.8, 40.0, 400_000.0);
const PAUSE: LogNormal = LogNormal::new(4.0, 1.0, 0.3, 120.0);

pub struct SshScript {
    session: Session,
    phase: Phase,
    /// Time the session has reached by the script's own think times (a
    /// lower bound of capture time, good enough to end a shell).
    clock: Nanos,
}

impl SshScript {
    /// A session whose SYN is at `start`.
    pub fn new(session: Session, start: Nanos, rng: &mut SimRng) -> Self {
        Self { session, phase: Phase::Opening(opening(rng).into_iter()), clock: start }
    }

    fn after_opening(&self) -> Phase {
        match self.session {
            Session::Interactive { .. } => Phase::Output,
            Session::Transfer { bytes } => Phase::Transfer { bytes, requested: false },
        }
    }

    fn opaque(side: Side, think: Nanos, len: u64, rng: &mut SimRng) -> Step {
        Step::Send { from: side, think, message: Message::with_body(Vec::new(), Body::Opaque(len), rng) }
    }
}

impl Script for SshScript {
    fn next_step(&mut self, rng: &mut SimRng) -> Option<Step> {
        loop {
            let step = match &mut self.phase {
                Phase::Opening(steps) => match steps.next() {
                    Some((from, message)) => Step::Send { from, think: MILLIS, message },
                    None => {
                        self.phase = self.after_opening();
                        continue;
                    }
                },
                Phase::Output => {
                    // Command output (or the login banner), then the next command.
                    let step = Self::opaque(Side::Server, 2 * MILLIS, OUTPUT.sample_u64(rng).next_multiple_of(4), rng);
                    let interactive_until = match self.session {
                        Session::Interactive { until } => until,
                        Session::Transfer { .. } => 0,
                    };
                    self.phase = if self.clock >= interactive_until {
                        Phase::Close
                    } else {
                        Phase::Typing { keys_left: COMMAND_KEYS.sample(rng) as u32, echo_due: false, started: false }
                    };
                    step
                }
                Phase::Typing { keys_left, echo_due, started } => {
                    if *echo_due {
                        *echo_due = false;
                        if *keys_left == 0 {
                            self.phase = Phase::Output;
                        }
                        Self::opaque(Side::Server, 0, KEYSTROKE, rng)
                    } else {
                        let gap = if *started { KEY_GAP } else { PAUSE };
                        *started = true;
                        *keys_left = keys_left.saturating_sub(1);
                        *echo_due = true;
                        Self::opaque(Side::Client, secs_f64(gap.sample(rng)), KEYSTROKE, rng)
                    }
                }
                Phase::Transfer { bytes, requested } => {
                    if *requested {
                        let step = Self::opaque(Side::Server, 20 * MILLIS, *bytes, rng);
                        self.phase = Phase::Close;
                        step
                    } else {
                        *requested = true;
                        Self::opaque(Side::Client, MILLIS, 180, rng)
                    }
                }
                Phase::Close => {
                    self.phase = Phase::Done;
                    // The shell exits and the server closes the connection.
                    Step::Close { by: Side::Server, after: 5 * MILLIS }
                }
                Phase::Done => return None,
            };
            if let Step::Send { think, .. } = &step {
                self.clock += think;
            }
            return Some(step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::{
        rng::{Stream, stream},
        units::SECS,
    };

    #[test]
    fn cleartext_packets_are_framed_to_eight_bytes() {
        let mut rng = stream(1, Stream::Population);
        for payload_len in 0..40 {
            let framed = packet(&vec![7; payload_len], &mut rng);
            assert_eq!(framed.len() % 8, 0);
            let length = u32::from_be_bytes([framed[0], framed[1], framed[2], framed[3]]) as usize;
            assert_eq!(length + 4, framed.len());
            assert!(framed[4] >= 4);
        }
    }

    #[test]
    fn interactive_session_types_echoes_and_ends_with_the_server_closing() {
        let mut rng = stream(3, Stream::Population);
        let mut script = SshScript::new(Session::Interactive { until: 60 * SECS }, 0, &mut rng);
        let steps: Vec<Step> = std::iter::from_fn(|| script.next_step(&mut rng)).collect();
        let Some(Step::Send { message, .. }) = steps.first() else { panic!("no banner") };
        assert_eq!(message.head, SERVER_BANNER);
        let keystrokes = steps
            .iter()
            .filter(|s| matches!(s, Step::Send { from: Side::Client, message, .. } if message.len() == KEYSTROKE))
            .count();
        let echoes = steps
            .iter()
            .filter(|s| matches!(s, Step::Send { from: Side::Server, message, .. } if message.len() == KEYSTROKE))
            .count();
        assert!(keystrokes >= 20, "{keystrokes}");
        assert_eq!(keystrokes, echoes);
        assert_eq!(steps.last(), Some(&Step::Close { by: Side::Server, after: 5 * MILLIS }));
    }
}
