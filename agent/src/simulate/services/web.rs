//! A web client's conversation over HTTP or HTTPS: request/response
//! exchanges with think times, then a close. Benign browsing, the C2
//! beacon, the exfiltration upload and the rare-country visits all use it,
//! with different exchanges.

use std::collections::VecDeque;

use super::{http, tls};
use crate::simulate::{
    conversation::{Script, Step},
    dist::LogNormal,
    payload::{Body, Message},
    rng::SimRng,
    tcp::Side,
    units::{MILLIS, Nanos, secs_f64},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Https,
}

impl Protocol {
    pub fn port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// One request and its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Request size (HTTP head, or TLS application data).
    pub request: u64,
    /// Request body (uploads); 0 for none.
    pub upload: u64,
    pub response: u64,
    /// Client think time before the request (after the previous response).
    pub think: Nanos,
}

/// Server-side time to produce a response (application and backend).
const SERVER_TIME: LogNormal = LogNormal::new(0.015, 1.0, 0.001, 2.0);
/// The encrypted part of the server's first flight: certificates and Finished.
const SERVER_HANDSHAKE: LogNormal = LogNormal::new(3_500.0, 0.3, 1_500.0, 9_000.0);
/// AEAD overhead of the client's encrypted Finished (32-byte verify data).
const CLIENT_FINISHED: usize = 5 + 32 + 1 + 16;

enum Next {
    ClientHello,
    ServerHello,
    Request { first: bool },
    Response(Exchange),
    Done,
}

pub struct WebScript {
    protocol: Protocol,
    host: String,
    exchanges: VecDeque<Exchange>,
    close: Step,
    next: Next,
}

impl WebScript {
    /// `close` ends the conversation after the last exchange.
    pub fn new(protocol: Protocol, host: String, exchanges: Vec<Exchange>, close: Step) -> Self {
        let next = match protocol {
            Protocol::Https => Next::ClientHello,
            Protocol::Http => Next::Request { first: true },
        };
        Self { protocol, host, exchanges: exchanges.into(), close, next }
    }

    fn request(&self, exchange: &Exchange, first: bool, rng: &mut SimRng) -> Message {
        match self.protocol {
            Protocol::Http => {
                let head = http::request(&self.host, exchange.request, exchange.upload, rng);
                Message::with_body(head, Body::Opaque(exchange.upload), rng)
            }
            Protocol::Https => {
                // The first request follows the client's change_cipher_spec and Finished.
                let head = if first {
                    let mut head = tls::change_cipher_spec();
                    let mut finished = vec![0x17, 0x03, 0x03, 0x00, (CLIENT_FINISHED - 5) as u8];
                    finished.resize(CLIENT_FINISHED, 0);
                    rand::Rng::fill_bytes(rng, &mut finished[5..]);
                    head.extend_from_slice(&finished);
                    head
                } else {
                    Vec::new()
                };
                Message::with_body(head, Body::TlsRecords(exchange.request + exchange.upload), rng)
            }
        }
    }

    fn response(&self, exchange: &Exchange, rng: &mut SimRng) -> Message {
        match self.protocol {
            Protocol::Http => {
                let head = http::response_head(exchange.response, "application/octet-stream");
                Message::with_body(head, Body::Opaque(exchange.response), rng)
            }
            Protocol::Https => Message::with_body(Vec::new(), Body::TlsRecords(exchange.response), rng),
        }
    }
}

impl Script for WebScript {
    fn next_step(&mut self, rng: &mut SimRng) -> Option<Step> {
        let (step, next) = match std::mem::replace(&mut self.next, Next::Done) {
            Next::ClientHello => {
                let message = Message::bytes(tls::client_hello(&self.host, rng));
                (Step::Send { from: Side::Client, think: MILLIS, message }, Next::ServerHello)
            }
            Next::ServerHello => {
                let body = Body::TlsRecords(SERVER_HANDSHAKE.sample_u64(rng));
                let message = Message::with_body(tls::server_hello(rng), body, rng);
                (Step::Send { from: Side::Server, think: 2 * MILLIS, message }, Next::Request { first: true })
            }
            Next::Request { first } => match self.exchanges.pop_front() {
                Some(exchange) => {
                    let think = if first { MILLIS } else { exchange.think };
                    let message = self.request(&exchange, first, rng);
                    (Step::Send { from: Side::Client, think, message }, Next::Response(exchange))
                }
                None => (self.close.clone(), Next::Done),
            },
            Next::Response(exchange) => {
                let message = self.response(&exchange, rng);
                let think = secs_f64(SERVER_TIME.sample(rng));
                (Step::Send { from: Side::Server, think, message }, Next::Request { first: false })
            }
            Next::Done => return None,
        };
        self.next = next;
        Some(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{Stream, stream};

    fn sides_and_lengths(script: &mut WebScript) -> Vec<(Side, u64)> {
        let mut rng = stream(1, Stream::Population);
        std::iter::from_fn(|| script.next_step(&mut rng))
            .filter_map(|step| match step {
                Step::Send { from, message, .. } => Some((from, message.len())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn https_exchanges_follow_the_handshake() {
        let exchanges = vec![
            Exchange { request: 500, upload: 0, response: 20_000, think: 0 },
            Exchange { request: 300, upload: 0, response: 100, think: 0 },
        ];
        let close = Step::Close { by: Side::Client, after: MILLIS };
        let mut script = WebScript::new(Protocol::Https, "www.example.com".into(), exchanges, close);
        let steps = sides_and_lengths(&mut script);
        let sides: Vec<Side> = steps.iter().map(|(side, _)| *side).collect();
        use Side::{Client, Server};
        assert_eq!(sides, [Client, Server, Client, Server, Client, Server]);
        assert_eq!(steps[0].1, 512);
        // CCS 6 + Finished 54 + one record of 500 (+5 header).
        assert_eq!(steps[2].1, 6 + 54 + 505);
        // 20,000 bytes of ciphertext in two records.
        assert_eq!(steps[3].1, 20_010);
        assert_eq!(steps[5].1, 105);
    }

    #[test]
    fn http_session_is_request_response_then_close() {
        let exchanges = vec![Exchange { request: 400, upload: 1000, response: 5_000, think: 0 }];
        let close = Step::Close { by: Side::Server, after: MILLIS };
        let mut script = WebScript::new(Protocol::Http, "news.example.org".into(), exchanges, close.clone());
        let mut rng = stream(1, Stream::Population);
        let Some(Step::Send { from: Side::Client, message, .. }) = script.next_step(&mut rng) else {
            panic!("the client speaks first")
        };
        assert_eq!(message.len(), 1400);
        assert!(matches!(script.next_step(&mut rng), Some(Step::Send { from: Side::Server, .. })));
        assert_eq!(script.next_step(&mut rng), Some(close));
        assert_eq!(script.next_step(&mut rng), None);
    }
}
