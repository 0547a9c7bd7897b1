//! What applications put on the wire: message builders and conversation
//! scripts per service.

pub mod dns;
pub mod http;
pub mod ntp;
pub mod ssh;
pub mod tls;
pub mod web;
