//! A whole server run on arbitrary bytes (one shared context with a real server secret; see
//! `mpin_kex_fuzz::context`). Mode byte even: multi-pass, `be16(hello_len) ‖ hello ‖ response`;
//! odd: one-pass hello. Nothing may panic, whatever the outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpin_kex::{Hello, OnePassHello, Response, Server};
use mpin_kex_fuzz::{context, FixedRng, NOW, SERVER_RNG_SEED};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut rng = FixedRng::new(SERVER_RNG_SEED);
    let mut server = Server::new(context().clone());
    if mode % 2 == 0 {
        if rest.len() < 2 {
            return;
        }
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let rest = &rest[2..];
        let (hello, response) = rest.split_at(n.min(rest.len()));
        let Ok(hello) = Hello::decode(hello) else {
            return;
        };
        if server.hello(&hello, NOW, &mut rng).is_err() {
            assert!(server.response(&Response { v: [0; 97] }, NOW).is_err());
            return;
        }
        // Out of order: a second hello is refused.
        assert!(server.hello(&hello, NOW, &mut rng).is_err());
        let Ok(response) = Response::decode(response) else {
            return;
        };
        if let Ok(session) = server.response(&response, NOW) {
            assert_eq!(session.identity, hello.identity);
            assert_eq!(session.day, hello.day);
        }
        // The run is over either way.
        assert!(server.response(&response, NOW).is_err());
    } else {
        let Ok(hello) = OnePassHello::decode(rest) else {
            return;
        };
        if let Ok((_reply, session)) = server.one_pass(&hello, NOW, &mut rng) {
            assert_eq!(session.identity, hello.identity);
            assert_eq!(session.message, hello.message);
        }
        assert!(server.one_pass(&hello, NOW, &mut rng).is_err());
    }
});
