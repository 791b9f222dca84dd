//! The sans-IO listener connection of the P2P channel, no sockets, no runtime: fuzz bytes are
//! fed to a `P2pServerConnection` (P2P responder `device:bob` without permits, the M-Pin
//! server and static PSK of `src/lib.rs` on the same listener) in chunks, its jobs run inline.
//! First byte: bit 0 = first run a genuine P2P initiator (`device:alice`) against it for
//! `byte >> 1` rounds, so the fuzzed chunks land in the later states (REPLY sent, TLS after
//! the exchange); then `be16(n) ‖ chunk[n]` repeated. Nothing may panic, every step is
//! bounded, and no `MpinError::Internal` may come out (each job output is fed back once).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use milagro_tls::p2p::{
    P2pClientConfig, P2pClientConnection, P2pServerConfig, P2pServerConnection,
};
use milagro_tls_fuzz::{feed_chunks, pump, server_config};
use mpin_kex::wcc::{P2pMasterShare, ReceiverKey, Responder, SenderKey};
use mpin_kex::HashedId;
use mpin_kex_fuzz::wcc::{ALICE, BOB};
use mpin_kex_fuzz::NOW;

fn share() -> P2pMasterShare {
    let mut b = P2pMasterShare::PREFIX.to_vec();
    b.extend_from_slice(&[0u8; 16]);
    b.extend_from_slice(&[0x5a; 32]);
    P2pMasterShare::from_bytes(&b).unwrap_or_else(|e| panic!("fixed share: {e}"))
}

fn config() -> Arc<P2pServerConfig> {
    static C: OnceLock<Arc<P2pServerConfig>> = OnceLock::new();
    C.get_or_init(|| {
        let key = ReceiverKey::combine(&[share().receiver_key_share(&HashedId::of(BOB))])
            .unwrap_or_else(|e| panic!("fixed key: {e}"));
        let responder = Responder::new(BOB, &key).unwrap_or_else(|e| panic!("responder: {e}"));
        let mut c = P2pServerConfig::new(Arc::new(responder));
        c.mpin = Some(server_config());
        c.options.clock = Arc::new(|| NOW);
        Arc::new(c)
    })
    .clone()
}

fn client() -> Option<P2pClientConnection> {
    let key = SenderKey::combine(&[share().sender_key_share(&HashedId::of(ALICE))]).ok()?;
    let mut cfg = P2pClientConfig::new(ALICE, key, None, BOB);
    cfg.options.clock = Arc::new(|| NOW);
    P2pClientConnection::new(Arc::new(cfg)).ok()
}

/// Pumps a genuine initiator against `server` for `rounds` rounds.
fn genuine(server: &mut P2pServerConnection, rounds: u8) -> bool {
    let Some(mut client) = client() else {
        return false;
    };
    pump(&mut client, server, rounds)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut server = P2pServerConnection::new(config(), Some(b"fuzz"));
    if sel & 1 != 0 && !genuine(&mut server, sel >> 1) {
        return;
    }
    feed_chunks(&mut server, rest);
});
