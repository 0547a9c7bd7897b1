//! The shape of benign web use: how many requests a connection carries,
//! their sizes and the pauses between them, and how it closes.

use rand::RngExt as _;

use crate::simulate::{
    conversation::Step, dist::LogNormal, rng::SimRng, services::web::Exchange, tcp::Side, units::secs_f64,
};

const REQUEST: LogNormal = LogNormal::new(450.0, 0.5, 150.0, 4_000.0);
const UPLOAD: LogNormal = LogNormal::new(40_000.0, 1.2, 1_000.0, 20.0e6);
const THINK: LogNormal = LogNormal::new(1.2, 1.2, 0.02, 60.0);
/// Browsers close an idle connection after a while; servers after their keep-alive timeout.
const CLIENT_IDLE: LogNormal = LogNormal::new(4.0, 1.0, 0.1, 120.0);
const SERVER_KEEPALIVE: LogNormal = LogNormal::new(15.0, 0.6, 2.0, 75.0);

/// Response sizes of public sites and of the intranet's lighter pages.
pub const SITE_RESPONSE: LogNormal = LogNormal::new(12_000.0, 1.8, 200.0, 30.0e6);
pub const INTRANET_RESPONSE: LogNormal = LogNormal::new(6_000.0, 1.4, 200.0, 5.0e6);

/// Exchanges of one connection: 1 plus a geometric number more, at most 12.
pub fn exchanges(response: LogNormal, rng: &mut SimRng) -> Vec<Exchange> {
    let mut exchanges = Vec::new();
    loop {
        let upload = if rng.random_bool(0.04) { UPLOAD.sample_u64(rng) } else { 0 };
        exchanges.push(Exchange {
            request: REQUEST.sample_u64(rng),
            upload,
            response: response.sample_u64(rng),
            think: secs_f64(THINK.sample(rng)),
        });
        if exchanges.len() >= 12 || rng.random_bool(0.45) {
            return exchanges;
        }
    }
}

/// How a connection ends: mostly an orderly close by either side, now and
/// then an abort (a tab closed mid-page).
pub fn close(rng: &mut SimRng) -> Step {
    let roll: f64 = rng.random();
    if roll < 0.05 {
        Step::Reset { by: Side::Client, after: secs_f64(CLIENT_IDLE.sample(rng)) }
    } else if roll < 0.6 {
        Step::Close { by: Side::Client, after: secs_f64(CLIENT_IDLE.sample(rng)) }
    } else {
        Step::Close { by: Side::Server, after: secs_f64(SERVER_KEEPALIVE.sample(rng)) }
    }
}
