//! In-memory client ↔ server tests of the sans-IO core, by concern; the shared pump and
//! connection helpers are in `support`.

mod client_hello;
mod handshake;
mod key_update;
mod psk;
mod records;
mod server_hello;
mod support;

pub(crate) use support::*;
