//! WCC on arbitrary bytes (fixed P2P master share, `mpin_kex_fuzz::wcc`). Mode byte `% 4`:
//! 0: `P2pHello::decode`, 1: `P2pReply::decode` (a success must re-encode to the input);
//! 2: a whole responder run (Bob) on a hello; 3: an initiator run (Alice dialling Bob) fed an
//! arbitrary reply. Nothing may panic; a session names the identities the messages carried.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpin_kex::wcc::{Initiator, P2pHello, P2pReply};
use mpin_kex_fuzz::wcc::{alice_key, responder, ALICE, BOB};
use mpin_kex_fuzz::{FixedRng, SERVER_RNG_SEED};

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
