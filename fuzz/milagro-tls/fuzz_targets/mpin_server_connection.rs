//! The sans-IO M-Pin server connection, no sockets, no runtime: fuzz bytes are fed to a
//! `MpinServerConnection` in chunks and its jobs run inline. First byte: bit 0 = first run a
//! genuine M-Pin client connection against it (bit 1: one-pass) for `byte >> 2` rounds, so
//! the fuzzed chunks land in the later states (challenge sent, TLS after the exchange); then
//! `be16(n) ‖ chunk[n]` repeated. Nothing may panic, every step is bounded, and no
//! `MpinError::Internal` may come out (the driver feeds each job output back once, in order).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use milagro_tls::mpin::{MpinClientConfig, MpinClientConnection, MpinServerConnection};
use milagro_tls::TicketCache;
use milagro_tls_fuzz::{credential, feed_chunks, pump, server_config, PIN};
use mpin_kex::{Mode, Pin};
use mpin_kex_fuzz::NOW;

/// Pumps a genuine client against `server` for `rounds` rounds.
fn genuine(server: &mut MpinServerConnection, one_pass: bool, rounds: u8) -> bool {
    let Ok(pin) = Pin::new(PIN) else { return false };
    let mut cfg = MpinClientConfig::new(credential(), pin);
    cfg.options.clock = Arc::new(|| NOW);
    cfg.options.resume = false;
    cfg.mode = if one_pass {
        Mode::OnePass
    } else {
        Mode::MultiPass
    };
    let Ok(mut client) = MpinClientConnection::new(Arc::new(cfg), Arc::new(TicketCache::new()))
    else {
        return false;
    };
    pump(&mut client, server, rounds)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut server = MpinServerConnection::new(server_config(), Some(b"fuzz"));
    if sel & 1 != 0 && !genuine(&mut server, sel & 2 != 0, sel >> 2) {
        return;
    }
    feed_chunks(&mut server, rest);
});
