//! Stable-toolchain stand-in for the `p2p_server_connection` fuzz target: a genuine HELLO or
//! REPLY with one byte changed, or cut short, never panics either side, and every refusal by
//! the responder is the one FAILURE frame.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod p2p_common;

use std::sync::Arc;

use milagro_tls::mpin::{Handshake, MpinError};
use milagro_tls::p2p::{P2pClientConnection, P2pServerConnection};
use p2p_common::*;
use proptest::prelude::*;

fn world() -> &'static (
    Dtas,
    Arc<milagro_tls::p2p::P2pClientConfig>,
    Arc<milagro_tls::p2p::P2pServerConfig>,
) {
    static W: std::sync::OnceLock<(
        Dtas,
        Arc<milagro_tls::p2p::P2pClientConfig>,
        Arc<milagro_tls::p2p::P2pServerConfig>,
    )> = std::sync::OnceLock::new();
    W.get_or_init(|| {
        let d = Dtas::new();
        let (c, s) = (Arc::new(d.client(ALICE, BOB)), Arc::new(d.server(BOB)));
        (d, c, s)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn mutated_hello_never_panics_and_refusals_are_one_failure_frame(
        pos in 0usize..200, xor in 1u8..=255, cut in 1usize..200,
    ) {
        let (_, ccfg, scfg) = world();
        let mut c = P2pClientConnection::new(ccfg.clone()).unwrap();
        let mut s = P2pServerConnection::new(scfg.clone(), None);
        settle(&mut c).unwrap();
        let mut first = c.take_output();
        let p = pos % first.len();
        first[p] ^= xor;
        first.truncate(cut.max(1).min(first.len()));
        s.read_input(&first);
        match settle(&mut s) {
            Ok(_) => prop_assert!(!s.refused()),
            Err(MpinError::Version(_) | MpinError::UnknownProtocol(_)) => {
                prop_assert!(s.take_output().is_empty(), "another protocol gets no frame");
            }
            Err(_) => {
                prop_assert!(s.refused());
                prop_assert_eq!(s.take_output(), vec![0x7f, 0, 0, 0]);
            }
        }
        let _ = s.read_eof();
    }

    #[test]
    fn mutated_reply_never_panics_the_initiator(pos in 0usize..400, xor in 1u8..=255) {
        let (_, ccfg, scfg) = world();
        let mut c = P2pClientConnection::new(ccfg.clone()).unwrap();
        let mut s = P2pServerConnection::new(scfg.clone(), None);
        settle(&mut c).unwrap();
        s.read_input(&c.take_output());
        settle(&mut s).unwrap();
        let mut reply = s.take_output();
        let p = pos % reply.len();
        reply[p] ^= xor;
        c.read_input(&reply);
        let r = settle(&mut c);
        // the initiator goes on (its ClientHello) only on a valid REPLY; it waits for more
        // bytes only when the change made the frame's length header longer
        if r.is_ok() && c.take_output().is_empty() {
            prop_assert!((1..4).contains(&p), "stalled after a change at {p}");
        }
        let _ = c.read_eof();
    }
}
