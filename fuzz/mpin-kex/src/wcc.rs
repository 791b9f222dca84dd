//! Fixed WCC setup for the `wcc` target and its seeds: one P2P master share, Alice's sender
//! key, Bob as a responder.

use std::sync::OnceLock;

use mpin_kex::wcc::{P2pMasterShare, ReceiverKey, Responder, SenderKey};
use mpin_kex::HashedId;

/// The initiator's identity.
pub const ALICE: &[u8] = b"device:alice";
/// The responder's identity.
pub const BOB: &[u8] = b"device:bob";

fn share() -> &'static P2pMasterShare {
    static S: OnceLock<P2pMasterShare> = OnceLock::new();
    S.get_or_init(|| {
        let mut b = P2pMasterShare::PREFIX.to_vec();
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&[0x5a; 32]);
        P2pMasterShare::from_bytes(&b).unwrap_or_else(|e| panic!("fixed share: {e}"))
    })
}

/// Bob, accepting without permits.
pub fn responder() -> &'static Responder {
    static R: OnceLock<Responder> = OnceLock::new();
    R.get_or_init(|| {
        let key = ReceiverKey::combine(&[share().receiver_key_share(&HashedId::of(BOB))])
            .unwrap_or_else(|e| panic!("fixed key: {e}"));
        Responder::new(BOB, &key).unwrap_or_else(|e| panic!("responder: {e}"))
    })
}

/// Alice's sender key.
pub fn alice_key() -> &'static SenderKey {
    static K: OnceLock<SenderKey> = OnceLock::new();
    K.get_or_init(|| {
        SenderKey::combine(&[share().sender_key_share(&HashedId::of(ALICE))])
            .unwrap_or_else(|e| panic!("fixed key: {e}"))
    })
}
