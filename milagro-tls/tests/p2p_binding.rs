//! The P2P channel in memory: exchanges that pass every WCC check but must fail in TLS,
//! because the PSK binder (initiator's key) or the server Finished (responder's) cannot match:
//! impostors, N−1-share keys, foreign permits, spliced sessions, altered session ids or days.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod p2p_common;

use std::sync::Arc;

use milagro_tls::mpin::frame::FrameType;
use milagro_tls::mpin::{Handshake, MpinError};
use milagro_tls::p2p::PREFACE;
use milagro_tls::{AlertDescription, Error};
use p2p_common::*;

/// The responder's error for a PSK binder made with another key.
fn bad_binder(e: &MpinError) -> bool {
    matches!(e, MpinError::Tls(Error::BadPskBinder))
}

/// The initiator's error on the responder's `decrypt_error` alert.
fn got_decrypt_error(e: &MpinError) -> bool {
    matches!(
        e,
        MpinError::Tls(Error::AlertReceived(AlertDescription::DecryptError))
    )
}

/// A link that gets through the WCC exchange but must fail in TLS: the responder on the bad
/// binder (`decrypt_error`), the initiator on the alert; neither is established.
fn fails_in_tls(
    client: milagro_tls::p2p::P2pClientConfig,
    server: milagro_tls::p2p::P2pServerConfig,
) {
    let (mut c, mut s) = conns(client, server);
    let (rc, rs) = pump(&mut c, &mut s, |_, b| b);
    let es = rs.unwrap_err();
    assert!(bad_binder(&es), "responder: {es:?}");
    assert!(
        !s.refused(),
        "a binder failure is a TLS alert, not the WCC failure frame"
    );
    let ec = rc.unwrap_err();
    assert!(got_decrypt_error(&ec), "initiator: {ec:?}");
    assert!(c.into_parts().is_none() && s.into_parts().is_none());
}

#[test]
fn a_device_cannot_claim_another_identity() {
    let d = Dtas::new();
    // mallory's own key and permit, claiming to be alice
    let mut client = d.client(ALICE, BOB);
    client.key = d.sender_key(CAROL, 3);
    client.permit = Some(d.sender_permit(CAROL, DAY));
    fails_in_tls(client, d.server(BOB));
    // and a responder holding carol's keys cannot answer as bob
    let mut server = d.server(BOB);
    let bob_named_carol = {
        let h = mpin_kex::HashedId::of(CAROL);
        let k: Vec<_> = d.0.iter().map(|m| m.receiver_key_share(&h)).collect();
        let key = mpin_kex::wcc::ReceiverKey::combine(&k).unwrap();
        let hb = mpin_kex::HashedId::of(CAROL);
        let p: Vec<_> =
            d.0.iter()
                .map(|m| m.receiver_permit_share(&hb, DAY).unwrap())
                .collect();
        mpin_kex::wcc::Responder::new(BOB, &key)
            .unwrap()
            .with_permits(&[mpin_kex::wcc::ReceiverPermit::combine(&p).unwrap()], true)
            .unwrap()
    };
    server.responder = Some(Arc::new(bob_named_carol));
    fails_in_tls(d.client(ALICE, BOB), server);
}

#[test]
fn a_key_from_n_minus_1_shares_fails() {
    let d = Dtas::new();
    let mut client = d.client(ALICE, BOB);
    client.key = d.sender_key(ALICE, 2);
    fails_in_tls(client, d.server(BOB));
}

#[test]
fn a_permit_of_another_identity_fails() {
    let d = Dtas::new();
    let mut client = d.client(ALICE, BOB);
    client.permit = Some(d.sender_permit(CAROL, DAY));
    fails_in_tls(client, d.server(BOB));
}

#[test]
fn a_relay_splicing_two_sessions_fails() {
    let d = Dtas::new();
    // two initiators (alice twice) to bob; the relay crosses the replies and the TLS flights
    let (mut c1, mut s1) = conns(d.client(ALICE, BOB), d.server(BOB));
    let (mut c2, mut s2) = conns(d.client(ALICE, BOB), d.server(BOB));
    for (c, s) in [(&mut c1, &mut s1), (&mut c2, &mut s2)] {
        assert!(!settle(c).unwrap());
        s.read_input(&c.take_output());
        assert!(!settle(s).unwrap());
    }
    // each initiator gets the other session's REPLY (valid points, right identity)
    let (r1, r2) = (s1.take_output(), s2.take_output());
    c1.read_input(&r2);
    c2.read_input(&r1);
    assert!(!settle(&mut c1).unwrap());
    assert!(!settle(&mut c2).unwrap());
    // their ClientHellos go to the server whose REPLY they used, and to the other one
    let (h1, h2) = (c1.take_output(), c2.take_output());
    s2.read_input(&h1);
    s1.read_input(&h2);
    // s2 gets a binder made with c1's key for session 2's PSK identity: decrypt_error;
    // s1 gets c2's ClientHello offering session 2's PSK identity, unknown to it
    for s in [s1, s2] {
        let mut s = s;
        let e = settle(&mut s).unwrap_err();
        assert!(matches!(e, MpinError::Tls(_)), "{e:?}");
        assert!(s.into_parts().is_none());
    }
}

#[test]
fn a_changed_session_id_or_transcript_fails_in_tls() {
    let d = Dtas::new();
    // the session id is the imported PSK's identity: a relay changing it gets nowhere
    let (mut c, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    let (rc, rs) = pump(&mut c, &mut s, |dir, b| {
        if dir == Dir::ToClient && b.first() == Some(&(FrameType::P2pReply as u8)) {
            let mut r = reply_of(&b);
            r.session_id[0] ^= 1;
            with_reply(&r)
        } else {
            b
        }
    });
    assert!(matches!(rs, Err(MpinError::Tls(_))), "{rs:?}");
    assert!(matches!(rc, Err(MpinError::Tls(_))), "{rc:?}");
    // the day in the HELLO is in the transcript and the WCC math: a responder holding
    // permits for both days computes another key when a relay rewrites it
    let mut server = d.server(BOB);
    server.permit_grace_secs = 86_400;
    let both = {
        let h = mpin_kex::HashedId::of(BOB);
        let k: Vec<_> = d.0.iter().map(|m| m.receiver_key_share(&h)).collect();
        let permits: Vec<_> = [DAY - 1, DAY]
            .iter()
            .map(|&day| {
                let p: Vec<_> =
                    d.0.iter()
                        .map(|m| m.receiver_permit_share(&h, day).unwrap())
                        .collect();
                mpin_kex::wcc::ReceiverPermit::combine(&p).unwrap()
            })
            .collect();
        mpin_kex::wcc::Responder::new(BOB, &mpin_kex::wcc::ReceiverKey::combine(&k).unwrap())
            .unwrap()
            .with_permits(&permits, true)
            .unwrap()
    };
    server.responder = Some(Arc::new(both));
    let (mut c, mut s) = conns(d.client(ALICE, BOB), server);
    let (rc, rs) = pump(&mut c, &mut s, |dir, b| {
        if dir == Dir::ToServer && b.starts_with(&PREFACE) {
            let mut h = hello_of(&b);
            h.day = DAY - 1;
            with_hello(&h)
        } else {
            b
        }
    });
    assert!(
        matches!(rs, Err(MpinError::Tls(Error::BadPskBinder))),
        "{rs:?}"
    );
    assert!(rc.is_err(), "{rc:?}");
}
