//! WCC on arbitrary bytes (fixed P2P master share, see below). Mode byte `% 4`:
//! 0: `P2pHello::decode`, 1: `P2pReply::decode` (a success must re-encode to the input);
//! 2: a whole responder run (Bob) on a hello; 3: an initiator run (Alice dialling Bob) fed an
//! arbitrary reply. Nothing may panic; a session names the identities the messages carried.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mpin_kex::wcc::{Initiator, P2pHello, P2pMasterShare, P2pReply, Responder, SenderKey};
use mpin_kex::HashedId;
use mpin_kex_fuzz::{FixedRng, SERVER_RNG_SEED};

const ALICE: &[u8] = b"device:alice";
const BOB: &[u8] = b"device:bob";

fn share() -> &'static P2pMasterShare {
    static S: OnceLock<P2pMasterShare> = OnceLock::new();
    S.get_or_init(|| {
        let mut b = P2pMasterShare::PREFIX.to_vec();
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&[0x5a; 32]);
        P2pMasterShare::from_bytes(&b).unwrap_or_else(|e| panic!("fixed share: {e}"))
    })
}

fn responder() -> &'static Responder {
    static R: OnceLock<Responder> = OnceLock::new();
    R.get_or_init(|| {
        let key =
            mpin_kex::wcc::ReceiverKey::combine(&[share().receiver_key_share(&HashedId::of(BOB))])
                .unwrap_or_else(|e| panic!("fixed key: {e}"));
        Responder::new(BOB, &key).unwrap_or_else(|e| panic!("responder: {e}"))
    })
}

fn alice_key() -> &'static SenderKey {
    static K: OnceLock<SenderKey> = OnceLock::new();
    K.get_or_init(|| {
        SenderKey::combine(&[share().sender_key_share(&HashedId::of(ALICE))])
            .unwrap_or_else(|e| panic!("fixed key: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut rng = FixedRng::new(SERVER_RNG_SEED);
    match mode % 4 {
        0 => {
            if let Ok(h) = P2pHello::decode(rest) {
                assert_eq!(h.encode(), rest);
            }
        }
        1 => {
            if let Ok(r) = P2pReply::decode(rest) {
                assert_eq!(r.encode(), rest);
            }
        }
        2 => {
            let Ok(hello) = P2pHello::decode(rest) else {
                return;
            };
            if let Ok((reply, session)) = responder().respond(&hello, &mut rng) {
                assert_eq!(session.initiator, hello.initiator);
                assert_eq!(session.responder, BOB);
                assert_eq!(P2pReply::decode(&reply.encode()).ok(), Some(reply));
            }
        }
        _ => {
            let Ok(reply) = P2pReply::decode(rest) else {
                return;
            };
            let Ok(mut a) = Initiator::new(ALICE, alice_key(), None, BOB) else {
                return;
            };
            if a.hello(&mut rng).is_err() {
                return;
            }
            if let Ok(session) = a.reply(&reply) {
                assert_eq!(session.responder, reply.responder);
            }
            assert!(a.reply(&reply).is_err(), "single use");
        }
    }
});
