//! The sans-IO M-Pin server connection, no sockets, no runtime: fuzz bytes are fed to a
//! `MpinServerConnection` in chunks and its jobs run inline. First byte: bit 0 = first run a
//! genuine M-Pin client connection against it (bit 1: one-pass) for `byte >> 2` rounds, so
//! the fuzzed chunks land in the later states (challenge sent, TLS after the exchange); then
//! `be16(n) ‖ chunk[n]` repeated. Nothing may panic, every step is bounded, and no
//! `MpinError::Internal` may come out (the driver feeds each job output back once, in order).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use milagro_tls::mpin::{
    Handshake, MpinClientConfig, MpinClientConnection, MpinError, MpinServerConnection, Status,
};
use milagro_tls::TicketCache;
use milagro_tls_fuzz::{credential, server_config, PIN};
use mpin_kex::{Mode, Pin};
use mpin_kex_fuzz::NOW;

/// Most steps per chunk (each job or retry is one).
const MAX_STEPS: usize = 16;

/// Runs `conn` until it needs input; `false` once it failed or is established.
fn drive(conn: &mut impl Handshake) -> bool {
    for _ in 0..MAX_STEPS {
        match conn.process() {
            Ok(Status::NeedInput) => return true,
            Ok(Status::Established) => return false,
            Ok(Status::RetryAfter(_)) => {}
            Ok(Status::Compute(job)) => {
                if let Err(e) = conn.complete(job.run()) {
                    check(&e);
                    return false;
                }
            }
            Err(e) => {
                check(&e);
                return false;
            }
        }
    }
    true
}

fn check(e: &MpinError) {
    if let MpinError::Internal(what) = e {
        panic!("internal error from a well-driven connection: {what}");
    }
}

/// Splits `be16(n) ‖ bytes[n] ‖ rest` (short inputs give what there is).
fn take16(data: &[u8]) -> (&[u8], &[u8]) {
    let [a, b, rest @ ..] = data else {
        return (data, &[]);
    };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    rest.split_at(n)
}

/// Pumps a genuine client against `server` for `rounds` rounds.
fn genuine(server: &mut MpinServerConnection, one_pass: bool, rounds: u8) -> bool {
    let Ok(pin) = Pin::new(PIN) else { return false };
    let mut cfg = MpinClientConfig::new(credential(), pin);
    cfg.options.clock = Arc::new(|| NOW);
    cfg.options.resume = false;
    cfg.mode = if one_pass { Mode::OnePass } else { Mode::MultiPass };
    let Ok(mut client) = MpinClientConnection::new(Arc::new(cfg), Arc::new(TicketCache::new()))
    else {
        return false;
    };
    for _ in 0..rounds.min(8) {
        let client_alive = drive(&mut client);
        server.read_input(&client.take_output());
        if !drive(server) {
            return false;
        }
        client.read_input(&server.take_output());
        if !client_alive {
            break;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let mut server = MpinServerConnection::new(server_config(), Some(b"fuzz"));
    if sel & 1 != 0 && !genuine(&mut server, sel & 2 != 0, sel >> 2) {
        return;
    }
    while !rest.is_empty() {
        let (chunk, tail) = take16(rest);
        rest = tail;
        server.read_input(chunk);
        let alive = drive(&mut server);
        let _ = server.take_output();
        if !alive {
            break;
        }
    }
    let _ = server.read_eof();
    let _ = server.take_output();
});
