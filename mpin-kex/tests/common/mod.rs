//! Shared setup: the fixed clock and identity, exchanges through encoded bytes, the bad-point
//! variants of a G1 encoding; the D-TAs and what they issue are `test_support::MpinWorld`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mpin_kex::*;
use rand_core::{OsRng, RngCore};
pub use test_support::MpinWorld;

pub mod points;

/// A fixed clock: 2027-01-15 12:00 UTC.
pub const NOW: u64 = 1_800_000_000 - (1_800_000_000 % 86_400) + 43_200;
pub const ID: &[u8] = b"alice@example.com";

pub fn today() -> u32 {
    policy::day_of(NOW)
}

/// Runs a multi-pass exchange through encoded bytes.
pub fn multi_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    now: u64,
) -> Result<(Session, Session), AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = Server::new(ctx.clone());
    let hello = client.hello(&mut OsRng).unwrap().encode();
    let challenge = server
        .hello(&Hello::decode(&hello)?, now, &mut OsRng)?
        .encode();
    let (response, cs) = client
        .challenge(&Challenge::decode(&challenge).unwrap())
        .unwrap();
    let ss = server.response(&Response::decode(&response.encode())?, now)?;
    Ok((cs, ss))
}

/// Runs a one-pass exchange through encoded bytes.
pub fn one_pass(
    cred: &Credential,
    pin: u32,
    ctx: &ServerContext,
    now: u64,
    msg: &[u8],
) -> Result<(Session, Session), AuthError> {
    let mut client = Client::new(cred, Pin::new(pin).unwrap());
    let mut server = Server::new(ctx.clone());
    let hello = client
        .one_pass_hello(now, msg, &mut OsRng)
        .unwrap()
        .encode();
    let (reply, ss) = server.one_pass(&OnePassHello::decode(&hello)?, now, &mut OsRng)?;
    let cs = client
        .one_pass_reply(&OnePassReply::decode(&reply.encode()).unwrap())
        .unwrap();
    Ok((cs, ss))
}

/// A random `U` (a random multiple of the client's `U`: a valid point unrelated to `x`).
pub fn random_u(u: &[u8; 97]) -> [u8; 97] {
    let mut k = [0u8; 48];
    OsRng.fill_bytes(&mut k[16..]);
    raw::g1_multiple(&k, u).unwrap()
}
