//! The P2P channel in memory (no sockets, no runtime): the sans-IO initiator and responder
//! pumped into each other with their jobs run inline, so `pairings_on_this_thread` counts
//! every pairing either side computes. Links, both identities, every refusal of P2P-SPEC §12
//! before any pairing, impostors and spliced sessions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod p2p_common;

use std::sync::Arc;

use milagro_tls::mpin::frame::{self, FrameType};
use milagro_tls::mpin::{Handshake, MpinError, Peer, Status};
use milagro_tls::p2p::{P2pClientConnection, P2pServerConnection, PREFACE};
use milagro_tls::{AlertDescription, Error};
use mpin_kex::pairings_on_this_thread;
use mpin_kex::wcc::{P2pHello, P2pReply, WccError};
use p2p_common::*;

fn conns(
    client: milagro_tls::p2p::P2pClientConfig,
    server: milagro_tls::p2p::P2pServerConfig,
) -> (P2pClientConnection, P2pServerConnection) {
    (
        P2pClientConnection::new(Arc::new(client)).unwrap(),
        P2pServerConnection::new(Arc::new(server), None),
    )
}

/// Splits the initiator's first flight into the preface and the HELLO body.
fn hello_of(bytes: &[u8]) -> P2pHello {
    assert_eq!(&bytes[..5], &PREFACE);
    P2pHello::decode(&bytes[9..]).unwrap()
}

fn with_hello(hello: &P2pHello) -> Vec<u8> {
    let mut v = PREFACE.to_vec();
    v.extend_from_slice(&frame::encode(FrameType::P2pHello, &hello.encode()));
    v
}

fn reply_of(bytes: &[u8]) -> P2pReply {
    assert_eq!(bytes[0], FrameType::P2pReply as u8);
    P2pReply::decode(&bytes[4..]).unwrap()
}

fn with_reply(reply: &P2pReply) -> Vec<u8> {
    frame::encode(FrameType::P2pReply, &reply.encode())
}

fn is_failure_frame(bytes: &[u8]) -> bool {
    bytes == [0x7f, 0, 0, 0]
}

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

#[test]
fn link_carries_data_both_ways_and_both_sides_learn_both_identities() {
    let d = Dtas::new();
    let (mut c, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    let before = pairings_on_this_thread();
    let (rc, rs) = pump(&mut c, &mut s, |_, b| b);
    assert!(rc.unwrap() && rs.unwrap());
    // the counter the refusal tests rely on sees both sides' pairing work
    assert!(pairings_on_this_thread() >= before + 2);
    let (mut ct, cp) = c.into_parts().unwrap();
    let (mut st, sp) = s.into_parts().unwrap();
    let want = Peer::P2p {
        initiator: ALICE.to_vec(),
        responder: BOB.to_vec(),
        day: DAY,
    };
    assert_eq!(cp, want);
    assert_eq!(sp, want);
    assert_eq!(sp.identity(), ALICE);
    // exactly one PSK offered and used: the imported one, in a full handshake
    assert_eq!(ct.psk_identity(), st.psk_identity());
    assert!(!st.resumed());
    ct.write_plaintext(b"ping from alice").unwrap();
    st.read_tls(&ct.take_tls());
    st.process_new_packets().unwrap();
    let mut buf = [0u8; 64];
    let n = st.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"ping from alice");
    st.write_plaintext(b"pong from bob").unwrap();
    ct.read_tls(&st.take_tls());
    ct.process_new_packets().unwrap();
    let n = ct.read_plaintext(&mut buf);
    assert_eq!(&buf[..n], b"pong from bob");
}

#[test]
fn link_without_permits_on_day_zero() {
    let d = Dtas::new();
    let mut client = d.client(ALICE, BOB);
    client.permit = None;
    let mut server = d.server(BOB);
    server.responder = Some(d.responder(BOB, None));
    let (mut c, mut s) = conns(client, server);
    let (rc, rs) = pump(&mut c, &mut s, |_, b| b);
    assert!(rc.unwrap() && rs.unwrap());
    let (_, peer) = s.into_parts().unwrap();
    assert!(matches!(peer, Peer::P2p { day: 0, .. }));
}

/// Pumps a link whose first flight (HELLO) `f` rewrites; the responder must refuse it with
/// the one FAILURE frame and no pairing, the initiator see [`MpinError::PeerRefused`].
fn refused_before_pairing(
    client: milagro_tls::p2p::P2pClientConfig,
    server: milagro_tls::p2p::P2pServerConfig,
    mut f: impl FnMut(Vec<u8>) -> Vec<u8>,
) -> MpinError {
    let (mut c, mut s) = conns(client, server);
    assert!(!settle(&mut c).unwrap());
    let hello = f(c.take_output());
    s.read_input(&hello);
    let before = pairings_on_this_thread();
    let err = settle(&mut s).unwrap_err();
    assert_eq!(
        pairings_on_this_thread(),
        before,
        "{err}: a pairing before the refusal"
    );
    assert!(s.refused());
    let out = s.take_output();
    assert!(
        is_failure_frame(&out),
        "one opaque FAILURE frame, got {out:02x?}"
    );
    c.read_input(&out);
    assert!(matches!(settle(&mut c), Err(MpinError::PeerRefused)));
    err
}

#[test]
fn responder_refuses_a_hello_for_another_identity() {
    let d = Dtas::new();
    let e = refused_before_pairing(d.client(ALICE, CAROL), d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::NotForMe)), "{e}");
}

#[test]
fn responder_refuses_an_initiator_outside_its_allow_list() {
    let d = Dtas::new();
    let mut server = d.server(BOB);
    server.allow = Some(Arc::new(|id: &[u8]| id == CAROL));
    let e = refused_before_pairing(d.client(ALICE, BOB), server, |b| b);
    assert!(
        matches!(e, MpinError::PeerNotAllowed(ref who) if who == "device:alice"),
        "{e}"
    );
}

#[test]
fn selfie_refused_on_both_sides() {
    let d = Dtas::new();
    // the initiator will not dial itself
    let cfg = d.client(ALICE, ALICE);
    assert!(matches!(
        P2pClientConnection::new(Arc::new(cfg)),
        Err(MpinError::Wcc(WccError::SelfPeer))
    ));
    // the responder refuses a HELLO claiming its own identity as the initiator
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut h = hello_of(&b);
        h.initiator = BOB.to_vec();
        with_hello(&h)
    });
    assert!(matches!(e, MpinError::Wcc(WccError::SelfPeer)), "{e}");
    // the initiator refuses a REPLY reflecting its own identity, before any pairing
    let e = reply_rewritten(&d, |r| r.responder = ALICE.to_vec());
    assert!(matches!(e, MpinError::Wcc(WccError::SelfPeer)), "{e}");
}

/// A genuine exchange whose REPLY is rewritten by `f`: the initiator's error, which must come
/// before any pairing on its side.
fn reply_rewritten(d: &Dtas, f: impl FnOnce(&mut P2pReply)) -> MpinError {
    let mut server = d.server(BOB);
    server.responder = Some(d.responder(BOB, Some(DAY)));
    let mut carol = d.server(CAROL);
    carol.responder = Some(d.responder(CAROL, Some(DAY)));
    let (mut c, mut s) = conns(d.client(ALICE, BOB), server);
    assert!(!settle(&mut c).unwrap());
    s.read_input(&c.take_output());
    assert!(!settle(&mut s).unwrap());
    let mut reply = reply_of(&s.take_output());
    f(&mut reply);
    c.read_input(&with_reply(&reply));
    let before = pairings_on_this_thread();
    let e = settle(&mut c).unwrap_err();
    assert_eq!(
        pairings_on_this_thread(),
        before,
        "{e}: a pairing before the refusal"
    );
    assert!(
        c.take_output().is_empty(),
        "the initiator sends nothing on a refusal"
    );
    e
}

#[test]
fn initiator_refuses_a_reply_from_another_identity() {
    let d = Dtas::new();
    let e = reply_rewritten(&d, |r| r.responder = CAROL.to_vec());
    assert!(matches!(e, MpinError::Wcc(WccError::WrongPeer)), "{e}");
    // a genuine carol answering a hello re-addressed to her is refused just the same
    let (mut c, mut s) = conns(d.client(ALICE, BOB), d.server(CAROL));
    assert!(!settle(&mut c).unwrap());
    let mut h = hello_of(&c.take_output());
    h.responder = CAROL.to_vec();
    s.read_input(&with_hello(&h));
    assert!(!settle(&mut s).unwrap(), "carol answers a hello for carol");
    c.read_input(&s.take_output());
    let before = pairings_on_this_thread();
    assert!(matches!(
        settle(&mut c),
        Err(MpinError::Wcc(WccError::WrongPeer))
    ));
    assert_eq!(pairings_on_this_thread(), before);
}

#[test]
fn invalid_points_refused_before_any_pairing() {
    let d = Dtas::new();
    let g1_infinity = {
        let mut p = [0u8; 97];
        p[0] = 0x40;
        p
    };
    // PaG1: off the curve, the identity, not canonical
    for (name, mutate) in [
        (
            "flipped",
            Box::new(|h: &mut P2pHello| h.pa[50] ^= 1) as Box<dyn Fn(&mut P2pHello)>,
        ),
        (
            "infinity",
            Box::new(move |h: &mut P2pHello| h.pa = g1_infinity),
        ),
        ("prefix", Box::new(|h: &mut P2pHello| h.pa[0] = 0x05)),
    ] {
        let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
            let mut h = hello_of(&b);
            mutate(&mut h);
            with_hello(&h)
        });
        assert!(
            matches!(e, MpinError::Wcc(WccError::Decode(_))),
            "PaG1 {name}: {e}"
        );
    }
    // PbG2, PgG1 in the REPLY
    let e = reply_rewritten(&d, |r| r.pb[100] ^= 1);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PbG2: {e}"
    );
    let e = reply_rewritten(&d, |r| r.pg[60] ^= 1);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PgG1: {e}"
    );
    let e = reply_rewritten(&d, |r| r.pg = g1_infinity);
    assert!(
        matches!(e, MpinError::Wcc(WccError::Decode(_))),
        "PgG1 infinity: {e}"
    );
}

#[test]
fn malformed_frames_refused_before_any_pairing() {
    let d = Dtas::new();
    // trailing byte inside the HELLO frame
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut body = hello_of(&b).encode();
        body.push(0);
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&frame::encode(FrameType::P2pHello, &body));
        v
    });
    assert!(matches!(e, MpinError::Wcc(WccError::Decode(_))), "{e}");
    // a frame longer than any message: refused from its header
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |_| {
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&[0x11, 0xff, 0xff, 0xff]);
        v
    });
    assert!(matches!(e, MpinError::Protocol(_)), "{e}");
    // another frame type where the HELLO belongs
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut v = b;
        v[5] = FrameType::P2pReply as u8;
        v
    });
    assert!(matches!(e, MpinError::Protocol(_)), "{e}");
    // an empty identity
    let e = refused_before_pairing(d.client(ALICE, BOB), d.server(BOB), |b| {
        let mut h = hello_of(&b);
        h.initiator.clear();
        with_hello(&h)
    });
    assert!(matches!(e, MpinError::Wcc(WccError::Decode(_))), "{e}");
    // another channel version: refused without a failure frame (it speaks another protocol)
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(b"MP2P\x02");
    assert!(matches!(s.process(), Err(MpinError::Version(2))));
    // garbage first bytes
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(b"GET / HTTP/1.1\r\n");
    assert!(matches!(s.process(), Err(MpinError::UnknownProtocol(b'G'))));
    // a TLS record on a P2P-only listener
    let (_, mut s) = conns(d.client(ALICE, BOB), d.server(BOB));
    s.read_input(&[0x16, 3, 1, 0, 5]);
    assert!(matches!(s.process(), Err(MpinError::UnknownProtocol(0x16))));
}

#[test]
fn permit_policy_before_any_pairing() {
    let d = Dtas::new();
    // permits required, none offered
    let mut client = d.client(ALICE, BOB);
    client.permit = None;
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::PermitRequired)), "{e}");
    // yesterday's permit two hours into the day (a device revoked since): refused
    let mut client = d.client(ALICE, BOB);
    client.permit = Some(d.sender_permit(ALICE, DAY - 1));
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(
        matches!(e, MpinError::Wcc(WccError::PermitDay(day)) if day == DAY - 1),
        "{e}"
    );
    // tomorrow's permit: refused too
    let mut client = d.client(ALICE, BOB);
    client.permit = Some(d.sender_permit(ALICE, DAY + 1));
    let e = refused_before_pairing(client, d.server(BOB), |b| b);
    assert!(matches!(e, MpinError::Wcc(WccError::PermitDay(_))), "{e}");
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

#[test]
fn a_job_output_fed_to_another_connection_is_refused() {
    let d = Dtas::new();
    let (mut c1, _) = conns(d.client(ALICE, BOB), d.server(BOB));
    let (mut c2, _) = conns(d.client(ALICE, BOB), d.server(BOB));
    let Status::Compute(j1) = c1.process().unwrap() else {
        panic!("first step is the hello job")
    };
    let Status::Compute(_j2) = c2.process().unwrap() else {
        panic!("first step is the hello job")
    };
    assert!(matches!(c2.complete(j1.run()), Err(MpinError::Internal(_))));
}
