//! Shared by the P2P channel tests: three D-TAs with P2P master shares, device keys and
//! permits from them, configs on a fixed clock, and an in-memory pump of two sans-IO
//! connections (jobs run inline, so pairings count on the test's thread).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{Handshake, MpinError, Status};
use milagro_tls::p2p::{
    P2pClientConfig, P2pClientConnection, P2pServerConfig, P2pServerConnection, PREFACE,
};
use mpin_kex::wcc::*;
use mpin_kex::HashedId;
use rand_core::OsRng;

pub const ALICE: &[u8] = b"device:alice";
pub const BOB: &[u8] = b"device:bob";
pub const CAROL: &[u8] = b"device:carol";
/// The permit day of the tests and a time two hours into it (past the grace hour).
pub const DAY: u32 = 20_400;
pub const NOW: u64 = DAY as u64 * 86_400 + 7_200;

pub struct Dtas(pub Vec<P2pMasterShare>);

impl Dtas {
    pub fn new() -> Self {
        Self(
            (0..3)
                .map(|_| P2pMasterShare::generate(&mut OsRng))
                .collect(),
        )
    }

    /// A sender key for `id` from the first `shares` D-TAs.
    pub fn sender_key(&self, id: &[u8], shares: usize) -> SenderKey {
        let h = HashedId::of(id);
        let s: Vec<_> = self.0[..shares]
            .iter()
            .map(|d| d.sender_key_share(&h))
            .collect();
        SenderKey::combine(&s).unwrap()
    }

    pub fn sender_permit(&self, id: &[u8], day: u32) -> SenderPermit {
        let h = HashedId::of(id);
        let s: Vec<_> = self
            .0
            .iter()
            .map(|d| d.sender_permit_share(&h, day).unwrap())
            .collect();
        SenderPermit::combine(&s).unwrap()
    }

    /// A responder for `id` with the permit of `day` (none for `None`), requiring permits
    /// when it has one.
    pub fn responder(&self, id: &[u8], day: Option<u32>) -> Arc<Responder> {
        let h = HashedId::of(id);
        let k: Vec<_> = self.0.iter().map(|d| d.receiver_key_share(&h)).collect();
        let r = Responder::new(id, &ReceiverKey::combine(&k).unwrap()).unwrap();
        let r = match day {
            Some(day) => {
                let p: Vec<_> = self
                    .0
                    .iter()
                    .map(|d| d.receiver_permit_share(&h, day).unwrap())
                    .collect();
                r.with_permits(&[ReceiverPermit::combine(&p).unwrap()], true)
                    .unwrap()
            }
            None => r,
        };
        Arc::new(r)
    }

    /// `identity` dialling `peer` with a whole key and the permit of [`DAY`].
    pub fn client(&self, identity: &[u8], peer: &[u8]) -> P2pClientConfig {
        let key = self.sender_key(identity, self.0.len());
        let mut c =
            P2pClientConfig::new(identity, key, Some(self.sender_permit(identity, DAY)), peer);
        c.options.clock = Arc::new(|| NOW);
        c
    }

    /// `id` accepting devices with the permit of [`DAY`], on the test clock.
    pub fn server(&self, id: &[u8]) -> P2pServerConfig {
        let mut s = P2pServerConfig::new(self.responder(id, Some(DAY)));
        s.options.clock = Arc::new(|| NOW);
        s
    }
}

/// Runs `conn` as far as it goes without input, jobs inline: `Ok(true)` once established.
pub fn settle(conn: &mut dyn Handshake) -> Result<bool, MpinError> {
    for _ in 0..8 {
        match conn.process()? {
            Status::NeedInput => return Ok(false),
            Status::Established => return Ok(true),
            Status::Compute(job) => conn.complete(job.run())?,
            Status::RetryAfter(_) => {}
        }
    }
    panic!("connection did not settle in 8 steps");
}

/// Where the bytes go, for a tampering hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// Pumps bytes between the two until both are established or one fails (bounded), passing
/// every chunk through `tamper`. Returns each side's outcome (`Ok(false)`: stalled).
pub fn pump(
    client: &mut dyn Handshake,
    server: &mut dyn Handshake,
    mut tamper: impl FnMut(Dir, Vec<u8>) -> Vec<u8>,
) -> (Result<bool, MpinError>, Result<bool, MpinError>) {
    let (mut c, mut s): (Result<bool, MpinError>, Result<bool, MpinError>) = (Ok(false), Ok(false));
    for _ in 0..12 {
        let mut moved = false;
        if matches!(c, Ok(false)) {
            c = settle(client);
        }
        let out = client.take_output();
        if !out.is_empty() && matches!(s, Ok(false)) {
            server.read_input(&tamper(Dir::ToServer, out));
            moved = true;
        }
        if matches!(s, Ok(false)) {
            s = settle(server);
        }
        let out = server.take_output();
        if !out.is_empty() && matches!(c, Ok(false)) {
            client.read_input(&tamper(Dir::ToClient, out));
            moved = true;
        }
        if !matches!(c, Ok(false)) && !matches!(s, Ok(false)) || !moved {
            break;
        }
    }
    (c, s)
}

/// A fresh initiator and responder connection.
pub fn conns(
    client: P2pClientConfig,
    server: P2pServerConfig,
) -> (P2pClientConnection, P2pServerConnection) {
    (
        P2pClientConnection::new(Arc::new(client)).unwrap(),
        P2pServerConnection::new(Arc::new(server), None),
    )
}

/// Splits the initiator's first flight into the preface and the HELLO body.
pub fn hello_of(bytes: &[u8]) -> P2pHello {
    assert_eq!(&bytes[..5], &PREFACE);
    P2pHello::decode(&bytes[9..]).unwrap()
}

pub fn with_hello(hello: &P2pHello) -> Vec<u8> {
    let mut v = PREFACE.to_vec();
    v.extend_from_slice(&frame::encode(FrameType::P2pHello, &hello.encode()));
    v
}

pub fn reply_of(bytes: &[u8]) -> P2pReply {
    assert_eq!(bytes[0], FrameType::P2pReply as u8);
    P2pReply::decode(&bytes[4..]).unwrap()
}

pub fn with_reply(reply: &P2pReply) -> Vec<u8> {
    frame::encode(FrameType::P2pReply, &reply.encode())
}
